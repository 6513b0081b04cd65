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

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            TEST(test_exclusive_with_holder_named),
            TEST(test_handed_over_when_released),
            TEST(test_refuses_a_link),
            TEST(test_refuses_another_users_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
