/* Unit tests of spawn: exit status and signals, the deadline (SIGTERM, then SIGKILL), stdin fed
 * and output captured and bounded, a daemonizing child that must not hold the call up, the exact
 * environment, fds kept from the child, and many spawns in parallel threads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/spawn.h"

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *empty_env[] = {NULL};

/* Runs /bin/sh -c SCRIPT with an empty environment. */
static int run_sh(const char *script, const char *input, int timeout_ms, struct spawn_result *res)
{
        char *argv[] = {"sh", "-c", (char *)script, NULL};
        struct spawn_options o = {
            .path = "/bin/sh",
            .argv = argv,
            .envp = empty_env,
            .stdin_data = input,
            .stdin_size = input ? strlen(input) : 0,
            .timeout_ms = timeout_ms,
        };
        struct error err = {0};
        int r = spawn_run(&o, res, &err);
        if (r < 0)
                print_error("spawn_run: %s\n", err.message);
        return r;
}

static void test_exit_status(void **state)
{
        (void)state;
        struct spawn_result res;
        assert_int_equal(run_sh("exit 3", NULL, 5000, &res), 0);
        assert_true(res.exited);
        assert_int_equal(res.exit_status, 3);
        assert_false(res.signaled);
        assert_false(res.timed_out);
        assert_string_equal(res.out, "");
        assert_string_equal(res.err, "");
        assert_true(res.pid > 0);
        spawn_result_done(&res);

        assert_int_equal(run_sh("true", NULL, 5000, &res), 0);
        assert_true(res.exited);
        assert_int_equal(res.exit_status, 0);
        spawn_result_done(&res);
}

static void test_killed_by_signal(void **state)
{
        (void)state;
        struct spawn_result res;
        assert_int_equal(run_sh("kill -9 $$", NULL, 5000, &res), 0);
        assert_false(res.exited);
        assert_true(res.signaled);
        assert_int_equal(res.term_signal, SIGKILL);
        assert_false(res.timed_out);
        char buf[128];
        assert_non_null(
            strstr(spawn_result_describe(&res, 5000, buf, sizeof(buf)), "killed by signal 9"));
        spawn_result_done(&res);
}

static void test_timeout_terminates(void **state)
{
        (void)state;
        char *argv[] = {"sleep", "10", NULL};
        struct spawn_options o = {
            .path = "/bin/sleep",
            .argv = argv,
            .envp = empty_env,
            .timeout_ms = 300,
            .grace_ms = 500,
        };
        struct spawn_result res;
        struct error err = {0};
        int64_t start = now_ms();
        assert_int_equal(spawn_run(&o, &res, &err), 0);
        int64_t took = now_ms() - start;
        assert_true(res.timed_out);
        assert_true(res.signaled);
        assert_int_equal(res.term_signal, SIGTERM);
        assert_true(took >= 300);
        assert_true(took < 300 + 500 + 1000);
        spawn_result_done(&res);
}

static void test_timeout_kills_what_ignores_term(void **state)
{
        (void)state;
        struct spawn_result res;
        int64_t start = now_ms();
        /* The ignored SIGTERM is inherited by sleep through exec. */
        assert_int_equal(run_sh("trap '' TERM; exec /bin/sleep 10", NULL, 200, &res), 0);
        int64_t took = now_ms() - start;
        assert_true(res.timed_out);
        assert_true(res.signaled);
        assert_int_equal(res.term_signal, SIGKILL);
        assert_true(took >= 200 + SPAWN_GRACE_MS_DEFAULT);
        assert_true(took < 200 + SPAWN_GRACE_MS_DEFAULT + 1500);
        spawn_result_done(&res);
}

static void test_stdin_and_output(void **state)
{
        (void)state;
        struct spawn_result res;
        assert_int_equal(run_sh("read a; read b; echo \"$b $a\"; echo oops >&2; exit 0",
                                "hello\nworld\n", 5000, &res),
                         0);
        assert_string_equal(res.out, "world hello\n");
        assert_int_equal(res.out_size, 12);
        assert_string_equal(res.err, "oops\n");
        assert_false(res.out_truncated);
        spawn_result_done(&res);

        /* no stdin data: /dev/null, so cat ends at once */
        char *argv[] = {"cat", NULL};
        struct spawn_options o = {
            .path = "/bin/cat",
            .argv = argv,
            .envp = empty_env,
            .timeout_ms = 5000,
        };
        struct error err = {0};
        assert_int_equal(spawn_run(&o, &res, &err), 0);
        assert_false(res.timed_out);
        assert_int_equal(res.exit_status, 0);
        assert_int_equal(res.out_size, 0);
        spawn_result_done(&res);
}

/* Far more than a pipe holds in either direction: feeding and reading must interleave. */
static void test_large_stdin_round_trip(void **state)
{
        (void)state;
        size_t size = 3 * 1024 * 1024 + 17;
        char *data = malloc(size);
        assert_non_null(data);
        for (size_t i = 0; i < size; i++)
                data[i] = (char)('a' + i % 26);
        char *argv[] = {"cat", NULL};
        struct spawn_options o = {
            .path = "/bin/cat",
            .argv = argv,
            .envp = empty_env,
            .stdin_data = data,
            .stdin_size = size,
            .timeout_ms = 20000,
            .output_max = 4 * 1024 * 1024,
        };
        struct spawn_result res;
        struct error err = {0};
        assert_int_equal(spawn_run(&o, &res, &err), 0);
        assert_int_equal(res.exit_status, 0);
        assert_int_equal(res.out_size, size);
        assert_memory_equal(res.out, data, size);
        spawn_result_done(&res);

        /* bounded: the rest is read and dropped */
        o.output_max = 1000;
        assert_int_equal(spawn_run(&o, &res, &err), 0);
        assert_int_equal(res.exit_status, 0);
        assert_int_equal(res.out_size, 1000);
        assert_true(res.out_truncated);
        assert_memory_equal(res.out, data, 1000);
        assert_int_equal(res.out[1000], '\0');
        spawn_result_done(&res);
        free(data);
}

/* A child that exits without reading its stdin must not take our process down with SIGPIPE. */
static void test_child_ignores_stdin(void **state)
{
        (void)state;
        size_t size = 1024 * 1024;
        char *data = calloc(1, size + 1);
        assert_non_null(data);
        memset(data, 'x', size);
        struct spawn_result res;
        assert_int_equal(run_sh("exit 0", data, 5000, &res), 0);
        assert_true(res.exited);
        assert_int_equal(res.exit_status, 0);
        spawn_result_done(&res);
        free(data);
}

/* `nvidia-cuda-mps-control -d` forks a daemon that may keep our pipes open: the call must come
 * back when the direct child has exited, not when the grandchild closes them. */
static void test_daemonizing_child_does_not_block(void **state)
{
        (void)state;
        struct spawn_result res;
        int64_t start = now_ms();
        assert_int_equal(run_sh("/bin/sleep 5 & echo $!; echo started >&2", NULL, 8000, &res), 0);
        int64_t took = now_ms() - start;
        assert_true(res.exited);
        assert_int_equal(res.exit_status, 0);
        assert_false(res.timed_out);
        assert_true(took < 2000);
        assert_string_equal(res.err, "started\n");
        int grandchild = atoi(res.out);
        assert_true(grandchild > 1);
        assert_int_equal(kill(grandchild, SIGKILL), 0);
        spawn_result_done(&res);
}

static void test_environment_is_exact(void **state)
{
        (void)state;
        assert_int_equal(setenv("SPAWN_TEST_SECRET", "leak", 1), 0);
        char *env[] = {"A=1", "B=two words", NULL};
        char *argv[] = {"env", NULL};
        struct spawn_options o = {
            .path = "/usr/bin/env",
            .argv = argv,
            .envp = env,
            .timeout_ms = 5000,
        };
        struct spawn_result res;
        struct error err = {0};
        assert_int_equal(spawn_run(&o, &res, &err), 0);
        assert_string_equal(res.out, "A=1\nB=two words\n");
        spawn_result_done(&res);

        o.envp = empty_env;
        assert_int_equal(spawn_run(&o, &res, &err), 0);
        assert_string_equal(res.out, "");
        spawn_result_done(&res);
        unsetenv("SPAWN_TEST_SECRET");
}

static void test_fds_stay_home(void **state)
{
        (void)state;
        int fd = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
        assert_true(fd >= 0);
        assert_int_equal(dup2(fd, 57), 57);
        struct spawn_result res;
        assert_int_equal(run_sh("ls /proc/$$/fd", NULL, 5000, &res), 0);
        assert_int_equal(res.exit_status, 0);
        assert_null(strstr(res.out, "57"));
        assert_non_null(strstr(res.out, "2\n"));
        spawn_result_done(&res);
        close(57);
        close(fd);
}

static void test_bad_options(void **state)
{
        (void)state;
        char *argv[] = {"sleep", "1", NULL};
        struct spawn_options o = {
            .path = "sleep",
            .argv = argv,
            .envp = empty_env,
            .timeout_ms = 1000,
        };
        struct spawn_result res = {.pid = 12345};
        struct error err = {0};
        assert_int_equal(spawn_run(&o, &res, &err), -EINVAL);
        assert_non_null(strstr(err.message, "not absolute"));
        assert_int_equal(res.pid, 12345);

        o.path = "/nonexistent/program";
        assert_int_equal(spawn_run(&o, &res, &err), -ENOENT);
        assert_non_null(strstr(err.message, "/nonexistent/program"));

        o.path = "/bin/sleep";
        o.envp = NULL;
        assert_int_equal(spawn_run(&o, &res, &err), -EINVAL);
        o.envp = empty_env;
        o.timeout_ms = 0;
        assert_int_equal(spawn_run(&o, &res, &err), -EINVAL);
}

static void *spawn_many(void *arg)
{
        long id = (long)arg;
        for (int i = 0; i < 15; i++) {
                char script[64], expect[64];
                snprintf(script, sizeof(script), "read x; echo \"$x-%d\"", i);
                snprintf(expect, sizeof(expect), "t%ld-%d\n", id, i);
                char input[32];
                snprintf(input, sizeof(input), "t%ld\n", id);
                struct spawn_result res;
                if (run_sh(script, input, 10000, &res) < 0)
                        return (void *)1;
                bool ok = res.exited && res.exit_status == 0 && strcmp(res.out, expect) == 0;
                spawn_result_done(&res);
                if (!ok)
                        return (void *)1;
        }
        return NULL;
}

static void test_parallel_threads(void **state)
{
        (void)state;
        pthread_t threads[8];
        for (long i = 0; i < 8; i++)
                assert_int_equal(pthread_create(&threads[i], NULL, spawn_many, (void *)i), 0);
        int failed = 0;
        for (int i = 0; i < 8; i++) {
                void *r;
                assert_int_equal(pthread_join(threads[i], &r), 0);
                failed += r != NULL;
        }
        assert_int_equal(failed, 0);
}

static void test_env_builder(void **state)
{
        (void)state;
        assert_int_equal(setenv("SPAWNTEST_ONE", "1", 1), 0);
        assert_int_equal(setenv("SPAWNTEST_TWO", "2=2", 1), 0);
        assert_int_equal(setenv("SPAWNTESTX", "no", 1), 0);
        unsetenv("SPAWNTEST_ABSENT");

        struct env_builder b = ENV_BUILDER_INIT;
        char *const *empty = env_builder_array(&b);
        assert_non_null(empty);
        assert_null(empty[0]);

        assert_int_equal(env_builder_add(&b, "A=1"), 0);
        assert_int_equal(env_builder_add(&b, "noequals"), -EINVAL);
        assert_int_equal(env_builder_add(&b, "=x"), -EINVAL);
        assert_int_equal(env_builder_set(&b, "B", "x=y"), 0);
        assert_int_equal(env_builder_set(&b, "A", "replaced"), 0);
        assert_int_equal(env_builder_set(&b, "C=", "v"), -EINVAL);
        assert_int_equal(env_builder_pass(&b, "SPAWNTEST_ABSENT"), 0);
        assert_int_equal(env_builder_pass_prefix(&b, "SPAWNTEST_"), 0);
        assert_int_equal(b.count, 4);
        assert_string_equal(env_builder_get(&b, "A"), "replaced");
        assert_string_equal(env_builder_get(&b, "B"), "x=y");
        assert_string_equal(env_builder_get(&b, "SPAWNTEST_ONE"), "1");
        assert_string_equal(env_builder_get(&b, "SPAWNTEST_TWO"), "2=2");
        assert_null(env_builder_get(&b, "SPAWNTESTX"));
        assert_null(env_builder_get(&b, "SPAWNTEST_ABSENT"));

        char *const *array = env_builder_array(&b);
        assert_string_equal(array[0], "A=replaced");
        assert_null(array[4]);

        char *argv[] = {"env", NULL};
        struct spawn_options o = {
            .path = "/usr/bin/env",
            .argv = argv,
            .envp = array,
            .timeout_ms = 5000,
        };
        struct spawn_result res;
        struct error err = {0};
        assert_int_equal(spawn_run(&o, &res, &err), 0);
        assert_string_equal(res.out, "A=replaced\nB=x=y\nSPAWNTEST_ONE=1\nSPAWNTEST_TWO=2=2\n");
        spawn_result_done(&res);
        env_builder_done(&b);
        assert_null(b.entries);
        env_builder_done(&b);
}

/* As root: the child runs as nobody (65534), with its group and no supplementary group, its stdin,
 * output and timeout handled as for any child. As anyone else: refused, naming the step. */
static void test_credentials(void **state)
{
        (void)state;
        char *argv[] = {"sh", "-c", "read a; echo \"$a $(id -u) $(id -g) $(id -G)\"; kill -TERM $$",
                        NULL};
        char *env[] = {"PATH=/usr/bin:/bin", NULL};
        struct spawn_credentials nobody = {.uid = 65534, .gid = 65534};
        struct spawn_options o = {
            .path = "/bin/sh",
            .argv = argv,
            .envp = env,
            .stdin_data = "hi\n",
            .stdin_size = 3,
            .timeout_ms = 5000,
            .credentials = &nobody,
        };
        struct spawn_result res;
        struct error err = {0};
        int r = spawn_run(&o, &res, &err);
        if (geteuid() != 0) {
                assert_int_equal(r, -EPERM);
                assert_non_null(strstr(err.message, "as uid 65534 gid 65534: setgroups"));
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(res.out, "hi 65534 65534 65534\n");
        /* the signal mask and handlers are the default ones: SIGTERM ended it */
        assert_true(res.signaled);
        assert_int_equal(res.term_signal, SIGTERM);
        spawn_result_done(&res);

        /* a program nobody cannot run: not run, the step named */
        char *missing[] = {"missing", NULL};
        o.path = "/nonexistent/missing";
        o.argv = missing;
        assert_int_equal(spawn_run(&o, &res, &err), -ENOENT);
        assert_non_null(strstr(err.message, "exec failed: No such file or directory"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_exit_status),
            cmocka_unit_test(test_killed_by_signal),
            cmocka_unit_test(test_timeout_terminates),
            cmocka_unit_test(test_timeout_kills_what_ignores_term),
            cmocka_unit_test(test_stdin_and_output),
            cmocka_unit_test(test_large_stdin_round_trip),
            cmocka_unit_test(test_child_ignores_stdin),
            cmocka_unit_test(test_daemonizing_child_does_not_block),
            cmocka_unit_test(test_environment_is_exact),
            cmocka_unit_test(test_fds_stay_home),
            cmocka_unit_test(test_bad_options),
            cmocka_unit_test(test_parallel_threads),
            cmocka_unit_test(test_env_builder),
            cmocka_unit_test(test_credentials),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
