/* The Slurm plugin's settings, without Slurm: its plugstack.conf arguments, the checks srun makes
 * of --mps-instance, --mps-threads and --mps-pinned-mem, and the run_request a task gets (the
 * same as `mpsmig run --on X --threads N --pinned-mem S` builds). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "spank/config.h"

static int parse(struct spank_config *config, struct error *err, int argc, ...)
{
        char *argv[8];
        va_list words;
        va_start(words, argc);
        for (int i = 0; i < argc; i++)
                argv[i] = va_arg(words, char *);
        va_end(words);
        return mpsmig_spank_config_parse(argc, argv, config, err);
}

static void test_arguments(void **state)
{
        struct spank_config config = {.runtime_dir = "untouched"};
        struct error err = {0};
        assert_int_equal(parse(&config, &err, 0), 0);
        assert_int_equal(config.layout_kind, LAYOUT_DEFAULT);
        assert_null(config.runtime_dir);

        assert_int_equal(parse(&config, &err, 2, "layout=seed", "runtime_dir=/srv/mps"), 0);
        assert_int_equal(config.layout_kind, LAYOUT_SEED);
        assert_string_equal(config.runtime_dir, "/srv/mps");
        assert_int_equal(parse(&config, &err, 1, "layout=default"), 0);
        assert_int_equal(config.layout_kind, LAYOUT_DEFAULT);
}

static void test_bad_arguments(void **state)
{
        struct spank_config config = {.runtime_dir = "untouched"};
        struct error err = {0};
        assert_int_equal(parse(&config, &err, 1, "runtime_dir=run/mpsmig"), -EINVAL);
        assert_string_equal(err.message, "'runtime_dir=run/mpsmig': give the runtime folder as an "
                                         "absolute path (runtime_dir=/run/mpsmig)");
        assert_int_equal(parse(&config, &err, 1, "runtime_dir="), -EINVAL);
        assert_int_equal(parse(&config, &err, 1, "layout=tmp"), -EINVAL);
        assert_string_equal(err.message, "'layout=tmp': give layout=default or layout=seed");
        assert_int_equal(parse(&config, &err, 2, "layout=seed", "layout=seed"), -EINVAL);
        assert_string_equal(err.message, "layout= is given twice");
        assert_int_equal(parse(&config, &err, 2, "runtime_dir=/a", "runtime_dir=/b"), -EINVAL);
        assert_int_equal(parse(&config, &err, 1, "runtime-dir=/run/mpsmig"), -EINVAL);
        assert_string_equal(err.message,
                            "unknown argument 'runtime-dir=/run/mpsmig'; known: "
                            "runtime_dir=/absolute/folder, layout=default or layout=seed");
        /* nothing is written on failure */
        assert_string_equal(config.runtime_dir, "untouched");
}

static void test_option_checks(void **state)
{
        struct error err = {0};
        assert_int_equal(mpsmig_spank_option_check("mps-instance", "auto", &err), 0);
        assert_int_equal(mpsmig_spank_option_check("mps-instance", "0:1:0", &err), 0);
        assert_int_equal(mpsmig_spank_option_check("mps-instance", "1g.10gb", &err), 0);
        assert_int_equal(
            mpsmig_spank_option_check("mps-instance",
                                      "MIG-GPU-8f8bff94-112e-9541-43da-cfd453333404/1/0", &err),
            0);
        assert_int_equal(mpsmig_spank_option_check("mps-instance", "", &err), -EINVAL);
        assert_non_null(strstr(err.message, "--mps-instance: give auto, a MIG or GPU UUID"));
        assert_int_equal(mpsmig_spank_option_check("mps-instance", "0:1:0 0:2:0", &err), -EINVAL);
        assert_int_equal(mpsmig_spank_option_check("mps-instance", "0:1:0\n", &err), -EINVAL);
        char long_name[SPANK_INSTANCE_MAX + 2];
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        assert_int_equal(mpsmig_spank_option_check("mps-instance", long_name, &err), -EINVAL);
        long_name[SPANK_INSTANCE_MAX] = '\0';
        assert_int_equal(mpsmig_spank_option_check("mps-instance", long_name, &err), 0);

        assert_int_equal(mpsmig_spank_option_check("mps-threads", "50", &err), 0);
        assert_int_equal(mpsmig_spank_option_check("mps-threads", "0", &err), -EINVAL);
        assert_string_equal(err.message,
                            "--mps-threads '0': give a whole percentage from 1 to 100");
        assert_int_equal(mpsmig_spank_option_check("mps-threads", "101", &err), -EINVAL);
        assert_int_equal(mpsmig_spank_option_check("mps-threads", "5.5", &err), -EINVAL);

        assert_int_equal(mpsmig_spank_option_check("mps-pinned-mem", "2G", &err), 0);
        assert_int_equal(mpsmig_spank_option_check("mps-pinned-mem", "2", &err), -EINVAL);
        assert_string_equal(err.message,
                            "--mps-pinned-mem '2': the unit is missing: give 2G or 2048M");
        assert_int_equal(mpsmig_spank_option_check("mps-pinned-mem", "1.5K", &err), -EINVAL);
        assert_non_null(strstr(err.message, "--mps-pinned-mem '1.5K'"));

        assert_int_equal(mpsmig_spank_option_check("mps-threads", NULL, &err), -EINVAL);
        assert_string_equal(err.message, "--mps-threads needs a value");
        assert_int_equal(mpsmig_spank_option_check("mps-other", "1", &err), -EINVAL);
}

static void test_request(void **state)
{
        struct spank_config config = {.layout_kind = LAYOUT_SEED, .runtime_dir = "/srv/mps"};
        struct spank_job_options none = {0};
        assert_false(mpsmig_spank_options_used(&none));

        /* a limit alone means auto */
        struct spank_job_options threads = {.threads = "25"};
        assert_true(mpsmig_spank_options_used(&threads));
        struct run_request request;
        struct error err = {0};
        assert_int_equal(mpsmig_spank_request(&config, &threads, 4242, &request, &err), 0);
        assert_string_equal(request.on, "auto");
        assert_int_equal(request.limits.thread_percentage, 25);
        assert_int_equal(request.limits.pinned_bytes, 0);
        assert_int_equal(request.limits.priority, -1);
        assert_int_equal(request.record_pid, 4242);
        assert_int_equal(request.layout_kind, LAYOUT_SEED);
        assert_string_equal(request.runtime_dir, "/srv/mps");
        assert_null(request.profile);
        assert_false(request.single);

        struct spank_job_options all = {.instance = "0:1:0", .pinned_mem = "512M"};
        assert_int_equal(mpsmig_spank_request(&config, &all, 7, &request, &err), 0);
        assert_string_equal(request.on, "0:1:0");
        assert_int_equal(request.limits.thread_percentage, 0);
        assert_int_equal(request.limits.pinned_bytes, 512ULL * 1024 * 1024);

        /* values are checked again on the node: they come from srun */
        struct spank_job_options bad = {.instance = "auto", .threads = "200"};
        request.record_pid = 1;
        assert_int_equal(mpsmig_spank_request(&config, &bad, 7, &request, &err), -EINVAL);
        assert_int_equal(request.record_pid, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_arguments),
            cmocka_unit_test(test_bad_arguments),
            cmocka_unit_test(test_option_checks),
            cmocka_unit_test(test_request),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
