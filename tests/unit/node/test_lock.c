/* The node lock: exclusive across open files and processes, a bounded wait that names the
 * holder's pid, handed over as soon as the holder lets go, close-on-exec, and never through a
 * link or a file of another user. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "node/lock.h"

static char base[1024];

static int setup(void **state)
{
        (void)snprintf(base, sizeof(base), "%s/lock.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
        char command[1200];
        (void)snprintf(command, sizeof(command), "rm -rf '%s'", base);
        return system(command) == 0 ? 0 : -1;
}

static long long now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int open_base(void)
{
        int fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static void test_exclusive_with_holder_named(void **state)
{
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int first = -1, second = -1;
        assert_int_equal(node_lock_acquire(dir, base, 1000, &first, &err), 0);
        int flags = fcntl(first, F_GETFD);
        assert_true(flags & FD_CLOEXEC);

        long long before = now_ms();
        assert_int_equal(node_lock_acquire(dir, base, 150, &second, &err), -ETIMEDOUT);
        long long waited = now_ms() - before;
        assert_true(waited >= 150);
        assert_true(waited < 1500);
        char pid[32];
        (void)snprintf(pid, sizeof(pid), "(pid %d)", (int)getpid());
        assert_non_null(strstr(err.message, pid));
        assert_non_null(strstr(err.message, "lock"));

        node_lock_release(first);
        assert_int_equal(node_lock_acquire(dir, base, 150, &second, &err), 0);
        node_lock_release(second);
}

static void test_handed_over_when_released(void **state)
{
        _cleanup_close_ int dir = open_base();
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                struct error err = {0};
                int fd = -1;
                if (node_lock_acquire(dir, base, 1000, &fd, &err) < 0)
                        _exit(1);
                if (write(ready[1], "x", 1) != 1)
                        _exit(1);
                struct timespec hold = {0, 300 * 1000000L};
                nanosleep(&hold, NULL);
                _exit(0); /* exiting releases the lock */
        }
        close(ready[1]);
        char byte;
        assert_int_equal(read(ready[0], &byte, 1), 1);
        close(ready[0]);
        struct error err = {0};
        int fd = -1;
        long long before = now_ms();
        assert_int_equal(node_lock_acquire(dir, base, 5000, &fd, &err), 0);
        long long waited = now_ms() - before;
        assert_true(waited >= 200); /* it waited for the holder ... */
        assert_true(waited < 2000); /* ... and got it soon after */
        char text[32] = "";
        assert_true(pread(fd, text, sizeof(text) - 1, 0) > 0);
        assert_int_equal(atoi(text), (int)getpid());
        node_lock_release(fd);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_refuses_a_link(void **state)
{
        char link[1200];
        (void)snprintf(link, sizeof(link), "%s/%s", base, NODE_LOCK_NAME);
        assert_int_equal(symlink("/etc/passwd", link), 0);
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        assert_int_equal(node_lock_acquire(dir, base, 100, &fd, &err), -ELOOP);
        assert_non_null(strstr(err.message, "symbolic link"));
}

static void test_refuses_another_users_file(void **state)
{
        char path[1200];
        (void)snprintf(path, sizeof(path), "%s/%s", base, NODE_LOCK_NAME);
        if (geteuid() == 0) {
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                assert_true(fd >= 0);
                close(fd);
                assert_int_equal(chown(path, 65534, 65534), 0);
        } else {
                assert_int_equal(mkdir(path, 0755), 0); /* not a regular file */
        }
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        int r = node_lock_acquire(dir, base, 100, &fd, &err);
        assert_true(r == -EPERM || r == -EISDIR);
}

/* Only the owner can open the lock: made 0600, and one left readable by an older mpsmig is
 * tightened. */
static void test_private_mode(void **state)
{
        char path[1200];
        (void)snprintf(path, sizeof(path), "%s/%s", base, NODE_LOCK_NAME);
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        assert_int_equal(node_lock_acquire(dir, base, 100, &fd, &err), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        node_lock_release(fd);
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(node_lock_acquire(dir, base, 100, &fd, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        node_lock_release(fd);
}

/* A child that takes the lock (without writing its pid) and waits to be killed. */
static pid_t hold_in_child(const char *path, uid_t uid)
{
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                /* gone with the test, even when an assertion ends it early */
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (uid != geteuid() && (setgid(65534) < 0 || setuid(uid) < 0))
                        _exit(1);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || flock(fd, LOCK_SH) < 0 || write(ready[1], "x", 1) != 1)
                        _exit(1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        char byte;
        assert_int_equal(read(ready[0], &byte, 1), 1);
        close(ready[0]);
        return child;
}

static void end_child(pid_t child)
{
        kill(child, SIGKILL);
        assert_int_equal(waitpid(child, NULL, 0), child);
}

/* The holder named is the one the kernel's lock table shows, not a pid a former holder wrote. */
static void test_holder_from_lock_table(void **state)
{
        char path[1200];
        (void)snprintf(path, sizeof(path), "%s/%s", base, NODE_LOCK_NAME);
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        assert_int_equal(node_lock_acquire(dir, base, 100, &fd, &err), 0); /* writes our pid */
        node_lock_release(fd);
        pid_t child = hold_in_child(path, geteuid());
        assert_int_equal(node_lock_acquire(dir, base, 100, &fd, &err), -ETIMEDOUT);
        char named[64], stale[64];
        (void)snprintf(named, sizeof(named), "process (pid %d)", (int)child);
        (void)snprintf(stale, sizeof(stale), "(pid %d)", (int)getpid());
        assert_non_null(strstr(err.message, named));
        assert_null(strstr(err.message, stale));
        end_child(child);
}

/* A lock file left 0644 and held by another user is replaced at once: no other user can stall
 * its owner. Needs root to be another user. */
static void test_replaced_when_held_by_another_user(void **state)
{
        if (geteuid() != 0) {
                skip();
                return;
        }
        char path[1200];
        (void)snprintf(path, sizeof(path), "%s/%s", base, NODE_LOCK_NAME);
        assert_int_equal(chmod(base, 0755), 0);
        int made = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(made >= 0);
        assert_int_equal(fchmod(made, 0644), 0);
        close(made);
        pid_t child = hold_in_child(path, 65534);
        struct stat before, after;
        assert_int_equal(stat(path, &before), 0);
        _cleanup_close_ int dir = open_base();
        struct error err = {0};
        int fd = -1;
        long long began = now_ms();
        assert_int_equal(node_lock_acquire(dir, base, 5000, &fd, &err), 0);
        assert_true(now_ms() - began < 2000);
        assert_int_equal(stat(path, &after), 0);
        assert_true(after.st_ino != before.st_ino);
        assert_int_equal(after.st_mode & 07777, 0600);
        /* the new file is the lock: another taker waits for us */
        int second = -1;
        assert_int_equal(node_lock_acquire(dir, base, 100, &second, &err), -ETIMEDOUT);
        node_lock_release(fd);
        end_child(child);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            TEST(test_exclusive_with_holder_named),
            TEST(test_handed_over_when_released),
            TEST(test_refuses_a_link),
            TEST(test_refuses_another_users_file),
            TEST(test_private_mode),
            TEST(test_holder_from_lock_table),
            TEST(test_replaced_when_held_by_another_user),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
