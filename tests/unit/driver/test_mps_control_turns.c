/* Unit tests of how the control-program client shares a daemon with other clients: a query that
 * the daemon turns away as busy is asked again within its deadline, a query waits its turn on the
 * pipe folder's flock (and runs without it once the turn's own wait is spent), and a daemon that
 * stays busy ends the query at the deadline with -EBUSY. The control program here is a shell
 * script that plays the busy daemon and records what it saw. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/flock_wait.h"
#include "driver/mps_control.h"

struct fixture {
        char dir[256];
        char pipe_dir[300];
        char program[300];
        char count_file[300];
        struct mps_endpoint ep;
};

/* The fake program: the first `busy_times` invocations print the busy refusal (exit 1), later
 * ones answer "42". Each appends a line to `count`: "locked" when it could not take the pipe
 * folder's flock itself (so its caller held the turn), "free" otherwise. */
static void write_program(struct fixture *f, int busy_times)
{
        FILE *file = fopen(f->program, "we");
        assert_non_null(file);
        fprintf(
            file,
            "#!/bin/sh\n"
            "if flock -n \"$CUDA_MPS_PIPE_DIRECTORY\" true; then turn=free; else turn=locked; fi\n"
            "echo $turn >> '%s'\n"
            "n=$(wc -l < '%s')\n"
            "if [ \"$n\" -le %d ]; then\n"
            "  echo '%s' >&2\n"
            "  exit 1\n"
            "fi\n"
            "echo 42\n",
            f->count_file, f->count_file, busy_times, MPS_TEXT_BUSY);
        assert_int_equal(fclose(file), 0);
        assert_int_equal(chmod(f->program, 0755), 0);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof(f->dir), "%s/mpsturns.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(f->dir)) {
                free(f);
                return -1;
        }
        snprintf(f->pipe_dir, sizeof(f->pipe_dir), "%s/pipe", f->dir);
        snprintf(f->program, sizeof(f->program), "%s/control", f->dir);
        snprintf(f->count_file, sizeof(f->count_file), "%s/count", f->dir);
        if (mkdir(f->pipe_dir, 0755) < 0) {
                free(f);
                return -1;
        }
        f->ep = (struct mps_endpoint){.program = f->program, .pipe_dir = f->pipe_dir};
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        (void)unlink(f->program);
        (void)unlink(f->count_file);
        (void)rmdir(f->pipe_dir);
        int r = rmdir(f->dir);
        free(f);
        return r;
}

/* The lines the fake program appended, one string. */
static void read_count(const struct fixture *f, char *buffer, size_t size)
{
        buffer[0] = '\0';
        FILE *file = fopen(f->count_file, "re");
        if (!file)
                return;
        size_t n = fread(buffer, 1, size - 1, file);
        buffer[n] = '\0';
        fclose(file);
}

static void test_busy_is_asked_again(void **state)
{
        struct fixture *f = *state;
        write_program(f, 3);
        char *output = NULL;
        size_t size;
        int status;
        struct error err = {0};
        assert_int_equal(
            mps_control_run(&f->ep, "get_server_list\n", 5000, &output, &size, &status, &err), 0);
        assert_string_equal(output, "42\n");
        assert_int_equal(status, 0);
        free(output);
        char seen[256];
        read_count(f, seen, sizeof(seen));
        /* Four invocations, each in the query's turn. */
        assert_string_equal(seen, "locked\nlocked\nlocked\nlocked\n");
}

static void test_busy_until_the_deadline(void **state)
{
        struct fixture *f = *state;
        write_program(f, 1000000);
        char *output = NULL;
        size_t size;
        int status;
        struct error err = {0};
        long long began = monotonic_now_ms();
        assert_int_equal(mps_control_run(&f->ep, "ps\n", 600, &output, &size, &status, &err),
                         -EBUSY);
        long long spent = monotonic_now_ms() - began;
        assert_true(spent >= 600);
        assert_true(spent < 5000);
        assert_non_null(strstr(err.message, "busy with other control clients"));
        assert_non_null(strstr(err.message, f->pipe_dir));
        char seen[65536];
        read_count(f, seen, sizeof(seen));
        /* Asked more than once, with pauses in between: not a spin. */
        size_t lines = 0;
        for (const char *p = seen; *p; p++)
                lines += *p == '\n';
        assert_true(lines >= 2);
        assert_true(lines < 150);
}

struct holder {
        int fd;
        long delay_ms;
};

static void *release_later(void *data)
{
        struct holder *holder = data;
        struct timespec pause = {0, holder->delay_ms * 1000000L};
        (void)nanosleep(&pause, NULL);
        (void)close(holder->fd);
        return NULL;
}

static void test_waits_for_its_turn(void **state)
{
        struct fixture *f = *state;
        write_program(f, 0);
        /* Another client's turn, given back after 150 ms. */
        struct holder holder = {.fd = open(f->pipe_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                                .delay_ms = 150};
        assert_true(holder.fd >= 0);
        assert_int_equal(flock(holder.fd, LOCK_EX), 0);
        pthread_t thread;
        assert_int_equal(pthread_create(&thread, NULL, release_later, &holder), 0);
        char *output = NULL;
        size_t size;
        int status;
        struct error err = {0};
        long long began = monotonic_now_ms();
        assert_int_equal(mps_control_run(&f->ep, "ps\n", 5000, &output, &size, &status, &err), 0);
        long long spent = monotonic_now_ms() - began;
        assert_int_equal(pthread_join(thread, NULL), 0);
        free(output);
        assert_true(spent >= 150);
        char seen[256];
        read_count(f, seen, sizeof(seen));
        assert_string_equal(seen, "locked\n");
}

static void test_runs_without_a_turn_that_never_comes(void **state)
{
        struct fixture *f = *state;
        write_program(f, 0);
        /* A holder that never lets go (another user): the query runs once the turn's 300 ms
         * wait is spent, without the turn, and still gets its whole timeout to be answered. */
        f->ep.turn_wait_ms = 300;
        int fd = open(f->pipe_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX), 0);
        char *output = NULL;
        size_t size;
        int status;
        struct error err = {0};
        long long began = monotonic_now_ms();
        int r = mps_control_run(&f->ep, "ps\n", 5000, &output, &size, &status, &err);
        long long spent = monotonic_now_ms() - began;
        (void)close(fd);
        assert_int_equal(r, 0);
        assert_string_equal(output, "42\n");
        free(output);
        assert_true(spent >= 300);
        char seen[256];
        read_count(f, seen, sizeof(seen));
        assert_string_equal(seen, "locked\n"); /* the holder's lock, not ours */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_busy_is_asked_again, setup, teardown),
            cmocka_unit_test_setup_teardown(test_busy_until_the_deadline, setup, teardown),
            cmocka_unit_test_setup_teardown(test_waits_for_its_turn, setup, teardown),
            cmocka_unit_test_setup_teardown(test_runs_without_a_turn_that_never_comes, setup,
                                            teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
