/* Daemons found through their folders: a live one is a pid file naming a live control daemon or
 * a control socket that accepts; a folder left by a quit daemon (its socket file, no listener),
 * a pid file naming some other process, or no folder at all is none. Another known folder of the
 * same device is found; the target's own folder, under any name, is not "another". A control
 * socket is seen without connecting to it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/daemon_folder.h"

#define UUID "MIG-11111111-2222-3333-4444-555555555555"

static char base[256], pipe_dir[512];

static int setup(void **state)
{
        (void)snprintf(base, sizeof(base), "/tmp/dfolder.XXXXXX");
        if (!mkdtemp(base))
                return -1;
        (void)snprintf(pipe_dir, sizeof(pipe_dir), "%s/%s", base, UUID);
        if (mkdir(pipe_dir, 0755) < 0)
                return -1;
        (void)snprintf(pipe_dir, sizeof(pipe_dir), "%s/%s/pipe", base, UUID);
        return mkdir(pipe_dir, 0755);
}

static int teardown(void **state)
{
        char command[600];
        (void)snprintf(command, sizeof(command), "rm -rf '%s'", base);
        return system(command) == 0 ? 0 : -1;
}

/* A unix socket listening on <pipe_dir>/control. */
static int listen_control(void)
{
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int n = snprintf(address.sun_path, sizeof(address.sun_path), "%.90s/control", pipe_dir);
        assert_true(n > 0 && (size_t)n < sizeof(address.sun_path));
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
        assert_int_equal(listen(fd, 4), 0);
        return fd;
}

static void write_pid_file(pid_t pid)
{
        char path[600], text[32];
        (void)snprintf(path, sizeof(path), "%s/nvidia-cuda-mps-control.pid", pipe_dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        int n = snprintf(text, sizeof(text), "%d", (int)pid);
        assert_int_equal(write(fd, text, (size_t)n), n);
        close(fd);
}

static void test_none(void **state)
{
        pid_t pid = 42;
        assert_int_equal(daemon_folder_live("/nonexistent/mps", &pid), 0);
        assert_int_equal(pid, 0);
        assert_int_equal(daemon_folder_live(pipe_dir, &pid), 0);
        /* a pid file naming a process that is no control daemon */
        write_pid_file(getpid());
        assert_int_equal(daemon_folder_live(pipe_dir, &pid), 0);
}

static void test_socket_that_accepts(void **state)
{
        int fd = listen_control();
        pid_t pid = 42;
        assert_int_equal(daemon_folder_live(pipe_dir, &pid), 1);
        assert_int_equal(pid, 0);
        close(fd); /* a quit daemon: the socket file stays, nobody listens */
        assert_int_equal(daemon_folder_live(pipe_dir, &pid), 0);
}

static void test_find_other(void **state)
{
        assert_int_equal(setenv("MPSMIG_RUNTIME_DIR", base, 1), 0);
        int fd = listen_control();
        struct daemon_folder_hit hit;
        assert_int_equal(daemon_folder_find_other(UUID, "/run/none", "/run/none/x/pipe", &hit), 1);
        assert_string_equal(hit.pipe_dir, pipe_dir);
        /* our own folder, also under another spelling, is not another daemon's */
        char spelled[600];
        (void)snprintf(spelled, sizeof(spelled), "%s/./%s/pipe", base, UUID);
        assert_int_equal(daemon_folder_find_other(UUID, "/run/none", pipe_dir, &hit), 0);
        assert_int_equal(daemon_folder_find_other(UUID, "/run/none", spelled, &hit), 0);
        /* another device's folder is not looked at */
        assert_int_equal(daemon_folder_find_other("MIG-99999999-2222-3333-4444-555555555555",
                                                  "/run/none", "/run/none/x/pipe", &hit),
                         0);
        close(fd);
        assert_int_equal(unsetenv("MPSMIG_RUNTIME_DIR"), 0);
}

/* A new daemon's control socket is seen as soon as it is made, by a look that does not connect:
 * no file, or a plain file of that name, is no socket. */
static void test_has_socket(void **state)
{
        (void)state;
        assert_false(daemon_folder_has_socket(pipe_dir));
        char path[600];
        (void)snprintf(path, sizeof(path), "%s/control", pipe_dir);
        int file = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(file >= 0);
        close(file);
        assert_false(daemon_folder_has_socket(pipe_dir));
        assert_int_equal(unlink(path), 0);
        int fd = listen_control();
        assert_true(daemon_folder_has_socket(pipe_dir));
        close(fd);
        assert_false(daemon_folder_has_socket("/nonexistent/folder"));
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            TEST(test_none),
            TEST(test_socket_that_accepts),
            TEST(test_find_other),
            TEST(test_has_socket),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
