/* Unit tests of the control-program client against simgpu's nvidia-cuda-mps-control (or the real
 * one: set MPSMIG_MPS_CONTROL and MPSMIG_TEST_DEVICE_UUID, as tests/hw/mps-control-client.sh does):
 * locating the program, the exact environment, start, overview, setters, servers, quit, and "not
 * running" after quit and after kill -9. Every daemon runs in a private folder and is quit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "driver/mps_control.h"

#define SEED_UUID "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0" /* in simgpu's a30-seed topology */

struct fixture {
        char dir[256]; /* private mkdtemp folder */
        char pipe_dir[300];
        char log_dir[300];
        char *program;
        const char *uuid;
        struct mps_endpoint ep;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static int setup_failed(struct fixture *f, const char *why)
{
        fprintf(stderr, "setup: %s\n", why);
        if (f->dir[0]) {
                (void)rmdir(f->pipe_dir);
                (void)rmdir(f->dir);
        }
        free(f->program);
        free(f);
        return -1;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof(f->dir), "%s/mpsclient.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(f->dir)) {
                f->dir[0] = '\0';
                return setup_failed(f, "mkdtemp failed");
        }
        snprintf(f->pipe_dir, sizeof(f->pipe_dir), "%s/pipe", f->dir);
        snprintf(f->log_dir, sizeof(f->log_dir), "%s/log", f->dir);
        if (mkdir(f->pipe_dir, 0755) < 0)
                return setup_failed(f, "cannot create the pipe folder");

        /* simgpu unless the caller points at another control program (the real one on a GPU) */
        const char *build = getenv("MPSMIG_BUILD");
        const char *source = getenv("MPSMIG_SOURCE");
        if (!getenv(MPS_CONTROL_ENV_OVERRIDE)) {
                char path[1024];
                if (!build || !source)
                        return setup_failed(f, "MPSMIG_BUILD and MPSMIG_SOURCE must be set");
                snprintf(path, sizeof(path), "%s/simgpu/bin/%s", build, MPS_CONTROL_PROGRAM);
                setenv(MPS_CONTROL_ENV_OVERRIDE, path, 1);
                snprintf(path, sizeof(path), "%s/simgpu/topologies/a30-seed.json", source);
                setenv("SIMGPU_TOPOLOGY", path, 1);
                /* simgpu's daemons end with this test however it ends: a SIGKILL or a Ctrl-C
                 * runs no teardown, and a -d daemon is not our child (SIMGPU_* is passed on) */
                snprintf(path, sizeof(path), "%d", (int)getpid());
                setenv("SIMGPU_MPS_EXIT_WITH_PID", path, 1);
        }
        f->uuid = getenv("MPSMIG_TEST_DEVICE_UUID");
        if (!f->uuid)
                f->uuid = SEED_UUID;
        struct error err = {0};
        if (mps_control_find(&f->program, &err) < 0)
                return setup_failed(f, err.message);
        f->ep = (struct mps_endpoint){
            .program = f->program,
            .device_uuid = f->uuid,
            .pipe_dir = f->pipe_dir,
            .log_dir = f->log_dir,
        };
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        (void)mps_control_quit(&f->ep, 0, &err); /* whatever a failed test left running */
        char command[600];
        snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
        int r = system(command);
        free(f->program);
        free(f);
        return r == 0 ? 0 : -1;
}

/* The control daemon is not our child: watch it through /proc. A zombie counts as gone. */
static bool process_gone(pid_t pid)
{
        char path[64], stat[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *file = fopen(path, "re");
        if (!file)
                return true;
        size_t n = fread(stat, 1, sizeof(stat) - 1, file);
        fclose(file);
        stat[n] = '\0';
        const char *paren = strrchr(stat, ')');
        return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static pid_t read_daemon_pid(const struct fixture *f)
{
        char path[400];
        snprintf(path, sizeof(path), "%s/nvidia-cuda-mps-control.pid", f->pipe_dir);
        FILE *file = fopen(path, "re");
        if (!file)
                return -1;
        int pid = -1;
        if (fscanf(file, "%d", &pid) != 1)
                pid = -1;
        fclose(file);
        return pid;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Waits (bounded) until the pipe folder answers "no daemon". */
static int wait_not_running(const struct fixture *f)
{
        struct mps_overview o;
        struct error err = {0};
        int r = 0;
        for (int i = 0; i < 100; i++) {
                r = mps_control_overview(&f->ep, &o, &err);
                if (r == 0)
                        mps_overview_done(&o);
                if (r == -ESRCH)
                        return r;
                sleep_ms(20);
        }
        return r;
}

static void test_find(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        char *found = NULL;
        char *saved_override = strdup(getenv(MPS_CONTROL_ENV_OVERRIDE));
        char *saved_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

        setenv(MPS_CONTROL_ENV_OVERRIDE, "bin/nvidia-cuda-mps-control", 1);
        assert_int_equal(mps_control_find(&found, &err), -EINVAL);
        assert_non_null(strstr(err.message, "not an absolute path"));

        char plain[400];
        snprintf(plain, sizeof(plain), "%s/not-executable", f->dir);
        write_file(plain, "#!/bin/sh\n", 0644);
        setenv(MPS_CONTROL_ENV_OVERRIDE, plain, 1);
        assert_int_equal(mps_control_find(&found, &err), -EACCES);

        /* PATH: a relative entry holding the program is skipped, the absolute one found */
        unsetenv(MPS_CONTROL_ENV_OVERRIDE);
        char rel[400], abs_dir[400], fake[500];
        snprintf(rel, sizeof(rel), "%s/rel", f->dir);
        snprintf(abs_dir, sizeof(abs_dir), "%s/abs", f->dir);
        assert_int_equal(mkdir(rel, 0755), 0);
        assert_int_equal(mkdir(abs_dir, 0755), 0);
        snprintf(fake, sizeof(fake), "%s/%s", rel, MPS_CONTROL_PROGRAM);
        write_file(fake, "#!/bin/sh\n", 0755);
        assert_int_equal(chdir(f->dir), 0);
        setenv("PATH", "rel::/nonexistent", 1);
        assert_int_equal(mps_control_find(&found, &err), -ENOENT);
        assert_non_null(strstr(err.message, MPS_CONTROL_PROGRAM));
        assert_non_null(strstr(err.message, MPS_CONTROL_ENV_OVERRIDE));

        snprintf(fake, sizeof(fake), "%s/%s", abs_dir, MPS_CONTROL_PROGRAM);
        write_file(fake, "#!/bin/sh\n", 0755);
        char path[900];
        snprintf(path, sizeof(path), "rel:%s:/nonexistent", abs_dir);
        setenv("PATH", path, 1);
        assert_int_equal(mps_control_find(&found, &err), 0);
        assert_string_equal(found, fake);
        free(found);

        assert_int_equal(chdir("/"), 0);
        if (saved_path)
                setenv("PATH", saved_path, 1);
        setenv(MPS_CONTROL_ENV_OVERRIDE, saved_override, 1);
        free(saved_path);
        free(saved_override);
}

/* What the child really gets: run /usr/bin/env as the "control program". */
static void test_environment_is_exact(void **state)
{
        struct fixture *f = *state;
        setenv("SIMGPU_TEST_EXTRA", "1", 1);
        setenv("LSAN_TEST_EXTRA", "2", 1);
        setenv("CUDA_VISIBLE_DEVICES", "leak", 1);
        setenv("CUDA_MPS_PIPE_DIRECTORY", "/leak", 1);
        setenv("MPSCLIENT_SECRET", "leak", 1);
        setenv("HOME", "/home/test", 1);
        struct mps_endpoint ep = f->ep;
        ep.program = "/usr/bin/env";
        char *out = NULL;
        size_t size;
        int status;
        struct error err = {0};
        assert_int_equal(mps_control_run(&ep, "ignored\n", 0, &out, &size, &status, &err), 0);
        assert_int_equal(status, 0);

        char expected[600];
        snprintf(expected, sizeof(expected), "CUDA_VISIBLE_DEVICES=%s\n", f->uuid);
        assert_non_null(strstr(out, expected));
        snprintf(expected, sizeof(expected), "CUDA_MPS_PIPE_DIRECTORY=%s\n", f->pipe_dir);
        assert_non_null(strstr(out, expected));
        snprintf(expected, sizeof(expected), "CUDA_MPS_LOG_DIRECTORY=%s\n", f->log_dir);
        assert_non_null(strstr(out, expected));
        assert_non_null(strstr(out, "HOME=/home/test\n"));
        assert_non_null(strstr(out, "SIMGPU_TEST_EXTRA=1\n"));
        assert_non_null(strstr(out, "LSAN_TEST_EXTRA=2\n"));
        assert_null(strstr(out, "leak"));
        /* every line is one of the documented names */
        static const char *const allowed[] = {"CUDA_VISIBLE_DEVICES=",
                                              "CUDA_MPS_PIPE_DIRECTORY=",
                                              "CUDA_MPS_LOG_DIRECTORY=",
                                              "PATH=",
                                              "LD_LIBRARY_PATH=",
                                              "HOME=",
                                              "LANG=",
                                              "SIMGPU_",
                                              "ASAN_",
                                              "UBSAN_",
                                              "LSAN_"};
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                bool ok = false;
                for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
                        ok |= strncmp(line, allowed[i], strlen(allowed[i])) == 0;
                if (!ok)
                        fail_msg("unexpected variable in the child: %s", line);
        }
        free(out);
        unsetenv("SIMGPU_TEST_EXTRA");
        unsetenv("LSAN_TEST_EXTRA");
        unsetenv("CUDA_VISIBLE_DEVICES");
        unsetenv("CUDA_MPS_PIPE_DIRECTORY");
        unsetenv("MPSCLIENT_SECRET");
}

static void test_lifecycle(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        struct mps_overview o;

        assert_int_equal(mps_control_overview(&f->ep, &o, &err), -ESRCH);
        assert_non_null(strstr(err.message, f->pipe_dir));

        assert_int_equal(mps_control_start(&f->ep, &err), 0);
        assert_true(read_daemon_pid(f) > 0);
        assert_int_equal(mps_control_start(&f->ep, &err), -EALREADY);
        assert_non_null(strstr(err.message, "already runs"));

        assert_int_equal(mps_control_overview(&f->ep, &o, &err), 0);
        assert_int_equal(o.server_count, 0);
        assert_true(o.ps.no_server);
        assert_true(o.default_active_thread_percentage == 100.0);
        assert_false(o.default_pinned_limit.set);
        assert_int_equal(o.default_client_priority, 0);
        mps_overview_done(&o);

        /* nothing asked: only read back */
        struct mps_defaults keep = MPS_DEFAULTS_KEEP;
        struct mps_defaults_answer read;
        assert_int_equal(mps_control_set_defaults(&f->ep, &keep, &read, &err), 0);
        assert_true(read.thread_percentage == 100.0);
        assert_false(read.pinned.set);
        assert_int_equal(read.client_priority, 0);

        struct mps_defaults want = {
            .thread_percentage = 40, .pinned_bytes = 1500ULL << 20, .client_priority = 1};
        assert_int_equal(mps_control_set_defaults(&f->ep, &want, &read, &err), 0);
        assert_true(read.thread_percentage == 40.0);
        assert_true(read.pinned.set);
        /* read back rounded down to whole G (driver 580: 1500M reads back 1G) */
        assert_int_equal(read.pinned.bytes, mps_pinned_limit_read_back(1500ULL << 20));
        assert_string_equal(read.pinned.text, "1G");
        assert_int_equal(read.client_priority, 1);

        struct mps_defaults only_pinned = {.pinned_bytes = 2ULL << 30, .client_priority = -1};
        assert_int_equal(mps_control_set_defaults(&f->ep, &only_pinned, &read, &err), 0);
        assert_string_equal(read.pinned.text, "2G");
        assert_true(read.thread_percentage == 40.0);

        /* refused before anything runs */
        struct mps_defaults bad = {.thread_percentage = 150, .client_priority = -1};
        assert_int_equal(mps_control_set_defaults(&f->ep, &bad, &read, &err), -EINVAL);
        bad = (struct mps_defaults){.pinned_bytes = 1000, .client_priority = -1};
        assert_int_equal(mps_control_set_defaults(&f->ep, &bad, &read, &err), -EINVAL);
        bad = (struct mps_defaults){.client_priority = 2};
        assert_int_equal(mps_control_set_defaults(&f->ep, &bad, &read, &err), -EINVAL);

        assert_int_equal(mps_control_overview(&f->ep, &o, &err), 0);
        assert_true(o.default_active_thread_percentage == 40.0);
        assert_true(o.default_pinned_limit.set);
        assert_true(o.default_pinned_limit.bytes == 2ULL << 30);
        assert_int_equal(o.default_client_priority, 1);
        mps_overview_done(&o);

        /* a server, started ahead of any client */
        char *out;
        size_t size;
        int status;
        assert_int_equal(mps_control_start_server(&f->ep, (unsigned)getuid(), &err), 0);
        /* The real server takes about 190 ms to be ready; until then `ps` says "Server not
         * found" although get_server_list already lists it (docs/driver-facts.md). */
        for (int i = 0; i < 250; i++) {
                assert_int_equal(mps_control_overview(&f->ep, &o, &err), 0);
                if (o.server_count == 1 && !o.ps.no_server)
                        break;
                mps_overview_done(&o);
                sleep_ms(20);
        }
        assert_int_equal(o.server_count, 1);
        assert_false(o.ps.no_server);
        assert_int_equal(o.ps.count, 0);
        pid_t server = o.servers[0];
        mps_overview_done(&o);

        pid_t *clients;
        size_t count;
        assert_int_equal(mps_control_client_list(&f->ep, server, &clients, &count, &err), 0);
        assert_int_equal(count, 0);
        free(clients);
        enum mps_server_status server_status;
        assert_int_equal(mps_control_server_status(&f->ep, server, &server_status, &err), 0);
        assert_true(server_status == MPS_SERVER_ACTIVE || server_status == MPS_SERVER_INITIALIZING);
        pid_t unknown = server == 999999 ? 999998 : 999999;
        assert_int_equal(mps_control_client_list(&f->ep, unknown, &clients, &count, &err), -ENOENT);
        assert_int_equal(mps_control_server_status(&f->ep, unknown, &server_status, &err), -ENOENT);
        assert_int_equal(mps_control_shutdown_server(&f->ep, server, &err), 0);

        /* an unknown command comes back as such */
        assert_int_equal(mps_control_run(&f->ep, "frobnicate\n", 0, &out, &size, &status, &err), 0);
        assert_int_equal(status, 0);
        assert_string_equal(out, "Unknown command \"frobnicate\"\n");
        free(out);

        assert_int_equal(mps_control_quit(&f->ep, 0, &err), 0);
        assert_int_equal(wait_not_running(f), -ESRCH);
        assert_int_equal(mps_control_quit(&f->ep, 0, &err), -ESRCH);
        assert_int_equal(mps_control_run(&f->ep, "ps\n", 0, &out, &size, &status, &err), -ESRCH);
}

static void test_stale_after_kill(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        assert_int_equal(mps_control_start(&f->ep, &err), 0);
        pid_t pid = read_daemon_pid(f);
        assert_true(pid > 0);
        assert_int_equal(kill(pid, SIGKILL), 0);
        for (int i = 0; i < 200 && !process_gone(pid); i++)
                sleep_ms(10);
        assert_true(process_gone(pid));
        assert_true(read_daemon_pid(f) == pid); /* the stale pid file stays */

        assert_int_equal(wait_not_running(f), -ESRCH);
        assert_int_equal(mps_control_quit(&f->ep, 0, &err), -ESRCH);

        /* -d over a stale folder starts normally */
        assert_int_equal(mps_control_start(&f->ep, &err), 0);
        struct mps_overview o;
        assert_int_equal(mps_control_overview(&f->ep, &o, &err), 0);
        mps_overview_done(&o);
        assert_int_equal(mps_control_quit(&f->ep, 1, &err), 0);
        assert_int_equal(wait_not_running(f), -ESRCH);
}

/* Quits a daemon that a start meant to be refused did start, so that a failing check never
 * leaves one behind (tests/hw/mps-control-client.sh fails on a leftover process). */
static void quit_if_started(const struct fixture *f, const struct mps_endpoint *ep, int r)
{
        struct fixture there = *f;
        struct error err = {0};

        if (r != 0)
                return;
        there.ep = *ep;
        (void)mps_control_quit(ep, 0, &err);
        (void)wait_not_running(&there);
}

static void test_start_refusals(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        struct mps_endpoint ep = f->ep;
        int r;

        /* UUIDs the driver does not know: -d exits 100, no daemon, for the GPU- and the MIG-
         * form alike (read directly: docs/hardware/2026-11-25/mps_control_unknowns2.txt). */
        static const char *const unknown[] = {"GPU-00000000-0000-0000-0000-000000000000",
                                              "MIG-00000000-0000-0000-0000-000000000000"};
        for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
                ep.device_uuid = unknown[i];
                r = mps_control_start(&ep, &err);
                quit_if_started(f, &ep, r);
                assert_int_equal(r, -ENODEV);
                assert_non_null(strstr(err.message, unknown[i]));
        }

        /* A missing pipe folder whose parent exists: driver 580 made it, mode 0777 under umask
         * 022, and started (four readings); so does simgpu. */
        char missing[400];
        snprintf(missing, sizeof(missing), "%s/missing", f->dir);
        ep = f->ep;
        ep.pipe_dir = missing;
        r = mps_control_start(&ep, &err);
        quit_if_started(f, &ep, r);
        assert_int_equal(r, 0);
        struct stat st;
        assert_int_equal(stat(missing, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0777);

        /* Its parent missing too: exit 1 and "Cannot access CUDA_MPS_PIPE_DIRECTORY" (driver 580
         * on stdout, docs/driver-facts-mps-control.md and simgpu on stderr; either is understood).
         */
        char orphan[450];
        snprintf(orphan, sizeof(orphan), "%s/missing-parent/pipe", f->dir);
        ep.pipe_dir = orphan;
        r = mps_control_start(&ep, &err);
        quit_if_started(f, &ep, r);
        assert_int_equal(r, -ENOENT);
        assert_non_null(strstr(err.message, orphan));

        char long_dir[200];
        memset(long_dir, 'a', sizeof(long_dir) - 1);
        long_dir[0] = '/';
        long_dir[MPS_CONTROL_PIPE_DIR_MAX + 1] = '\0';
        ep.pipe_dir = long_dir;
        assert_int_equal(mps_control_start(&ep, &err), -ENAMETOOLONG);

        ep = f->ep;
        ep.program = "relative/program";
        assert_int_equal(mps_control_start(&ep, &err), -EINVAL);
}

static void test_timeout(void **state)
{
        struct fixture *f = *state;
        struct error err = {0};
        char hang[400];
        snprintf(hang, sizeof(hang), "%s/hang", f->dir);
        write_file(hang, "#!/bin/sh\nexec sleep 10\n", 0755);
        struct mps_endpoint ep = f->ep;
        ep.program = hang;
        ep.timeout_ms = 300;
        time_t start = time(NULL);
        assert_int_equal(mps_control_start(&ep, &err), -ETIMEDOUT);
        assert_non_null(strstr(err.message, "timed out"));
        struct mps_overview o;
        assert_int_equal(mps_control_overview(&ep, &o, &err), -ETIMEDOUT);
        assert_true(time(NULL) - start < 5);
}

/* The agent sends mps_control_set_defaults' commands through its own queue: the same text, each
 * setter only when asked, the readers last; a value out of range sends nothing. */
static void test_defaults_commands(void **state)
{
        (void)state;
        struct error err = {0};
        char commands[512];
        struct mps_defaults want = {
            .thread_percentage = 40, .pinned_bytes = 10ULL << 30, .client_priority = 1};
        assert_int_equal(mps_defaults_commands(&want, commands, sizeof(commands), &err), 0);
        assert_string_equal(commands, "set_default_active_thread_percentage 40\n"
                                      "set_default_device_pinned_mem_limit 0 10G\n"
                                      "set_default_client_priority 1\n" MPS_DEFAULTS_COMMANDS);
        struct mps_defaults keep = MPS_DEFAULTS_KEEP;
        assert_int_equal(mps_defaults_commands(&keep, commands, sizeof(commands), &err), 0);
        assert_string_equal(commands, MPS_DEFAULTS_COMMANDS);
        struct mps_defaults bad = {.thread_percentage = 101, .client_priority = -1};
        assert_int_equal(mps_defaults_commands(&bad, commands, sizeof(commands), &err), -EINVAL);
        assert_non_null(strstr(err.message, "1 to 100"));
        char small[8];
        assert_int_equal(mps_defaults_commands(&want, small, sizeof(small), &err), -ENAMETOOLONG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_find, setup, teardown),
            cmocka_unit_test_setup_teardown(test_environment_is_exact, setup, teardown),
            cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stale_after_kill, setup, teardown),
            cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
            cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
            cmocka_unit_test(test_defaults_commands),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
