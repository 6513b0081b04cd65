/* The client environment of `env` and `run`: POSIX shell quoting (checked by letting /bin/sh read
 * the words back), the validation of --threads, --pinned-mem and --priority, and the variables
 * built for a target, in order, with the pinned limit keyed by device 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "ops/env.h"

static char *quoted(const char *value)
{
        char *word = NULL;
        assert_int_equal(shell_quote(value, &word), 0);
        assert_non_null(word);
        return word;
}

static void test_quote_forms(void **state)
{
        static const struct {
                const char *value, *word;
        } cases[] = {
            {"MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
             "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0"},
            {"/run/mpsmig/MIG-1/pipe", "/run/mpsmig/MIG-1/pipe"},
            {"0=2G", "0=2G"},
            {"a,b:c@d%e+f_g.h", "a,b:c@d%e+f_g.h"},
            {"", "''"},
            {"a b", "'a b'"},
            {"it's", "'it'\\''s'"},
            {"'", "''\\'''"},
            {"$HOME", "'$HOME'"},
            {"a`b`", "'a`b`'"},
            {"x\ny", "'x\ny'"},
            {"*", "'*'"},
            {"~user", "'~user'"},
            {"a\\b", "'a\\b'"},
            {"-n", "-n"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *word = quoted(cases[i].value);
                assert_string_equal(word, cases[i].word);
        }
}

/* What /bin/sh makes of `word` as the argument of printf %s. */
static char *shell_reads(const char *word)
{
        _cleanup_free_ char *command = NULL;
        assert_true(asprintf(&command, "printf '%%s' %s", word) > 0);
        FILE *pipe = popen(command, "r");
        assert_non_null(pipe);
        char *text = calloc(1, 4096);
        assert_non_null(text);
        size_t n = fread(text, 1, 4095, pipe);
        text[n] = '\0';
        assert_int_equal(pclose(pipe), 0);
        return text;
}

static void test_quote_round_trips_through_sh(void **state)
{
        static const char *const values[] = {
            "plain",
            "two words",
            "it's",
            "''",
            "\"double\"",
            "$(echo no)",
            "`echo no`",
            "back\\slash",
            "semi;colon",
            "a|b&c",
            "new\nline",
            "tab\there",
            "*?[a]",
            "{a,b}",
            "!bang",
            "#hash",
            "/tmp/it's a dir/MIG-1/pipe",
            "trailing ",
            " leading",
        };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                _cleanup_free_ char *word = quoted(values[i]);
                _cleanup_free_ char *read_back = shell_reads(word);
                if (strcmp(read_back, values[i]) != 0)
                        fail_msg("'%s' quoted as %s reads back as '%s'", values[i], word,
                                 read_back);
        }
}

static void test_threads(void **state)
{
        struct error err = {0};
        unsigned percentage = 7;
        assert_int_equal(client_limit_parse_threads("25", &percentage, &err), 0);
        assert_int_equal(percentage, 25);
        assert_int_equal(client_limit_parse_threads("1", &percentage, &err), 0);
        assert_int_equal(percentage, 1);
        assert_int_equal(client_limit_parse_threads("100", &percentage, &err), 0);
        assert_int_equal(percentage, 100);
        static const char *const bad[] = {"0",  "101", "",   "abc",  "2.5", "-5",
                                          "+5", " 5",  "5 ", "0100", "1000"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                percentage = 7;
                assert_int_equal(client_limit_parse_threads(bad[i], &percentage, &err), -EINVAL);
                assert_int_equal(percentage, 7);
                assert_non_null(strstr(err.message, "give a whole percentage from 1 to 100"));
        }
}

static void test_pinned_mem(void **state)
{
        struct error err = {0};
        unsigned long long bytes = 7;
        assert_int_equal(client_limit_parse_pinned_mem("2G", &bytes, &err), 0);
        assert_int_equal(bytes, 2ULL << 30);
        assert_int_equal(client_limit_parse_pinned_mem("512M", &bytes, &err), 0);
        assert_int_equal(bytes, 512ULL << 20);
        assert_int_equal(client_limit_parse_pinned_mem("1T", &bytes, &err), 0);
        assert_int_equal(bytes, 1ULL << 40);
        assert_int_equal(client_limit_parse_pinned_mem("2048K", &bytes, &err), 0);
        assert_int_equal(bytes, 2ULL << 20);
        static const char *const bad[] = {"0", "0G", "", "abc", "G", "-1G", "1.5G", "2X"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                bytes = 7;
                assert_int_equal(client_limit_parse_pinned_mem(bad[i], &bytes, &err), -EINVAL);
                assert_int_equal(bytes, 7);
        }
        /* A bare number: the unit is what is missing, and the message says so. */
        assert_int_equal(client_limit_parse_pinned_mem("2", &bytes, &err), -EINVAL);
        assert_string_equal(err.message, "--pinned-mem '2': the unit is missing: give 2G or 2048M");
        assert_int_equal(client_limit_parse_pinned_mem("100K", &bytes, &err), -EINVAL);
        assert_non_null(strstr(err.message, "whole number of MiB"));
}

static void test_priority(void **state)
{
        struct error err = {0};
        int priority = 7;
        assert_int_equal(client_limit_parse_priority("0", &priority, &err), 0);
        assert_int_equal(priority, 0);
        assert_int_equal(client_limit_parse_priority("1", &priority, &err), 0);
        assert_int_equal(priority, 1);
        static const char *const bad[] = {"2", "-1", "", "01", "one", "1 "};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                priority = 7;
                assert_int_equal(client_limit_parse_priority(bad[i], &priority, &err), -EINVAL);
                assert_int_equal(priority, 7);
        }
}

static const struct gpu gpu = {.index = 0, .uuid = "GPU-8f8bff94-112e-9541-43da-cfd453333404"};
static const struct mig_device mig = {.uuid = "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
                                      .profile = "1c.2g.12gb"};
static const struct target target = {
    .kind = TARGET_MIG_DEVICE, .uuid = mig.uuid, .gpu = &gpu, .mig_device = &mig};

static void test_environment_without_limits(void **state)
{
        struct error err = {0};
        struct client_environment environment;
        struct client_limits none = CLIENT_LIMITS_INIT;
        assert_int_equal(
            client_environment_build(&target, "/run/p", "/run/l", &none, &environment, &err), 0);
        assert_int_equal(environment.count, 3);
        assert_string_equal(environment.variables[0].name, "CUDA_VISIBLE_DEVICES");
        assert_string_equal(environment.variables[0].value, mig.uuid);
        assert_string_equal(environment.variables[1].name, "CUDA_MPS_PIPE_DIRECTORY");
        assert_string_equal(environment.variables[1].value, "/run/p");
        assert_string_equal(environment.variables[2].name, "CUDA_MPS_LOG_DIRECTORY");
        assert_string_equal(environment.variables[2].value, "/run/l");
        assert_null(client_environment_get(&environment, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"));
        assert_int_equal(client_environment_build(&target, "/p", "/l", NULL, &environment, &err),
                         0);
        assert_int_equal(environment.count, 3);
}

static void test_environment_with_limits(void **state)
{
        struct error err = {0};
        struct client_environment environment;
        struct client_limits limits = {
            .thread_percentage = 25, .pinned_bytes = 2ULL << 30, .priority = 1};
        assert_int_equal(client_environment_build(&target, "/p", "/l", &limits, &environment, &err),
                         0);
        assert_int_equal(environment.count, 6);
        assert_string_equal(environment.variables[3].name, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE");
        assert_string_equal(
            client_environment_get(&environment, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "25");
        assert_string_equal(
            client_environment_get(&environment, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=2G");
        assert_string_equal(client_environment_get(&environment, "CUDA_MPS_CLIENT_PRIORITY"), "1");

        limits = (struct client_limits){.pinned_bytes = 1536ULL << 20, .priority = 0};
        assert_int_equal(client_environment_build(&target, "/p", "/l", &limits, &environment, &err),
                         0);
        assert_int_equal(environment.count, 5);
        assert_string_equal(
            client_environment_get(&environment, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=1536M");
        assert_string_equal(client_environment_get(&environment, "CUDA_MPS_CLIENT_PRIORITY"), "0");
}

static void test_environment_too_long(void **state)
{
        struct error err = {0};
        struct client_environment environment = {.count = 99};
        char *long_path = malloc(CLIENT_ENV_VALUE_MAX + 10);
        assert_non_null(long_path);
        memset(long_path, 'a', CLIENT_ENV_VALUE_MAX + 9);
        long_path[CLIENT_ENV_VALUE_MAX + 9] = '\0';
        assert_int_equal(
            client_environment_build(&target, long_path, "/l", NULL, &environment, &err),
            -ENAMETOOLONG);
        assert_int_equal(environment.count, 99);
        assert_non_null(strstr(err.message, "CUDA_MPS_PIPE_DIRECTORY"));
        free(long_path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_quote_forms),
            cmocka_unit_test(test_quote_round_trips_through_sh),
            cmocka_unit_test(test_threads),
            cmocka_unit_test(test_pinned_mem),
            cmocka_unit_test(test_priority),
            cmocka_unit_test(test_environment_without_limits),
            cmocka_unit_test(test_environment_with_limits),
            cmocka_unit_test(test_environment_too_long),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
