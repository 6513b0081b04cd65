/* Unit tests of a child started without waiting: watched in the test's own poll loop, its output
 * taken as it comes, stdout to /dev/null, a process group of its own, signalled and reaped, no
 * deadline unless asked, and released (killed and reaped) when dropped while it runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/flock_wait.h"
#include "base/spawn.h"

static char *empty_env[] = {NULL};

static int start_sh(const char *script, const char *input, int timeout_ms, bool null_out,
                    bool group, struct spawn_child *child)
{
        char *argv[] = {"sh", "-c", (char *)script, NULL};
        struct spawn_options o = {
            .path = "/bin/sh",
            .argv = argv,
            .envp = empty_env,
            .stdin_data = input,
            .stdin_size = input ? strlen(input) : 0,
            .timeout_ms = timeout_ms,
            .grace_ms = 200,
            .stdout_to_null = null_out,
            .own_process_group = group,
        };
        struct error err = {0};
        int r = spawn_start(&o, child, &err);
        if (r < 0)
                print_error("spawn_start: %s\n", err.message);
        return r;
}

/* Drives the child in a poll loop of the test's own until it is reaped or `limit_ms` passes;
 * returns the last step's value. */
static int drive(struct spawn_child *child, int limit_ms)
{
        long long end = monotonic_now_ms() + limit_ms;
        int r;
        while ((r = spawn_child_step(child)) == 0 && monotonic_now_ms() < end) {
                struct pollfd fds[SPAWN_CHILD_POLLFDS];
                nfds_t n = spawn_child_pollfds(child, fds);
                long long wakeup = spawn_child_wakeup_ms(child);
                long long left = (wakeup ? wakeup : end) - monotonic_now_ms();
                if (left > end - monotonic_now_ms())
                        left = end - monotonic_now_ms();
                (void)poll(fds, n, left > 0 ? (int)left : 0);
        }
        return r;
}

static void test_watched_in_own_loop(void **state)
{
        (void)state;
        struct spawn_child child = {0};
        assert_int_equal(start_sh("read line; echo got $line; echo oops >&2; exit 4", "x\n", 0,
                                  false, false, &child),
                         0);
        assert_true(child.pid > 0);
        assert_int_equal(child.deadline_ms, 0); /* no deadline asked */
        assert_int_equal(drive(&child, 5000), 1);
        struct spawn_result result;
        assert_int_equal(spawn_child_result(&child, &result), 0);
        assert_true(result.exited);
        assert_int_equal(result.exit_status, 4);
        assert_string_equal(result.out, "got x\n");
        assert_string_equal(result.err, "oops\n");
        spawn_result_done(&result);
        spawn_child_done(&child);
        assert_int_equal(child.pid, 0);
        spawn_child_done(&child); /* idempotent */
}

static void test_stdout_to_null_and_group(void **state)
{
        (void)state;
        struct spawn_child child = {0};
        assert_int_equal(
            start_sh("echo hidden; echo shown >&2; exec sleep 30", NULL, 0, true, true, &child), 0);
        assert_int_equal(child.out.fd, -1);
        /* Its process group is its own, not ours. */
        long long end = monotonic_now_ms() + 5000;
        while (getpgid(child.pid) != child.pid && monotonic_now_ms() < end)
                usleep(1000);
        assert_int_equal(getpgid(child.pid), child.pid);
        assert_int_not_equal(getpgid(child.pid), getpgrp());
        /* stderr taken while it runs, then nothing more until it writes again. */
        char *text = NULL;
        size_t size = 0;
        while (!text && monotonic_now_ms() < end) {
                assert_int_equal(drive(&child, 50), 0);
                text = spawn_stream_take(&child.err, &size);
        }
        assert_non_null(text);
        assert_string_equal(text, "shown\n");
        assert_int_equal(size, 6);
        free(text);
        assert_null(spawn_stream_take(&child.err, &size));
        assert_int_equal(size, 0);

        assert_int_equal(spawn_child_signal(&child, SIGTERM), 0);
        assert_int_equal(drive(&child, 5000), 1);
        struct spawn_result result;
        assert_int_equal(spawn_child_result(&child, &result), 0);
        assert_true(result.signaled);
        assert_int_equal(result.term_signal, SIGTERM);
        assert_string_equal(result.out, "");
        spawn_result_done(&result);
        spawn_child_done(&child);
}

static void test_deadline_enforced_by_steps(void **state)
{
        (void)state;
        struct spawn_child child = {0};
        assert_int_equal(start_sh("trap '' TERM; sleep 30", NULL, 100, false, false, &child), 0);
        long long began = monotonic_now_ms();
        assert_int_equal(drive(&child, 5000), 1);
        long long took = monotonic_now_ms() - began;
        assert_true(took >= 250 && took < 4000); /* 100 ms, then the 200 ms grace */
        struct spawn_result result;
        assert_int_equal(spawn_child_result(&child, &result), 0);
        assert_true(result.timed_out);
        assert_true(result.signaled);
        assert_int_equal(result.term_signal, SIGKILL);
        spawn_result_done(&result);
        spawn_child_done(&child);
}

static void test_dropped_while_running_is_reaped(void **state)
{
        (void)state;
        struct spawn_child child = {0};
        assert_int_equal(start_sh("exec sleep 30", NULL, 0, false, false, &child), 0);
        pid_t pid = child.pid;
        struct spawn_result result;
        assert_int_equal(spawn_child_result(&child, &result), -EINVAL); /* not reaped yet */
        spawn_child_done(&child);
        /* Reaped: no child of ours is left to wait for. */
        assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static void test_zeroed_child_is_a_noop(void **state)
{
        (void)state;
        /* fd 0 is open (whatever ctest gave us), so that closing it by mistake shows. */
        int null_fd = open("/dev/null", O_RDONLY);
        assert_true(null_fd >= 0);
        assert_int_equal(dup2(null_fd, 0), 0);
        if (null_fd != 0)
                (void)close(null_fd);
        struct spawn_child child = {0};
        spawn_child_done(&child);
        spawn_child_done(NULL);
        assert_true(fcntl(0, F_GETFD) >= 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_watched_in_own_loop),
            cmocka_unit_test(test_stdout_to_null_and_group),
            cmocka_unit_test(test_deadline_enforced_by_steps),
            cmocka_unit_test(test_dropped_while_running_is_reaped),
            cmocka_unit_test(test_zeroed_child_is_a_noop),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
