/* The placement ledger and the choice of `run --on auto`, with real processes: live children
 * count, exited ones (reaped or zombie) and reused pids do not, daemon clients and ledger entries
 * are counted once each, ties go to more memory then to the first target, and every ledger write
 * is a whole file that never follows a link. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "ops/placement.h"

#define GIB (1024ULL * 1024ULL * 1024ULL)

struct fixture {
        char dir_path[64];
        int dir;
        struct gpu gpu;
        struct mig_device migs[4];
        struct target targets[4];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        (void)snprintf(f->dir_path, sizeof(f->dir_path), "/tmp/mpsmig-placement.XXXXXX");
        if (!mkdtemp(f->dir_path))
                return -1;
        f->dir = open(f->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f->dir < 0)
                return -1;
        (void)snprintf(f->gpu.uuid, sizeof(f->gpu.uuid), "GPU-0");
        for (int i = 0; i < 4; i++) {
                (void)snprintf(f->migs[i].uuid, sizeof(f->migs[i].uuid), "MIG-%d", i);
                f->migs[i].memory_bytes = 12 * GIB;
                f->targets[i] = (struct target){.kind = TARGET_MIG_DEVICE,
                                                .uuid = f->migs[i].uuid,
                                                .gpu = &f->gpu,
                                                .mig_device = &f->migs[i]};
        }
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        _cleanup_closedir_ DIR *dir = fdopendir(dup(f->dir));
        for (struct dirent *e; dir && (e = readdir(dir));)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
                        (void)unlinkat(f->dir, e->d_name, 0);
        (void)close(f->dir);
        (void)rmdir(f->dir_path);
        free(f);
        return 0;
}

/* A child that waits until killed. */
static pid_t child(void)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                for (;;)
                        pause();
        }
        return pid;
}

static void end(pid_t pid)
{
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
}

static void write_file(int dir, const char *name, const char *text)
{
        int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        (void)close(fd);
}

static char *read_text(int dir, const char *name)
{
        int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        char *text = calloc(1, 4096);
        assert_non_null(text);
        assert_true(read(fd, text, 4095) >= 0);
        (void)close(fd);
        return text;
}

static void test_start_time(void **state)
{
        unsigned long long mine = 0, again = 0;
        assert_int_equal(process_start_time(getpid(), &mine), 0);
        assert_int_equal(process_start_time(getpid(), &again), 0);
        assert_true(mine > 0);
        assert_int_equal(mine, again);

        pid_t pid = child();
        unsigned long long theirs = 0;
        assert_int_equal(process_start_time(pid, &theirs), 0);
        assert_true(theirs >= mine);
        /* a zombie holds no GPU context: it is gone for placement */
        assert_int_equal(kill(pid, SIGKILL), 0);
        siginfo_t info;
        assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
        unsigned long long untouched = 42;
        assert_int_equal(process_start_time(pid, &untouched), -ESRCH);
        assert_int_equal(untouched, 42);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(process_start_time(pid, &untouched), -ESRCH);
        assert_int_equal(process_start_time(0, &untouched), -ESRCH);
        assert_int_equal(process_start_time(-1, &untouched), -ESRCH);
}

static void test_record_and_read(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        pid_t a = child(), b = child();
        assert_int_equal(placement_record(f->dir, &f->targets[1], a, &err), 0);
        assert_int_equal(placement_record(f->dir, &f->targets[1], b, &err), 0);
        /* recording a pid twice keeps one entry */
        assert_int_equal(placement_record(f->dir, &f->targets[1], a, &err), 0);

        struct placement_entry *entries = NULL;
        size_t count = 0;
        assert_int_equal(placement_read(f->dir, "MIG-1", &entries, &count, &err), 0);
        assert_int_equal(count, 2);
        assert_int_equal(entries[0].pid, b);
        assert_int_equal(entries[1].pid, a);
        unsigned long long start = 0;
        assert_int_equal(process_start_time(a, &start), 0);
        assert_int_equal(entries[1].start_time, start);
        free(entries);

        /* a missing ledger is empty */
        assert_int_equal(placement_read(f->dir, "MIG-3", &entries, &count, &err), 0);
        assert_int_equal(count, 0);
        assert_null(entries);

        /* an exited process is forgotten */
        end(a);
        assert_int_equal(placement_read(f->dir, "MIG-1", &entries, &count, &err), 0);
        assert_int_equal(count, 1);
        assert_int_equal(entries[0].pid, b);
        free(entries);
        end(b);

        /* no temporary file is left behind */
        _cleanup_closedir_ DIR *dir = fdopendir(dup(f->dir));
        for (struct dirent *e; (e = readdir(dir));)
                assert_null(strstr(e->d_name, ".new"));
}

/* A task that ended is taken out of whichever ledger holds it, while it is still alive too (the
 * Slurm plugin releases a task it has reaped, but the pid is all it has); the other entries stay,
 * an emptied ledger is removed, and the lock and other files of the folder are left alone. */
static void test_forget(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        pid_t a = child(), b = child(), c = child();
        assert_int_equal(placement_record(f->dir, &f->targets[0], a, &err), 0);
        assert_int_equal(placement_record(f->dir, &f->targets[0], b, &err), 0);
        assert_int_equal(placement_record(f->dir, &f->targets[2], c, &err), 0);
        write_file(f->dir, "lock", "");
        write_file(f->dir, "notes", "1 2\n");

        assert_int_equal(placement_forget(f->dir, a, &err), 1);
        struct placement_entry *entries = NULL;
        size_t count = 0;
        assert_int_equal(placement_read(f->dir, "MIG-0", &entries, &count, &err), 0);
        assert_int_equal(count, 1);
        assert_int_equal(entries[0].pid, b);
        free(entries);
        /* a pid no ledger names: nothing to do */
        assert_int_equal(placement_forget(f->dir, a, &err), 0);

        assert_int_equal(placement_forget(f->dir, c, &err), 1);
        assert_int_equal(faccessat(f->dir, "MIG-2", F_OK, 0), -1);
        assert_int_equal(errno, ENOENT);
        _cleanup_free_ char *notes = read_text(f->dir, "notes");
        assert_string_equal(notes, "1 2\n");
        assert_int_equal(faccessat(f->dir, "lock", F_OK, 0), 0);
        end(a);
        end(b);
        end(c);
}

static void test_reused_pid_and_junk_lines(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        pid_t live = child();
        unsigned long long start = 0;
        assert_int_equal(process_start_time(live, &start), 0);
        char text[256];
        /* the same pid with another start time is some later process that reused it */
        (void)snprintf(text, sizeof(text), "%d %llu\n%d %llu\ngarbage\n\n-4 5\n%d\n99999999999 1\n",
                       (int)live, start, (int)live, start + 1, (int)live);
        write_file(f->dir, "MIG-0", text);
        struct placement_entry *entries = NULL;
        size_t count = 0;
        assert_int_equal(placement_read(f->dir, "MIG-0", &entries, &count, &err), 0);
        assert_int_equal(count, 1);
        assert_int_equal(entries[0].pid, live);
        assert_int_equal(entries[0].start_time, start);
        free(entries);
        end(live);
}

static void test_choose_counts_clients_and_ledger_once(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        pid_t a = child(), b = child(), c = child(), me = getpid();
        /* MIG-0: two daemon clients. MIG-1: a client also in the ledger, and a ledger entry not
         * attached yet: 2. MIG-2: a dead client and a dead ledger entry: 0. MIG-3: one ledger
         * entry: 1. */
        assert_int_equal(placement_record(f->dir, &f->targets[1], b, &err), 0);
        assert_int_equal(placement_record(f->dir, &f->targets[1], c, &err), 0);
        assert_int_equal(placement_record(f->dir, &f->targets[3], c, &err), 0);
        pid_t dead = child();
        assert_int_equal(placement_record(f->dir, &f->targets[2], dead, &err), 0);
        end(dead);
        pid_t clients0[] = {a, me, a}; /* a repeated pid counts once */
        pid_t clients1[] = {b};
        pid_t clients2[] = {dead};
        struct placement_candidate candidates[] = {
            {.target = &f->targets[0], .client_pids = clients0, .client_count = 3},
            {.target = &f->targets[1], .client_pids = clients1, .client_count = 1},
            {.target = &f->targets[2], .client_pids = clients2, .client_count = 1},
            {.target = &f->targets[3]},
        };
        size_t chosen = 99;
        pid_t placed = child();
        assert_int_equal(placement_choose(f->dir, candidates, 4, placed, &chosen, &err), 0);
        assert_int_equal(chosen, 2);
        assert_int_equal(candidates[0].load, 2);
        assert_int_equal(candidates[1].load, 2);
        assert_int_equal(candidates[2].load, 0);
        assert_int_equal(candidates[3].load, 1);

        /* the chosen ledger now holds the placed pid, the dead entry is gone */
        _cleanup_free_ char *text = read_text(f->dir, "MIG-2");
        assert_non_null(text);
        char expected[64];
        unsigned long long start = 0;
        assert_int_equal(process_start_time(placed, &start), 0);
        (void)snprintf(expected, sizeof(expected), "%d %llu\n", (int)placed, start);
        assert_string_equal(text, expected);

        /* the next choice sees it: MIG-2 now has 1, as has MIG-3; equal memory: the first */
        assert_int_equal(placement_choose(f->dir, candidates, 4, me, &chosen, &err), 0);
        assert_int_equal(candidates[2].load, 1);
        assert_int_equal(chosen, 2);
        end(a);
        end(b);
        end(c);
        end(placed);
}

static void test_ties_go_to_memory_then_order(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        struct placement_candidate candidates[] = {
            {.target = &f->targets[0]},
            {.target = &f->targets[1]},
            {.target = &f->targets[2]},
        };
        size_t chosen = 99;
        /* no ledger: nothing recorded, equal loads and memory: the first */
        assert_int_equal(placement_choose(-1, candidates, 3, getpid(), &chosen, &err), 0);
        assert_int_equal(chosen, 0);
        _cleanup_free_ char *none = read_text(f->dir, "MIG-0");
        assert_null(none);

        f->migs[2].memory_bytes = 20 * GIB;
        assert_int_equal(placement_choose(-1, candidates, 3, getpid(), &chosen, &err), 0);
        assert_int_equal(chosen, 2);

        /* fewer clients beat more memory */
        pid_t a = child();
        pid_t clients[] = {a};
        candidates[2].client_pids = clients;
        candidates[2].client_count = 1;
        assert_int_equal(placement_choose(-1, candidates, 3, getpid(), &chosen, &err), 0);
        assert_int_equal(chosen, 0);
        end(a);

        assert_int_equal(placement_choose(-1, candidates, 0, getpid(), &chosen, &err), -ENOENT);
}

static void test_links_and_odd_names(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        /* a planted link is never followed, for reading or for writing */
        assert_int_equal(symlinkat("/etc/passwd", f->dir, "MIG-0"), 0);
        struct placement_entry *entries = NULL;
        size_t count = 0;
        assert_int_equal(placement_read(f->dir, "MIG-0", &entries, &count, &err), -ELOOP);
        assert_non_null(strstr(err.message, "MIG-0"));
        assert_int_equal(placement_record(f->dir, &f->targets[0], getpid(), &err), -ELOOP);

        /* an old-style MIG UUID holds '/': the ledger is one name in the folder */
        struct mig_device legacy = {.uuid = "MIG-GPU-8f8bff94/1/0"};
        struct target target = {
            .kind = TARGET_MIG_DEVICE, .uuid = legacy.uuid, .gpu = &f->gpu, .mig_device = &legacy};
        assert_int_equal(placement_record(f->dir, &target, getpid(), &err), 0);
        struct stat st;
        assert_int_equal(fstatat(f->dir, "MIG-GPU-8f8bff94_1_0", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(placement_read(f->dir, ".hidden", &entries, &count, &err), -EINVAL);

        /* a fifo under a ledger's name (another user's ledger folder, which a run only reads)
         * is refused at once, never waited on; the alarm ends a hang */
        assert_int_equal(mkfifoat(f->dir, "MIG-fifo", 0644), 0);
        alarm(5);
        assert_int_equal(placement_read(f->dir, "MIG-fifo", &entries, &count, &err), -EBADMSG);
        alarm(0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_start_time),
            cmocka_unit_test_setup_teardown(test_record_and_read, setup, teardown),
            cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reused_pid_and_junk_lines, setup, teardown),
            cmocka_unit_test_setup_teardown(test_choose_counts_clients_and_ledger_once, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_ties_go_to_memory_then_order, setup, teardown),
            cmocka_unit_test_setup_teardown(test_links_and_odd_names, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
