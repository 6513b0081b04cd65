/* The configuration file's meaning: every key and its values, the refusals (unknown section or
 * key, a global key in a target's section, bad values, users that do not exist) with FILE:LINE,
 * and the resolution over a node: sections checked against it, the most specific section
 * winning key by key, percentages of an instance's memory, include and exclude. */
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
#include "ops/config.h"

#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

static struct mig_device migs[] = {
    {.gpu_index = 0,
     .device_index = 0,
     .gpu_instance_id = 9,
     .compute_instance_id = 0,
     .uuid = "MIG-aaaaaaaa-0000-5000-8000-000000000000",
     .profile = "1g.18gb",
     .memory_bytes = 16384 * MIB},
    {.gpu_index = 0,
     .device_index = 1,
     .gpu_instance_id = 10,
     .compute_instance_id = 0,
     .uuid = "MIG-aaaaaaaa-0000-5000-8000-000000000001",
     .profile = "1g.18gb",
     .memory_bytes = 16384 * MIB},
    {.gpu_index = 0,
     .device_index = 2,
     .gpu_instance_id = 3,
     .compute_instance_id = 0,
     .uuid = "MIG-aaaaaaaa-0000-5000-8000-000000000002",
     .profile = "2g.35gb",
     .memory_bytes = 33280 * MIB},
};

static struct gpu gpus[] = {
    {.index = 0,
     .uuid = "GPU-11111111-0000-5000-8000-000000000000",
     .name = "NVIDIA H200",
     .mig_current = MIG_MODE_ENABLED,
     .mig_pending = MIG_MODE_ENABLED,
     .memory_bytes = 143771 * MIB,
     .first_mig_device = 0,
     .mig_device_count = 3},
    {.index = 1,
     .uuid = "GPU-22222222-0000-5000-8000-000000000000",
     .name = "NVIDIA H200",
     .mig_current = MIG_MODE_DISABLED,
     .mig_pending = MIG_MODE_DISABLED,
     .memory_bytes = 143771 * MIB},
};

static const struct node node = {
    .driver_version = "580.159.04",
    .gpus = gpus,
    .gpu_count = 2,
    .mig_devices = migs,
    .mig_device_count = 3,
};

static struct config *parse_ok(const char *text)
{
        struct config *config = NULL;
        struct error err = {0};
        if (config_parse("t.conf", text, strlen(text), &config, &err) != 0)
                fail_msg("%s", err.message);
        return config;
}

static void parse_fails(const char *text, unsigned line, const char *words)
{
        struct config *config = (struct config *)&line;
        struct error err = {0};
        assert_int_equal(config_parse("t.conf", text, strlen(text), &config, &err), -EINVAL);
        assert_ptr_equal(config, (struct config *)&line);
        char prefix[32];
        (void)snprintf(prefix, sizeof(prefix), "t.conf:%u: ", line);
        if (strncmp(err.message, prefix, strlen(prefix)) != 0 || !strstr(err.message, words))
                fail_msg("for %s: got \"%s\", wanted %s...%s", text, err.message, prefix, words);
}

static void test_global_keys(void **state)
{
        _cleanup_config_ struct config *config =
            parse_ok("[global]\n"
                     "runtime_dir = /run/x\n"
                     "layout = default\n"
                     "whole_gpus = yes\n"
                     "include = 0, 1g.18gb\n"
                     "exclude = MIG-aaaaaaaa-0000-5000-8000-000000000001\n"
                     "user = nobody\n"
                     "multiuser = on\n"
                     "start_timeout = 2.5\n"
                     "stop_timeout = 30\n"
                     "threads = 40\n"
                     "pinned_mem = 10G\n"
                     "priority = 1\n"
                     "start_server = root\n");
        assert_string_equal(config->runtime_dir, "/run/x");
        assert_int_equal(config->runtime_dir_line, 2);
        assert_true(config->whole_gpus);
        assert_int_equal(config->include.count, 2);
        assert_string_equal(config->include.names[1], "1g.18gb");
        assert_int_equal(config->exclude.count, 1);
        assert_true(config->user.set);
        assert_string_equal(config->user.name, "nobody");
        assert_true(config->group.set); /* the user's own group */
        assert_int_equal(config->group.id, config->user.gid);
        assert_true(config->multiuser);
        assert_int_equal(config->start_timeout_ms, 2500);
        assert_int_equal(config->stop_timeout_ms, 30000);
        assert_int_equal(config->section_count, 1);
        const struct config_limits *limits = &config->sections[0].limits;
        assert_int_equal(limits->threads, 40);
        assert_int_equal(limits->pinned.bytes, 10 * GIB);
        assert_int_equal(limits->pinned.line, 12);
        assert_int_equal(limits->priority, 1);
        assert_true(limits->server.set);
        assert_int_equal(limits->server.id, 0);
}

static void test_users_by_number(void **state)
{
        _cleanup_config_ struct config *config = parse_ok("[global]\nuser = 0\ngroup = 0\n");
        assert_string_equal(config->user.name, "root");
        assert_string_equal(config->group.name, "root");
}

static void test_pinned_values(void **state)
{
        static const struct {
                const char *value;
                unsigned long long bytes;
                unsigned percent;
        } good[] = {
            {"4G", 4 * GIB, 0},    {"512M", 512 * MIB, 0}, {"1500M", 1500 * MIB, 0},
            {"1T", 1024 * GIB, 0}, {"2g", 2 * GIB, 0},     {"90%", 0, 90},
            {"100%", 0, 100},      {"1%", 0, 1},
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                struct config_pinned pinned;
                struct error err = {0};
                assert_int_equal(config_parse_pinned(good[i].value, &pinned, &err), 0);
                assert_int_equal(pinned.bytes, good[i].bytes);
                assert_int_equal(pinned.percent, good[i].percent);
        }
        static const struct {
                const char *value, *words;
        } bad[] = {
            {"4", "the unit is missing: give 4G or 4096M"},
            {"0G", "more than 0"},
            {"4K", "unknown unit 'K'"},
            {"4GB", "unknown unit 'GB'"},
            {"1.5G", "unknown unit '.5G'"},
            {"0%", "1% to 100%"},
            {"101%", "1% to 100%"},
            {"G", "give a size"},
            {"-1G", "give a size"},
            {"9999999999G", "give a size"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct config_pinned pinned = {.bytes = 77};
                struct error err = {0};
                assert_int_equal(config_parse_pinned(bad[i].value, &pinned, &err), -EINVAL);
                assert_int_equal(pinned.bytes, 77);
                if (!strstr(err.message, bad[i].words))
                        fail_msg("%s: %s", bad[i].value, err.message);
        }
}

static void test_refusals(void **state)
{
        parse_fails("[global]\nthreads = 0\n", 2, "threads = 0: give the active thread percentage");
        parse_fails("[global]\nthreads = 101\n", 2, "from 1 to 100");
        parse_fails("[global]\nthreads = 40%\n", 2, "from 1 to 100");
        parse_fails("[global]\npinned_mem = 10\n", 2, "pinned_mem = 10: the unit is missing");
        parse_fails("[global]\npinned_mem = 10Q\n", 2, "unknown unit 'Q'");
        parse_fails("[global]\npinned_mem = 150%\n", 2, "1% to 100%");
        parse_fails("[global]\npriority = 2\n", 2, "give 0 (normal) or 1");
        parse_fails("[global]\nuser = no-such-user-mpsmig\n", 2, "no such user");
        parse_fails("[global]\nuser = 4000000000\n", 2, "no such user");
        parse_fails("[global]\nuser = nobody\ngroup = no-such-group-mpsmig\n", 3, "no such group");
        parse_fails("[global]\ngroup = root\n", 2, "give the user the daemons run as too");
        parse_fails("[global]\nlayout = seed\nuser = nobody\n", 3, "only with the default layout");
        parse_fails("[global]\nstart_server = root nobody\n", 2, "name one user");
        parse_fails("[global]\nwhole_gpus = maybe\n", 2, "give yes or no");
        parse_fails("[global]\nlayout = flat\n", 2, "give default or seed");
        parse_fails("[global]\nruntime_dir = run\n", 2, "absolute");
        parse_fails("[global]\nstart_timeout = 0\n", 2, "more than 0");
        parse_fails("[global]\nstop_timeout = 5000\n", 2, "at most 3600");
        parse_fails("[global]\ninclude =\n", 2, "name at least one target");
        parse_fails("[global]\nthread = 40\n", 2, "unknown key 'thread' in [global]");
        parse_fails("[gpu 0]\nuser = nobody\n", 2, "'user' belongs in [global]");
        parse_fails("[profile 1g.18gb]\nbogus = 1\n", 2, "unknown key 'bogus' in [profile");
        parse_fails("[gpus 0]\n", 1, "unknown section [gpus 0]");
        parse_fails("[global extra]\n", 1, "unknown section [global extra]");
        parse_fails("[gpu 0 1]\n", 1, "unknown section");
        parse_fails("[gpu]\n", 1, "unknown section [gpu]");
        parse_fails("[gpu zero]\n", 1, "name the GPU by its index");
        parse_fails("[profile big]\n", 1, "not a MIG profile name");
        parse_fails("[instance 0:1:0]\n", 1, "by its whole UUID");
        parse_fails("[global]\nthreads = 40\nthreads = 50\n", 3, "duplicate key 'threads'");
}

static struct target target_of(size_t mig)
{
        return (struct target){.kind = TARGET_MIG_DEVICE,
                               .uuid = migs[mig].uuid,
                               .gpu = &gpus[0],
                               .mig_device = &migs[mig]};
}

static struct target whole_gpu(void)
{
        return (struct target){.kind = TARGET_WHOLE_GPU, .uuid = gpus[1].uuid, .gpu = &gpus[1]};
}

static struct target_limits limits_of(const struct config *config, struct target target)
{
        struct target_limits limits;
        struct error err = {0};
        if (config_limits_for(config, &target, &limits, &err) != 0)
                fail_msg("%s", err.message);
        return limits;
}

static void test_most_specific_wins(void **state)
{
        _cleanup_config_ struct config *config =
            parse_ok("[instance MIG-aaaaaaaa-0000-5000-8000-000000000001]\n"
                     "threads = 10\n"
                     "[global]\n"
                     "threads = 40\n"
                     "pinned_mem = 10G\n"
                     "priority = 0\n"
                     "[gpu 0]\n"
                     "priority = 1\n"
                     "[profile 1g.18gb]\n"
                     "pinned_mem = 90%\n"
                     "[gpu GPU-22222222-0000-5000-8000-000000000000]\n"
                     "start_server = 0\n");
        struct error err = {0};
        size_t unused = 99;
        assert_int_equal(config_check_node(config, &node, &unused, &err), 0);
        assert_int_equal(unused, 0);

        struct target_limits a = limits_of(config, target_of(0));
        assert_int_equal(a.threads, 40);
        assert_int_equal(a.threads_from.scope, CONFIG_SCOPE_GLOBAL);
        assert_int_equal(a.threads_from.line, 4);
        assert_int_equal(a.pinned_percent, 90);
        assert_int_equal(a.pinned_bytes, 16384ULL * 90 / 100 * MIB); /* 14745M */
        assert_int_equal(a.pinned_from.scope, CONFIG_SCOPE_PROFILE);
        assert_int_equal(a.priority, 1);
        assert_int_equal(a.priority_from.scope, CONFIG_SCOPE_GPU);
        assert_false(a.server);

        struct target_limits b = limits_of(config, target_of(1));
        assert_int_equal(b.threads, 10);
        assert_int_equal(b.threads_from.scope, CONFIG_SCOPE_INSTANCE);
        assert_int_equal(b.threads_from.line, 2);

        struct target_limits c = limits_of(config, target_of(2));
        assert_int_equal(c.threads, 40);
        assert_int_equal(c.pinned_bytes, 10 * GIB);
        assert_int_equal(c.pinned_percent, 0);
        assert_int_equal(c.pinned_from.scope, CONFIG_SCOPE_GLOBAL);

        struct target_limits d = limits_of(config, whole_gpu());
        assert_int_equal(d.priority, 0);
        assert_true(d.server);
        assert_string_equal(d.server_user, "root");
        assert_true(target_limits_any(&d));
}

static void test_nothing_set(void **state)
{
        _cleanup_config_ struct config *config = parse_ok("[profile 7g.141gb]\nthreads = 5\n");
        struct target_limits limits = limits_of(config, target_of(0));
        assert_false(target_limits_any(&limits));
        assert_int_equal(limits.priority, -1);
        size_t unused = 0;
        struct error err = {0};
        assert_int_equal(config_check_node(config, &node, &unused, &err), 0);
        assert_int_equal(unused, 1);
}

static void check_node_fails(const char *text, unsigned line, const char *words)
{
        _cleanup_config_ struct config *config = parse_ok(text);
        struct error err = {0};
        assert_int_equal(config_check_node(config, &node, NULL, &err), -EINVAL);
        char prefix[32];
        (void)snprintf(prefix, sizeof(prefix), "t.conf:%u: ", line);
        if (strncmp(err.message, prefix, strlen(prefix)) != 0 || !strstr(err.message, words))
                fail_msg("for %s: got \"%s\"", text, err.message);
}

static void test_sections_against_node(void **state)
{
        check_node_fails("[global]\n[instance MIG-bbbbbbbb-0000-5000-8000-000000000000]\n", 2,
                         "no MIG device or GPU of this node has this UUID");
        check_node_fails("[gpu 2]\n", 1, "this node has no such GPU (2 GPUs");
        check_node_fails("[gpu GPU-33333333-0000-5000-8000-000000000000]\n", 1, "no such GPU");
        check_node_fails("[instance GPU-11111111-0000-5000-8000-000000000000]\n", 1,
                         "GPU 0 is in MIG mode");
        check_node_fails("[gpu 1]\n[gpu GPU-22222222-0000-5000-8000-000000000000]\n", 2,
                         "names the same device as [gpu 1] at line 1");
        check_node_fails("[instance MIG-aaaaaaaa-0000-5000-8000-000000000000]\n"
                         "[instance mig-AAAAAAAA-0000-5000-8000-000000000000]\n",
                         2, "names the same device");
        /* a whole GPU may be an instance */
        _cleanup_config_ struct config *config =
            parse_ok("[instance GPU-22222222-0000-5000-8000-000000000000]\nthreads = 7\n");
        struct error err = {0};
        assert_int_equal(config_check_node(config, &node, NULL, &err), 0);
        assert_int_equal(limits_of(config, whole_gpu()).threads, 7);
}

static void test_percent_without_memory(void **state)
{
        _cleanup_config_ struct config *config = parse_ok("[global]\npinned_mem = 50%\n");
        struct mig_device unknown = migs[0];
        unknown.memory_bytes = 0;
        struct target target = target_of(0);
        target.mig_device = &unknown;
        struct target_limits limits;
        struct error err = {0};
        assert_int_equal(config_limits_for(config, &target, &limits, &err), -EINVAL);
        assert_non_null(strstr(err.message, "t.conf:2: pinned_mem = 50%: the memory of"));
}

static size_t select_count(const char *text, bool strict, int expect)
{
        _cleanup_config_ struct config *config = parse_ok(text);
        struct target targets[] = {target_of(0), target_of(1), target_of(2), whole_gpu()};
        size_t count = ELEMENTSOF(targets);
        struct error err = {0};
        assert_int_equal(config_select(config, &node, strict, targets, &count, &err), expect);
        return count;
}

static void test_include_exclude(void **state)
{
        assert_int_equal(select_count("[global]\n", true, 0), 4);
        assert_int_equal(select_count("[global]\ninclude = 1g.18gb\n", true, 0), 2);
        assert_int_equal(select_count("[global]\ninclude = 0\n", true, 0), 3);
        assert_int_equal(select_count("[global]\ninclude = 1, 0:3:0\n", true, 0), 2);
        assert_int_equal(
            select_count("[global]\nexclude = GPU-11111111-0000-5000-8000-000000000000\n", true, 0),
            1);
        assert_int_equal(
            select_count(
                "[global]\ninclude = 0\nexclude = MIG-aaaaaaaa-0000-5000-8000-000000000001\n", true,
                0),
            2);
        assert_int_equal(select_count("[global]\nexclude = 4g.71gb\n", true, 0), 4);
        select_count("[global]\ninclude = 7\n", true, -EINVAL);
        select_count("[global]\nexclude = 0:4:0\n", true, -EINVAL);
        assert_int_equal(select_count("[global]\nexclude = 7\n", false, 0), 4);
}

static void test_choose_path(void **state)
{
        bool named;
        (void)unsetenv(CONFIG_PATH_ENV);
        assert_string_equal(config_choose_path(NULL, &named), CONFIG_PATH_DEFAULT);
        assert_false(named);
        (void)setenv(CONFIG_PATH_ENV, "", 1);
        assert_string_equal(config_choose_path(NULL, &named), CONFIG_PATH_DEFAULT);
        (void)setenv(CONFIG_PATH_ENV, "/e.conf", 1);
        assert_string_equal(config_choose_path(NULL, &named), "/e.conf");
        assert_true(named);
        assert_string_equal(config_choose_path("/o.conf", &named), "/o.conf");
        assert_true(named);
        (void)setenv(CONFIG_PATH_ENV, "/nonexistent/mpsmig-test.conf", 1);
        struct config *config = NULL;
        struct error err = {0};
        assert_int_equal(config_load(NULL, &config, &err), -ENOENT);
        assert_non_null(strstr(err.message, "named by $MPSMIG_CONFIG"));
        (void)unsetenv(CONFIG_PATH_ENV);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_global_keys),
            cmocka_unit_test(test_users_by_number),
            cmocka_unit_test(test_pinned_values),
            cmocka_unit_test(test_refusals),
            cmocka_unit_test(test_most_specific_wins),
            cmocka_unit_test(test_nothing_set),
            cmocka_unit_test(test_sections_against_node),
            cmocka_unit_test(test_percent_without_memory),
            cmocka_unit_test(test_include_exclude),
            cmocka_unit_test(test_choose_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
