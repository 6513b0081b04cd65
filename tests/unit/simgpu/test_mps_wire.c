/* simgpu's MPS wire protocol: the framing of mps_wire.c against a socketpair, then a simulated
 * control daemon (run in the foreground as this test's child, so that its exit status after quit
 * also reports sanitizer findings) that clients attach to with simgpu_attach as libcuda does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mps_wire.h"

#define MIG0       "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0"
#define WAIT_MS    10000
#define SILENCE_MS 300 /* how long a pending client is checked to get no answer */

/* --- framing, no daemon */

static void peer_writes(int fd, const char *text)
{
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

static void test_framing_answer(void **state)
{
        int pair[2], status = -1;
        char *text = NULL, request[64] = {0};

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        peer_writes(pair[1], "0 6\nhello\n1 0\n");
        assert_int_equal(mps_wire_request(pair[0], "get_server_list", &status, &text), 0);
        assert_int_equal(status, 0);
        assert_string_equal(text, "hello\n");
        free(text);
        /* The first read took nothing past its answer: the second answer is intact. */
        assert_int_equal(mps_wire_request(pair[0], "ps", &status, &text), 0);
        assert_int_equal(status, 1);
        assert_string_equal(text, "");
        free(text);
        assert_int_equal(read(pair[1], request, sizeof(request) - 1), 19);
        assert_string_equal(request, "get_server_list\nps\n");
        close(pair[0]);
        close(pair[1]);
}

static void expect_framing_error(const char *answer, int expected)
{
        int pair[2], status = 7;
        char *text = (char *)"untouched";

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        peer_writes(pair[1], answer);
        shutdown(pair[1], SHUT_WR);
        assert_int_equal(mps_wire_request(pair[0], "ps", &status, &text), expected);
        assert_int_equal(status, 7); /* outputs untouched on failure */
        assert_string_equal(text, "untouched");
        close(pair[0]);
        close(pair[1]);
}

static void test_framing_errors(void **state)
{
        expect_framing_error("x 3\nabc", -EPROTO);
        expect_framing_error("0\n", -EPROTO);
        expect_framing_error("0 -1\n", -EPROTO);
        expect_framing_error("0 3x\nabc", -EPROTO);
        expect_framing_error("300 0\n", -EPROTO);
        expect_framing_error("0 99999999999\n", -EPROTO);
        expect_framing_error("0 10\nshort", -ECONNRESET);
        expect_framing_error("0 1", -ECONNRESET);
        expect_framing_error("", -ECONNRESET);
        expect_framing_error("0 0000000000000000000000000000000000000000000000000000000\n",
                             -EPROTO);
        /* the refusal of a busy daemon: exactly the one header line */
        expect_framing_error("busy\n", -EBUSY);
        expect_framing_error("busy", -ECONNRESET);
        expect_framing_error("busy 0\n", -EPROTO);
}

static void test_request_refuses_bad_lines(void **state)
{
        int pair[2], status;
        char *text, *line;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        assert_int_equal(mps_wire_request(pair[0], "two\nlines", &status, &text), -EINVAL);
        line = malloc(5000);
        assert_non_null(line);
        memset(line, 'a', 4999);
        line[4999] = '\0';
        assert_int_equal(mps_wire_request(pair[0], line, &status, &text), -EINVAL);
        free(line);
        assert_int_equal(mps_wire_request(-1, "ps", &status, &text), -EINVAL);
        close(pair[0]);
        close(pair[1]);
}

static void test_connect_errors(void **state)
{
        char longdir[200];

        assert_int_equal(mps_wire_connect("/nonexistent-simgpu-folder"), -ENOENT);
        memset(longdir, 'd', sizeof(longdir) - 1);
        longdir[0] = '/';
        longdir[sizeof(longdir) - 1] = '\0';
        assert_int_equal(mps_wire_connect(longdir), -ENAMETOOLONG);
        assert_int_equal(mps_wire_connect(""), -EINVAL);
}

/* --- a foreground daemon */

struct daemon {
        char dir[256], pipe[300], log[300];
        pid_t pid;
        int pidfd;
};

/* The daemon a test started, kept for the teardown when an assertion ends the test early. */
static struct daemon running;

/* One more variable for the next daemon a test starts (start_daemon clears it). */
static const char *extra_environment;

static void remove_folder(const char *dir)
{
        char command[600];

        snprintf(command, sizeof(command), "rm -rf '%s'", dir);
        assert_int_equal(system(command), 0);
}

static int kill_running_daemon(void **state)
{
        if (running.pid > 0) {
                kill(running.pid, SIGKILL);
                waitpid(running.pid, NULL, 0);
                close(running.pidfd);
                remove_folder(running.dir);
        }
        memset(&running, 0, sizeof(running));
        return 0;
}

static int64_t now_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void start_daemon(struct daemon *d, bool multiuser, const char *percentage)
{
        const char *build = getenv("MPSMIG_BUILD"), *source = getenv("MPSMIG_SOURCE");
        char program[512], topology[512], env_pipe[400], env_log[400], env_topology[600],
            env_percentage[64], env_watch[64];
        /* SIMGPU_MPS_EXIT_WITH_PID: the daemon ends with this test however it ends (a SIGKILL
         * or a Ctrl-C runs no teardown) */
        char *envp[9] = {env_pipe,
                         env_log,
                         env_topology,
                         (char *)"CUDA_VISIBLE_DEVICES=" MIG0,
                         (char *)"SIMGPU_MPS_START_LATENCY_MS=0",
                         env_watch,
                         NULL};
        char *argv[] = {(char *)"nvidia-cuda-mps-control", (char *)"-f",
                        multiuser ? (char *)"-M" : NULL, NULL};
        posix_spawn_file_actions_t actions;
        int64_t deadline;

        assert_non_null(build);
        assert_non_null(source);
        snprintf(d->dir, sizeof(d->dir), "%s/simgpu-mps-wire.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        assert_non_null(mkdtemp(d->dir));
        snprintf(d->pipe, sizeof(d->pipe), "%s/pipe", d->dir);
        snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
        assert_int_equal(mkdir(d->pipe, 0755), 0);
        snprintf(program, sizeof(program), "%s/simgpu/bin/nvidia-cuda-mps-control", build);
        snprintf(topology, sizeof(topology), "%s/simgpu/topologies/a30-seed.json", source);
        snprintf(env_pipe, sizeof(env_pipe), "CUDA_MPS_PIPE_DIRECTORY=%s", d->pipe);
        snprintf(env_log, sizeof(env_log), "CUDA_MPS_LOG_DIRECTORY=%s", d->log);
        snprintf(env_topology, sizeof(env_topology), "SIMGPU_TOPOLOGY=%s", topology);
        snprintf(env_watch, sizeof(env_watch), "SIMGPU_MPS_EXIT_WITH_PID=%d", (int)getpid());
        if (percentage) {
                snprintf(env_percentage, sizeof(env_percentage),
                         "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=%s", percentage);
                envp[6] = env_percentage;
        }
        if (extra_environment)
                envp[percentage ? 7 : 6] = (char *)extra_environment;
        extra_environment = NULL;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        assert_int_equal(posix_spawn(&d->pid, program, &actions, NULL, argv, envp), 0);
        posix_spawn_file_actions_destroy(&actions);
        d->pidfd = pidfd_open(d->pid, 0);
        assert_true(d->pidfd >= 0);

        deadline = now_ms() + WAIT_MS;
        for (;;) {
                int fd = mps_wire_connect(d->pipe);
                if (fd >= 0) {
                        close(fd);
                        running = *d;
                        return;
                }
                assert_true(now_ms() < deadline);
                usleep(10000);
        }
}

/* Asks one command on its own connection; the answer must have status 0. */
__attribute__((format(printf, 2, 3))) static char *ask(struct daemon *d, const char *format, ...)
{
        char line[512], *text = NULL;
        int fd, status = -1;
        va_list args;

        va_start(args, format);
        vsnprintf(line, sizeof(line), format, args);
        va_end(args);
        fd = mps_wire_connect(d->pipe);
        assert_true(fd >= 0);
        assert_int_equal(mps_wire_request(fd, line, &status, &text), 0);
        assert_int_equal(status, 0);
        close(fd);
        return text;
}

__attribute__((format(printf, 3, 4))) static void
check_answer(struct daemon *d, const char *expected, const char *format, ...)
{
        char line[512], *text;
        va_list args;

        va_start(args, format);
        vsnprintf(line, sizeof(line), format, args);
        va_end(args);
        text = ask(d, "%s", line);
        assert_string_equal(text, expected);
        free(text);
}

static void stop_daemon(struct daemon *d)
{
        struct pollfd pfd = {.fd = d->pidfd, .events = POLLIN};
        int status = -1;

        free(ask(d, "quit"));
        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
        assert_true(WIFEXITED(status));
        running.pid = 0;                          /* reaped */
        assert_int_equal(WEXITSTATUS(status), 0); /* also 0 only without sanitizer findings */
        close(d->pidfd);
        remove_folder(d->dir);
}

struct attachment {
        int fd;
        int status;
        long server;
        double percentage;
        unsigned long long pinned;
};

static void send_attach(struct daemon *d, struct attachment *a, long pid, unsigned uid,
                        const char *percentage, unsigned long long pinned)
{
        char line[256];

        a->fd = mps_wire_connect(d->pipe);
        assert_true(a->fd >= 0);
        snprintf(line, sizeof(line), "simgpu_attach %ld %u %s %llu /opt/app/bin/trainer --x 1\n",
                 pid, uid, percentage, pinned);
        assert_int_equal(write(a->fd, line, strlen(line)), (ssize_t)strlen(line));
}

/* Reads the answer of a sent attach: "SERVER_PID THREAD_PCT PINNED_BYTES\n" on success. */
static void read_attach(struct attachment *a)
{
        struct pollfd pfd = {.fd = a->fd, .events = POLLIN};
        char header[64] = {0}, body[256] = {0};
        size_t used = 0, length;

        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        while (used < sizeof(header) - 1 && read(a->fd, &header[used], 1) == 1 &&
               header[used] != '\n')
                used++;
        assert_int_equal(sscanf(header, "%d %zu", &a->status, &length), 2);
        assert_true(length < sizeof(body));
        assert_int_equal(read(a->fd, body, length), (ssize_t)length);
        if (a->status == 0)
                assert_int_equal(
                    sscanf(body, "%ld %lf %llu", &a->server, &a->percentage, &a->pinned), 3);
}

static void attach(struct daemon *d, struct attachment *a, long pid, unsigned uid,
                   const char *percentage, unsigned long long pinned)
{
        send_attach(d, a, pid, uid, percentage, pinned);
        read_attach(a);
}

static bool gets_no_answer(struct attachment *a)
{
        struct pollfd pfd = {.fd = a->fd, .events = POLLIN};

        return poll(&pfd, 1, SILENCE_MS) == 0;
}

static bool sees_eof(struct attachment *a)
{
        struct pollfd pfd = {.fd = a->fd, .events = POLLIN};
        char byte;

        return poll(&pfd, 1, WAIT_MS) == 1 && read(a->fd, &byte, 1) == 0;
}

#define GIB (1024ULL * 1024 * 1024)

static void test_attach_lists_and_detach(void **state)
{
        struct daemon d;
        struct attachment a, b;
        char expected[1024], *text;

        start_daemon(&d, false, NULL);
        check_answer(&d, "", "get_server_list");
        attach(&d, &a, getpid(), getuid(), "0", 0);
        assert_int_equal(a.status, 0);
        assert_true(a.server > 0);
        assert_true(a.percentage == 100.0);
        assert_int_equal(a.pinned, 0);

        snprintf(expected, sizeof(expected), "%ld\n", a.server);
        check_answer(&d, expected, "get_server_list");
        check_answer(&d, "ACTIVE\n", "get_server_status %ld", a.server);
        snprintf(expected, sizeof(expected), "%d\n", (int)getpid());
        check_answer(&d, expected, "get_client_list %ld", a.server);
        /* A command on the client's own connection leaves it attached. */
        int status = -1;
        assert_int_equal(mps_wire_request(a.fd, "get_default_client_priority", &status, &text), 0);
        assert_string_equal(text, "0\n");
        free(text);
        check_answer(&d, expected, "get_client_list %ld", a.server);

        attach(&d, &b, 999999, getuid(), "0", 0);
        assert_int_equal(b.server, a.server); /* one server per user */
        text = ask(&d, "ps");
        char row[256], namespace_path[64];
        struct stat ns;
        snprintf(namespace_path, sizeof(namespace_path), "/proc/%d/ns/pid", (int)getpid());
        assert_int_equal(stat(namespace_path, &ns), 0);
        snprintf(row, sizeof(row), "%-10d%-10u%-15ld%-26s%-15lu%s\n", (int)getpid(), 1u, a.server,
                 "MIG-22f0c05f-5cf2-5ea2", (unsigned long)ns.st_ino, "/opt/app/bin/trainer --x 1");
        snprintf(expected, sizeof(expected), "PID ID SERVER DEVICE NAMESPACE COMMAND\n%s", row);
        assert_memory_equal(text, expected, strlen(expected));
        assert_non_null(strstr(text, "999999    2         "));
        free(text);
        snprintf(expected, sizeof(expected),
                 "[0] 17:00.0, NVIDIA A30 MIG 1c.2g.12gb\n%d.1\n999999.2\n", (int)getpid());
        check_answer(&d, expected, "get_device_client_list");

        /* A client leaves the lists as soon as its connection ends. */
        close(a.fd);
        check_answer(&d, "999999\n", "get_client_list %ld", a.server);
        close(b.fd);
        check_answer(&d, "", "get_client_list %ld", a.server);
        check_answer(&d, "", "ps");
        snprintf(expected, sizeof(expected), "%ld\n", a.server);
        check_answer(&d, expected, "get_server_list"); /* the server outlives its clients */
        stop_daemon(&d);
}

static void test_attach_killed_client(void **state)
{
        struct daemon d;
        struct attachment a;
        int ready[2];
        pid_t child;
        char byte, expected[64];

        start_daemon(&d, false, NULL);
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                attach(&d, &a, getpid(), getuid(), "0", 0);
                (void)!write(ready[1], "x", 1);
                pause();
                _exit(0);
        }
        close(ready[1]);
        assert_int_equal(read(ready[0], &byte, 1), 1);
        close(ready[0]);
        char *servers = ask(&d, "get_server_list");
        long server = strtol(servers, NULL, 10);
        free(servers);
        snprintf(expected, sizeof(expected), "%d\n", (int)child);
        check_answer(&d, expected, "get_client_list %ld", server);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        check_answer(&d, "", "get_client_list %ld", server);
        stop_daemon(&d);
}

static void test_attach_limits(void **state)
{
        struct daemon d;
        struct attachment a;

        start_daemon(&d, false, NULL);
        free(ask(&d, "set_default_active_thread_percentage 40"));
        free(ask(&d, "set_default_device_pinned_mem_limit 0 2G"));
        attach(&d, &a, 1001, 0, "0", 0);
        assert_true(a.percentage == 40.0);
        assert_int_equal(a.pinned, 2 * GIB);
        close(a.fd);
        attach(&d, &a, 1002, 0, "25", 3 * GIB);
        assert_true(a.percentage == 25.0); /* the client may only lower the limits */
        assert_int_equal(a.pinned, 2 * GIB);
        close(a.fd);
        attach(&d, &a, 1003, 0, "60", GIB);
        assert_true(a.percentage == 40.0);
        assert_int_equal(a.pinned, GIB);
        close(a.fd);
        attach(&d, &a, 1004, 0, "33.3", 0);
        assert_true(a.percentage > 33.29 && a.percentage < 33.31);
        close(a.fd);

        /* Defaults apply to servers started later; the UUID key applies like ordinal 0. */
        free(ask(&d, "set_default_active_thread_percentage 30"));
        free(ask(&d, "set_default_device_pinned_mem_limit " MIG0 " 1G"));
        attach(&d, &a, 1005, 0, "0", 0);
        assert_true(a.percentage == 40.0);
        assert_int_equal(a.pinned, 2 * GIB);
        close(a.fd);
        free(ask(&d, "shutdown_server %ld", a.server));
        attach(&d, &a, 1006, 0, "0", 0);
        assert_true(a.percentage == 30.0);
        assert_int_equal(a.pinned, GIB);
        /* A per-server setting applies to the clients that attach after it. */
        free(ask(&d, "set_active_thread_percentage %ld 20", a.server));
        close(a.fd);
        attach(&d, &a, 1007, 0, "0", 0);
        assert_true(a.percentage == 20.0);
        close(a.fd);
        stop_daemon(&d);
}

static void test_attach_daemon_environment(void **state)
{
        struct daemon d;
        struct attachment a;

        start_daemon(&d, false, "40");
        attach(&d, &a, 1001, 0, "0", 0);
        assert_true(a.percentage == 40.0);
        close(a.fd);
        stop_daemon(&d);
}

static void test_attach_malformed(void **state)
{
        struct daemon d;
        int fd, status;
        char *text;

        start_daemon(&d, false, NULL);
        fd = mps_wire_connect(d.pipe);
        assert_true(fd >= 0);
        assert_int_equal(mps_wire_request(fd, "simgpu_attach x y", &status, &text), 0);
        assert_int_not_equal(status, 0);
        free(text);
        assert_int_equal(mps_wire_request(fd, "simgpu_attach 1 0 -5 0 /bin/x", &status, &text), 0);
        assert_int_not_equal(status, 0);
        free(text);
        assert_int_equal(mps_wire_request(fd, "simgpu_other", &status, &text), 0);
        assert_int_equal(status, 0);
        assert_string_equal(text, "Unknown command \"simgpu_other\"\n");
        free(text);
        close(fd);
        check_answer(&d, "", "get_server_list");
        stop_daemon(&d);
}

/* Without -M a client of another user waits while the running server has clients; the idle
 * server is shut down and one for the waiting user starts. */
static void test_attach_pending_other_user(void **state)
{
        struct daemon d;
        struct attachment root, user;

        start_daemon(&d, false, NULL);
        attach(&d, &root, 2001, 0, "0", 0);
        send_attach(&d, &user, 2002, 1000, "0", 0);
        assert_true(gets_no_answer(&user));
        char expected[64];
        snprintf(expected, sizeof(expected), "%ld\n", root.server);
        check_answer(&d, expected, "get_server_list");
        close(root.fd);
        read_attach(&user);
        assert_int_equal(user.status, 0);
        assert_true(user.server != root.server);
        snprintf(expected, sizeof(expected), "%ld\n", user.server);
        check_answer(&d, expected, "get_server_list");
        check_answer(&d, "2002\n", "get_client_list %ld", user.server);
        close(user.fd);
        stop_daemon(&d);
}

static void test_attach_multiuser(void **state)
{
        struct daemon d;
        struct attachment root, user;

        start_daemon(&d, true, NULL);
        attach(&d, &root, 2001, 0, "0", 0);
        attach(&d, &user, 2002, 1000, "0", 0);
        assert_int_equal(user.status, 0);
        assert_int_equal(user.server, root.server);
        check_answer(&d, "2001\n2002\n", "get_client_list %ld", root.server);
        close(root.fd);
        close(user.fd);
        stop_daemon(&d);
}

static void test_attach_client_limit(void **state)
{
        struct daemon d;
        struct attachment clients[49];

        start_daemon(&d, false, NULL);
        for (int i = 0; i < 48; i++) {
                attach(&d, &clients[i], 3000 + i, 0, "0", 0);
                assert_int_equal(clients[i].status, 0);
        }
        attach(&d, &clients[48], 3048, 0, "0", 0);
        assert_int_not_equal(clients[48].status, 0);
        for (int i = 0; i < 49; i++)
                close(clients[i].fd);
        stop_daemon(&d);
}

static void test_terminate_and_shutdown(void **state)
{
        struct daemon d;
        struct attachment a, b;

        start_daemon(&d, false, NULL);
        attach(&d, &a, 4001, 0, "0", 0);
        attach(&d, &b, 4002, 0, "0", 0);
        check_answer(&d, "", "terminate_client %ld 4001", a.server);
        assert_true(sees_eof(&a));
        check_answer(&d, "4002\n", "get_client_list %ld", a.server);
        /* Driver 580's answers: a CUresult, 201 for a client the server does not have, and
         * for an unknown server two lines and 1. */
        check_answer(&d, "201\n", "terminate_client %ld 4001", a.server);
        check_answer(&d, "Server 1 not found\nServer 1 not found!\n1\n", "terminate_client 1 2");

        /* shutdown_server without -f waits for the clients; new ones go to a new server. */
        check_answer(&d, "", "shutdown_server %ld", b.server);
        assert_true(gets_no_answer(&b));
        struct attachment c;
        send_attach(&d, &c, 4003, 0, "0", 0);
        assert_true(gets_no_answer(&c)); /* pending until the draining server is gone */
        close(b.fd);
        read_attach(&c);
        assert_int_equal(c.status, 0);
        assert_true(c.server != b.server);

        /* A client may end itself through its own connection; the daemon carries on. */
        struct attachment self;
        char line[128], *text = NULL;
        int status = -1;
        attach(&d, &self, 4004, 0, "0", 0);
        snprintf(line, sizeof(line), "terminate_client %ld 4004", self.server);
        assert_int_equal(mps_wire_request(self.fd, line, &status, &text), -ECONNRESET);
        close(self.fd);
        check_answer(&d, "4003\n", "get_client_list %ld", c.server);
        attach(&d, &self, 4005, 0, "0", 0);
        snprintf(line, sizeof(line), "shutdown_server %ld -f", self.server);
        assert_int_equal(mps_wire_request(self.fd, line, &status, &text), -ECONNRESET);
        close(self.fd);
        assert_true(sees_eof(&c));
        close(c.fd);
        check_answer(&d, "", "get_server_list");
        attach(&d, &c, 4003, 0, "0", 0);

        /* With -f the clients are ended with it. */
        check_answer(&d, "", "shutdown_server %ld -f", c.server);
        assert_true(sees_eof(&c));
        close(a.fd);
        close(c.fd);
        check_answer(&d, "", "get_server_list");
        stop_daemon(&d);
}

static char *read_control_log(const struct daemon *d)
{
        char path[400], *text = calloc(1, 65536);
        FILE *file;

        assert_non_null(text);
        snprintf(path, sizeof(path), "%s/control.log", d->log);
        file = fopen(path, "re");
        assert_non_null(file);
        assert_true(fread(text, 1, 65535, file) > 0);
        fclose(file);
        return text;
}

/* A server is listed at once but ready only after its start time (the H100: 163-188 ms; here
 * 1 s so that "before" is certain): meanwhile get_server_status already says ACTIVE (as driver
 * 580 did: mps_control_unknowns2.txt), ps says "Server not found" (its answer as it stood when
 * asked, sent only once the server is ready) and a client waits on the pending list. */
static void test_server_start_time(void **state)
{
        struct daemon d;
        struct attachment a, p;
        char expected[512], body[256], line[64], *text, *log;
        long server = 0;

        extra_environment = "SIMGPU_MPS_SERVER_START_MS=1000";
        start_daemon(&d, false, NULL);
        int64_t started = now_ms();
        check_answer(&d, "", "start_server -uid %u", (unsigned)getuid());
        text = ask(&d, "get_server_list");
        assert_int_equal(sscanf(text, "%ld", &server), 1);
        free(text);
        check_answer(&d, "ACTIVE\n", "get_server_status %ld", server);
        /* ps -p is run now but answered when the server is ready; the attach is not refused
         * although the ps connection holds the daemon meanwhile */
        p.fd = mps_wire_connect(d.pipe);
        assert_true(p.fd >= 0);
        snprintf(line, sizeof(line), "ps -p %ld\n", server);
        assert_int_equal(write(p.fd, line, strlen(line)), (ssize_t)strlen(line));
        send_attach(&d, &a, 5001, getuid(), "0", 0);
        assert_true(gets_no_answer(&a));
        assert_true(gets_no_answer(&p));
        snprintf(body, sizeof(body), "Server %ld not found\nServer %ld not found\n\n", server,
                 server);
        snprintf(expected, sizeof(expected), "0 %zu\n%s", strlen(body), body);
        text = calloc(1, sizeof(expected));
        assert_non_null(text);
        for (size_t used = 0; used < strlen(expected);) {
                struct pollfd pfd = {.fd = p.fd, .events = POLLIN};
                assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
                ssize_t got = read(p.fd, text + used, strlen(expected) - used);
                assert_true(got > 0);
                used += (size_t)got;
        }
        assert_string_equal(text, expected);
        free(text);
        assert_true(now_ms() - started >= 1000);
        close(p.fd);
        read_attach(&a);
        assert_int_equal(a.status, 0);
        assert_int_equal(a.server, server);
        check_answer(&d, "ACTIVE\n", "get_server_status %ld", server);
        check_answer(&d, "5001\n", "get_client_list %ld", server);

        log = read_control_log(&d);
        snprintf(expected, sizeof(expected), "Server %ld is <busy>\n", server);
        assert_non_null(strstr(log, expected));
        assert_non_null(strstr(log, "NEW CLIENT 5001 from user"));
        assert_non_null(strstr(log, "Server is not ready, push client to pending list\n"));
        snprintf(expected, sizeof(expected), "NEW SERVER %ld: Ready\n", server);
        assert_non_null(strstr(log, expected));
        free(log);
        close(a.fd);
        stop_daemon(&d);
}

/* One control connection at a time (driver 580 on an H200): a connection holds the daemon from
 * its first command until it closes; a control command arriving first on another connection
 * meanwhile gets the refusal frame and end-of-file. Attaching clients, and the commands an
 * attached client sends on its own connection, are never refused; once the holder closes the
 * next control connection is served. */
static void test_one_control_connection(void **state)
{
        struct daemon d;
        struct attachment holder, refused, c;
        int status = -1;
        char *text = NULL, *log;

        start_daemon(&d, false, NULL);
        holder.fd = mps_wire_connect(d.pipe);
        assert_true(holder.fd >= 0);
        assert_int_equal(mps_wire_request(holder.fd, "get_default_client_priority", &status, &text),
                         0);
        assert_string_equal(text, "0\n");
        free(text);

        for (int i = 0; i < 3; i++) {
                refused.fd = mps_wire_connect(d.pipe);
                assert_true(refused.fd >= 0);
                text = NULL;
                assert_int_equal(mps_wire_request(refused.fd, "get_server_list", &status, &text),
                                 -EBUSY);
                assert_null(text);
                assert_true(sees_eof(&refused));
                close(refused.fd);
        }

        attach(&d, &c, 7001, getuid(), "0", 0);
        assert_int_equal(c.status, 0);
        assert_int_equal(mps_wire_request(c.fd, "get_default_client_priority", &status, &text), 0);
        assert_int_equal(status, 0);
        free(text);
        /* the holder goes on being served */
        assert_int_equal(mps_wire_request(holder.fd, "get_server_list", &status, &text), 0);
        assert_int_equal(status, 0);
        assert_int_equal(atol(text), c.server);
        free(text);

        close(holder.fd);
        check_answer(&d, "7001\n", "get_client_list %ld", c.server); /* served at once */
        log = read_control_log(&d); /* the refused commands were not run: only the holder's */
        const char *first = strstr(log, "Cmd:get_server_list");
        assert_non_null(first);
        assert_null(strstr(first + 1, "Cmd:get_server_list"));
        free(log);
        close(c.fd);
        stop_daemon(&d);
}

static void test_killed_server(void **state)
{
        struct daemon d;
        struct attachment a;

        start_daemon(&d, false, NULL);
        attach(&d, &a, 5001, 0, "0", 0);
        kill((pid_t)a.server, SIGKILL);
        assert_true(sees_eof(&a)); /* the clients of a dead server are ended */
        check_answer(&d, "", "get_server_list");
        close(a.fd);
        stop_daemon(&d);
}

/* quit -t waits for attached clients up to its timeout, refusing new ones meanwhile. */
static void test_quit_waits_for_clients(void **state)
{
        struct daemon d;
        struct attachment a, late;
        struct pollfd pfd;
        int status = -1;
        int64_t start;

        start_daemon(&d, false, NULL);
        attach(&d, &a, 6001, 0, "0", 0);
        start = now_ms();
        check_answer(&d, "", "quit -t 1");
        attach(&d, &late, 6002, 0, "0", 0);
        assert_int_not_equal(late.status, 0);
        close(late.fd);
        assert_true(sees_eof(&a));
        assert_true(now_ms() - start >= 900);
        pfd = (struct pollfd){.fd = d.pidfd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
        running.pid = 0;
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(d.pidfd);
        close(a.fd);
        char path[400];
        snprintf(path, sizeof(path), "%s/nvidia-cuda-mps-control.pid", d.pipe);
        assert_int_equal(access(path, F_OK), -1);
        remove_folder(d.dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_framing_answer),
            cmocka_unit_test(test_framing_errors),
            cmocka_unit_test(test_request_refuses_bad_lines),
            cmocka_unit_test(test_connect_errors),
            cmocka_unit_test_teardown(test_attach_lists_and_detach, kill_running_daemon),
            cmocka_unit_test_teardown(test_attach_killed_client, kill_running_daemon),
            cmocka_unit_test_teardown(test_attach_limits, kill_running_daemon),
            cmocka_unit_test_teardown(test_attach_daemon_environment, kill_running_daemon),
            cmocka_unit_test_teardown(test_attach_malformed, kill_running_daemon),
            cmocka_unit_test_teardown(test_attach_pending_other_user, kill_running_daemon),
            cmocka_unit_test_teardown(test_attach_multiuser, kill_running_daemon),
            cmocka_unit_test_teardown(test_attach_client_limit, kill_running_daemon),
            cmocka_unit_test_teardown(test_terminate_and_shutdown, kill_running_daemon),
            cmocka_unit_test_teardown(test_server_start_time, kill_running_daemon),
            cmocka_unit_test_teardown(test_one_control_connection, kill_running_daemon),
            cmocka_unit_test_teardown(test_killed_server, kill_running_daemon),
            cmocka_unit_test_teardown(test_quit_waits_for_clients, kill_running_daemon),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
