/* daemon_scan over stand-in processes: copies of /bin/sh named nvidia-cuda-mps-control (a
 * "daemon" with -d, and a client-mode one without) and nvidia-cuda-mps-server (its child), with
 * the variables a daemon carries. Found with their device and pipe folder, told apart from
 * clients and impostors, signalled only through a verified pidfd, waited for until gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include "node/daemon_scan.h"

#define PIPE_DIR "/nonexistent/daemon-scan-test/pipe"

static char base[1024];
static char control[1200], server[1200];

static void copy_shell(const char *to)
{
        char command[2600];
        (void)snprintf(command, sizeof(command), "cp /bin/sh '%s'", to);
        assert_int_equal(system(command), 0);
}

static int setup(void **state)
{
        (void)snprintf(base, sizeof(base), "%s/daemon_scan.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(base))
                return -1;
        (void)snprintf(control, sizeof(control), "%s/" DAEMON_CONTROL_PROGRAM, base);
        (void)snprintf(server, sizeof(server), "%s/" DAEMON_SERVER_PROGRAM, base);
        copy_shell(control);
        copy_shell(server);
        return 0;
}

static int teardown(void **state)
{
        char command[1200];
        (void)snprintf(command, sizeof(command), "rm -rf '%s'", base);
        return system(command) == 0 ? 0 : -1;
}

struct stand_in {
        pid_t pid;
        int stdin_fd; /* closing it ends the shell's `read` */
};

/* Starts the control-program copy running `script` with `extra` as its $0 ("-d" makes it look
 * like a daemon's command line). */
static struct stand_in start_stand_in(const char *script, const char *extra)
{
        int fds[2];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[0], 0);
                char env_server[1300];
                (void)snprintf(env_server, sizeof(env_server), "SERVER=%s", server);
                char *envp[] = {"CUDA_VISIBLE_DEVICES=MIG-aaaa,MIG-bbbb",
                                "CUDA_MPS_PIPE_DIRECTORY=" PIPE_DIR "/", env_server,
                                "PATH=/usr/bin:/bin", NULL};
                char *argv[] = {DAEMON_CONTROL_PROGRAM, "-c", (char *)script, (char *)extra, NULL};
                execve(control, argv, envp);
                _exit(127);
        }
        close(fds[0]);
        /* Wait until it has exec'd (its exe is the copy). */
        char exe_link[64], exe[1300];
        (void)snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", (int)pid);
        /* exe changes before the new command line is in place: wait for both. */
        char cmdline_path[64];
        (void)snprintf(cmdline_path, sizeof(cmdline_path), "/proc/%d/cmdline", (int)pid);
        bool execed = false;
        for (int i = 0; i < 5000 && !execed; i++) {
                ssize_t n = readlink(exe_link, exe, sizeof(exe) - 1);
                if (n > 0) {
                        exe[n] = '\0';
                        char cmdline[64] = "";
                        int fd = open(cmdline_path, O_RDONLY | O_CLOEXEC);
                        if (fd >= 0) {
                                if (read(fd, cmdline, sizeof(cmdline) - 1) < 0)
                                        cmdline[0] = '\0';
                                close(fd);
                        }
                        execed = strcmp(exe, control) == 0 &&
                                 strcmp(cmdline, DAEMON_CONTROL_PROGRAM) == 0;
                }
                if (!execed)
                        usleep(2000);
        }
        if (!execed)
                fail_msg("the stand-in %d did not exec %s within 10 s", (int)pid, control);
        return (struct stand_in){pid, fds[1]};
}

static void reap(struct stand_in *s)
{
        close(s->stdin_fd);
        (void)kill(s->pid, SIGKILL);
        (void)waitpid(s->pid, NULL, 0);
}

static const struct mps_daemon *find(const struct mps_daemon *daemons, size_t count, pid_t pid)
{
        for (size_t i = 0; i < count; i++)
                if (daemons[i].pid == pid)
                        return &daemons[i];
        return NULL;
}

static void test_scan_finds_daemons_not_clients(void **state)
{
        struct stand_in daemon = start_stand_in("read line", "-d");
        struct stand_in client = start_stand_in("read line", "client");
        struct error err = {0};
        _cleanup_free_ struct mps_daemon *daemons = NULL;
        size_t count = 0;
        assert_int_equal(daemon_scan(&daemons, &count, &err), 0);
        const struct mps_daemon *found = find(daemons, count, daemon.pid);
        assert_non_null(found);
        assert_null(find(daemons, count, client.pid));
        assert_null(find(daemons, count, getpid()));
        assert_true(found->environ_known);
        assert_string_equal(found->pipe_dir, PIPE_DIR); /* trailing '/' dropped */
        assert_string_equal(found->visible_devices, "MIG-aaaa,MIG-bbbb");
        assert_int_equal(found->uid, geteuid());
        assert_true(found->start_ticks > 0);
        assert_true(daemon_serves(found, "MIG-aaaa"));
        assert_true(daemon_serves(found, "MIG-bbbb"));
        assert_false(daemon_serves(found, "MIG-aaa"));
        assert_true(daemon_uses_pipe_dir(found, PIPE_DIR "/"));
        assert_false(daemon_uses_pipe_dir(found, "/tmp/nvidia-mps"));

        struct mps_daemon one;
        assert_int_equal(daemon_inspect(client.pid, &one), -EPERM);
        assert_int_equal(daemon_inspect(getpid(), &one), -EPERM);
        double uptime = -1;
        assert_int_equal(process_uptime(daemon.pid, &uptime), 0);
        assert_true(uptime >= 0 && uptime < 60);
        reap(&daemon);
        reap(&client);
}

static void test_signal_only_the_verified_daemon(void **state)
{
        struct stand_in daemon = start_stand_in("read line", "-d");
        struct mps_daemon seen;
        assert_int_equal(daemon_inspect(daemon.pid, &seen), 0);
        struct error err = {0};
        int pidfd = -1;
        /* A start time that differs means the pid was reused: refused. */
        assert_int_equal(daemon_open(daemon.pid, seen.start_ticks + 1, &pidfd, &err), -EPERM);
        assert_non_null(strstr(err.message, "reused"));
        assert_int_equal(daemon_open(getpid(), 0, &pidfd, &err), -EPERM);

        assert_int_equal(daemon_open(daemon.pid, seen.start_ticks, &pidfd, &err), 0);
        assert_int_equal(daemon_wait_gone(pidfd, 50), -ETIMEDOUT);
        assert_int_equal(daemon_signal(pidfd, SIGTERM), 0);
        assert_int_equal(daemon_wait_gone(pidfd, 5000), 0);
        /* Not reaped yet: a zombie, which counts as gone and is no daemon any more. */
        assert_int_equal(daemon_inspect(daemon.pid, &seen), -ESRCH);
        int fd2 = -1;
        assert_int_equal(daemon_open(daemon.pid, 0, &fd2, &err), -ESRCH);
        close(pidfd);
        reap(&daemon);
}

static void test_servers_of_a_daemon(void **state)
{
        /* `kill $!`: when a failed check ends the test before its reap, the stand-in's stdin
         * closes with the test and its endless server goes with it */
        struct stand_in daemon =
            start_stand_in("\"$SERVER\" -c 'while :; do sleep 1; done' & read line; kill $!", "-d");
        _cleanup_free_ pid_t *servers = NULL;
        size_t count = 0;
        for (int i = 0; i < 500 && count == 0; i++) {
                free(servers);
                servers = NULL;
                assert_int_equal(daemon_servers(daemon.pid, &servers, &count), 0);
                if (count == 0)
                        usleep(2000);
        }
        assert_int_equal(count, 1);
        int pidfd = -1;
        assert_int_equal(daemon_open_server(daemon.pid, servers[0], &pidfd), 0);
        int other = -1;
        assert_int_equal(daemon_open_server(getpid(), servers[0], &other), -EPERM);
        assert_int_equal(other, -1);
        _cleanup_free_ pid_t *none = NULL;
        size_t none_count = 5;
        assert_int_equal(daemon_servers(getpid(), &none, &none_count), 0);
        assert_int_equal(none_count, 0);
        assert_int_equal(daemon_signal(pidfd, SIGKILL), 0);
        assert_int_equal(daemon_wait_gone(pidfd, 5000), 0);
        close(pidfd);
        reap(&daemon);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
            TEST(test_scan_finds_daemons_not_clients),
            TEST(test_signal_only_the_verified_daemon),
            TEST(test_servers_of_a_daemon),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
