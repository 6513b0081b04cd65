/* Whole-buffer reads and writes: a read gathers what several writes sent and stops at
 * end-of-file with the short count; a write larger than a pipe's buffer arrives whole; errors come
 * back as negative errnos. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fd_io.h"

static void test_read_gathers_and_stops_at_eof(void **state)
{
        int fds[2];
        char buffer[16];
        assert_int_equal(pipe(fds), 0);
        assert_int_equal(write(fds[1], "abc", 3), 3);
        assert_int_equal(write(fds[1], "def", 3), 3);
        assert_int_equal(close(fds[1]), 0);
        assert_int_equal(fd_read_fully(fds[0], buffer, sizeof(buffer)), 6);
        assert_memory_equal(buffer, "abcdef", 6);
        assert_int_equal(fd_read_fully(fds[0], buffer, sizeof(buffer)), 0);
        assert_int_equal(close(fds[0]), 0);
        assert_int_equal(fd_read_fully(-1, buffer, sizeof(buffer)), -EBADF);
}

/* 1 MiB through a pipe (64 KiB of buffer): the write returns only once a child has read it all. */
static void test_write_larger_than_the_pipe(void **state)
{
        enum { SIZE = 1 << 20 };
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        char *data = malloc(SIZE);
        assert_non_null(data);
        for (size_t i = 0; i < SIZE; i++)
                data[i] = (char)(i * 7);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                char *back = malloc(SIZE);
                (void)close(fds[1]);
                ssize_t n = back ? fd_read_fully(fds[0], back, SIZE) : -1;
                _exit(n == SIZE && memcmp(back, data, SIZE) == 0 ? 0 : 1);
        }
        assert_int_equal(close(fds[0]), 0);
        assert_int_equal(fd_write_fully(fds[1], data, SIZE), 0);
        assert_int_equal(close(fds[1]), 0);
        int status = -1;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        free(data);
        assert_int_equal(fd_write_fully(-1, "x", 1), -EBADF);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_read_gathers_and_stops_at_eof),
            cmocka_unit_test(test_write_larger_than_the_pipe),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
