/* Target naming over simgpu's topologies (a30-seed, a100-mixed, h100x8-1g, and MIG states that
 * allow or forbid a whole GPU): every form of name, the order and uniqueness of the result, and
 * the errors that list the candidates. A derived topology gives two UUIDs a long common prefix. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "driver/nvml.h"
#include "node/node.h"
#include "node/target_name.h"

#define A30_0_1_0 "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0"
#define A30_0_1_1 "MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9"
#define A30_0_2_0 "MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9"
#define A30_0_2_1 "MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733"
#define A30_GPU_0 "GPU-8f8bff94-112e-9541-43da-cfd453333404"
#define A30_GPU_1 "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38"
#define A30_GPU_2 "GPU-a90c6e94-391e-0fc3-8fc5-e2ef46ec6d2d"
#define A30_GPU_3 "GPU-46d1eefe-dfc8-2f00-16a9-95c08e019d47"

static struct node *discover_file(const char *topology_path)
{
        char library[4096];
        (void)snprintf(library, sizeof(library), "%s/simgpu/lib/libnvidia-ml.so.1",
                       getenv("MPSMIG_BUILD"));
        assert_int_equal(setenv(NVML_LIBRARY_ENV, library, 1), 0);
        assert_int_equal(setenv("SIMGPU_TOPOLOGY", topology_path, 1), 0);
        struct error err = {0};
        _cleanup_nvml_ struct nvml *nvml = NULL;
        if (nvml_open(&nvml, &err) < 0)
                fail_msg("nvml_open(%s): %s", topology_path, err.message);
        struct node *node = NULL;
        if (node_discover(nvml, &node, &err) < 0)
                fail_msg("node_discover(%s): %s", topology_path, err.message);
        return node;
}

static struct node *discover(const char *name)
{
        char path[4096];
        (void)snprintf(path, sizeof(path), "%s/simgpu/topologies/%s.json", getenv("MPSMIG_SOURCE"),
                       name);
        return discover_file(path);
}

/* What target_resolve gave for `names`, as space-separated short names ("0:1:0 1"). */
struct outcome {
        int r;
        char names[4096];
        size_t count;
        const char *first_uuid;
        struct error err;
};

static struct outcome resolve_list(const struct node *node, const char *const *names, size_t n,
                                   bool whole_gpus, bool allow_auto)
{
        struct outcome o = {.r = 0};
        /* a poisoned output: a failure must leave it alone */
        struct target *targets = (struct target *)0x1;
        size_t count = 12345;
        o.r = target_resolve(node, (char *const *)names, n, whole_gpus, allow_auto, &targets,
                             &count, &o.err);
        if (o.r < 0) {
                assert_ptr_equal(targets, (struct target *)0x1);
                assert_int_equal(count, 12345);
                assert_int_equal(o.err.code, o.r);
                assert_true(strlen(o.err.message) > 0);
                assert_true(strlen(o.err.message) < sizeof(o.err.message) - 1);
                return o;
        }
        o.count = count;
        o.first_uuid = count ? targets[0].uuid : NULL;
        size_t len = 0;
        for (size_t i = 0; i < count; i++) {
                char name[32];
                assert_int_equal(target_short_name(&targets[i], name, sizeof(name)), 0);
                len += (size_t)snprintf(o.names + len, sizeof(o.names) - len, "%s%s", i ? " " : "",
                                        name);
                assert_true(len < sizeof(o.names));
        }
        free(targets);
        return o;
}

static struct outcome resolve(const struct node *node, const char *name)
{
        const char *names[] = {name};
        return resolve_list(node, names, 1, false, false);
}

static void expect_targets(const struct node *node, const char *name, const char *expected)
{
        struct outcome o = resolve(node, name);
        if (o.r < 0)
                fail_msg("'%s': %s", name, o.err.message);
        assert_string_equal(o.names, expected);
}

static void expect_error(const struct node *node, const char *name, int code, const char *part)
{
        struct outcome o = resolve(node, name);
        if (o.r >= 0)
                fail_msg("'%s' resolved to '%s'", name, o.names);
        assert_int_equal(o.r, code);
        if (!strstr(o.err.message, part))
                fail_msg("'%s': message \"%s\" lacks \"%s\"", name, o.err.message, part);
}

static void test_a30_every_target_without_names(void **state)
{
        _cleanup_node_ struct node *node = discover("a30-seed");
        struct outcome o = resolve_list(node, NULL, 0, false, false);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.names, "0:1:0 0:1:1 0:2:0 0:2:1");
        assert_string_equal(o.first_uuid, A30_0_1_0);
        o = resolve_list(node, NULL, 0, true, false);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.names, "0:1:0 0:1:1 0:2:0 0:2:1 1 2 3");
}

static void test_a30_uuids_and_prefixes(void **state)
{
        _cleanup_node_ struct node *node = discover("a30-seed");
        expect_targets(node, A30_0_2_1, "0:2:1");
        expect_targets(node, "mig-235F71BE-A125-5CE0-9FE6-0CD97AE57733", "0:2:1");
        expect_targets(node, "MIG-22f0", "0:1:0");
        expect_targets(node, "MIG-d74dcafc-aad0", "0:1:1");
        expect_targets(node, "GPU-0783f1eb", "1");
        expect_targets(node, A30_GPU_3, "3");

        /* the example, word for word up to the list */
        expect_error(node, "MIG-9", -ENOENT,
                     "no target matches 'MIG-9'; targets: 0:1:0 MIG-22f0c05f-... (1c.2g.12gb), "
                     "0:1:1 MIG-d74dcafc-... (1c.2g.12gb), 0:2:0 MIG-27be287f-... (1c.2g.12gb), "
                     "0:2:1 MIG-235f71be-... (1c.2g.12gb), 1 GPU-0783f1eb-... (whole NVIDIA A30)");
        expect_error(node, "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc1", -ENOENT, "no target");
        /* three UUIDs start with MIG-2; one character is too short even where it is unique */
        expect_error(node, "MIG-2", -EINVAL, "too short a UUID prefix");
        expect_error(node, "MIG-2", -EINVAL, "0:1:0 MIG-22f0c05f-...");
        expect_error(node, "MIG-d74", -EINVAL, "at least 4 characters after 'MIG-'");
        expect_error(node, "MIG-", -EINVAL, "too short");
        /* GPU 0 is split into MIG devices: named as a whole it is explained, not matched */
        expect_error(node, "GPU-8f8bff94", -EINVAL, "GPU 0, whose MIG mode is enabled");
        expect_error(node, A30_GPU_0, -EINVAL, "0:2:1 MIG-235f71be-...");
        expect_error(node, "GPU-8f8", -ENOENT, "no target matches 'GPU-8f8'");
}

static void test_a30_indexes(void **state)
{
        _cleanup_node_ struct node *node = discover("a30-seed");
        expect_targets(node, "0:1:0", "0:1:0");
        expect_targets(node, "0:2:1", "0:2:1");
        struct outcome o = resolve(node, "0:1:1");
        assert_int_equal(o.r, 0);
        assert_string_equal(o.first_uuid, A30_0_1_1);
        expect_targets(node, "2", "2");
        o = resolve(node, "2");
        assert_string_equal(o.first_uuid, A30_GPU_2);

        expect_error(node, "0:3:0", -ENOENT, "no MIG device 0:3:0 (GPU:GI:CI); targets: 0:1:0");
        expect_error(node, "1:1:0", -ENOENT, "no MIG device 1:1:0");
        expect_error(node, "0:1", -EINVAL, "give GPU:GI:CI");
        expect_error(node, "0:1:0:0", -EINVAL, "give GPU:GI:CI");
        expect_error(node, "0::0", -EINVAL, "give GPU:GI:CI");
        expect_error(node, "4", -ENOENT, "there is no GPU 4; targets:");
        expect_error(node, "0", -EINVAL,
                     "'0' names GPU 0, whose MIG mode is enabled: it runs no daemon of its own");
        expect_error(node, "0", -EINVAL, "0:1:0 MIG-22f0c05f-... (1c.2g.12gb)");
        expect_error(node, "99999999999", -ENOENT, "no target matches");
}

static void test_a30_profiles_order_duplicates(void **state)
{
        _cleanup_node_ struct node *node = discover("a30-seed");
        expect_targets(node, "1c.2g.12gb", "0:1:0 0:1:1 0:2:0 0:2:1");
        /* a compute instance is also named by its GPU instance's profile */
        expect_targets(node, "2g.12gb", "0:1:0 0:1:1 0:2:0 0:2:1");
        expect_targets(node, "1C.2G.12GB", "0:1:0 0:1:1 0:2:0 0:2:1");
        expect_error(node, "1g.10gb", -ENOENT, "no target matches '1g.10gb'; targets:");
        expect_error(node, "12gb", -ENOENT, "no target matches");
        expect_error(node, "", -EINVAL, "an empty target name");

        const char *names[] = {"0:2:1", "3", "MIG-22f0", "0:1:0", A30_0_2_1, "1"};
        struct outcome o = resolve_list(node, names, ELEMENTSOF(names), false, false);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.names, "0:1:0 0:2:1 1 3");

        const char *with_bad[] = {"0:1:0", "MIG-9"};
        o = resolve_list(node, with_bad, 2, false, false);
        assert_int_equal(o.r, -ENOENT);

        /* the R450/R460 form of a MIG UUID */
        expect_targets(node, "MIG-" A30_GPU_0 "/2/1", "0:2:1");
        expect_error(node, "MIG-" A30_GPU_0 "/3/0", -ENOENT, "no target matches");
        expect_error(node, "MIG-" A30_GPU_0 "/x", -EINVAL, "is not a MIG UUID");
}

static void test_a30_auto(void **state)
{
        _cleanup_node_ struct node *node = discover("a30-seed");
        expect_error(node, "auto", -EINVAL, "'auto' is only valid for `mpsmig run --on`");
        const char *names[] = {"auto"};
        struct outcome o = resolve_list(node, names, 1, false, true);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.names, "0:1:0 0:1:1 0:2:0 0:2:1");
        o = resolve_list(node, names, 1, true, true);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.names, "0:1:0 0:1:1 0:2:0 0:2:1 1 2 3");
        const char *auto_and_more[] = {"2", "AUTO"};
        o = resolve_list(node, auto_and_more, 2, false, true);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.names, "0:1:0 0:1:1 0:2:0 0:2:1 2");
}

static void test_a100_mixed(void **state)
{
        _cleanup_node_ struct node *node = discover("a100-mixed");
        /* MIG-66eaf9ce (0:1:2) and MIG-6620f1b1 (0:5:0) share "MIG-66" */
        expect_error(node, "MIG-66", -EINVAL, "too short");
        expect_error(node, "MIG-66", -EINVAL,
                     "it matches: 0:1:2 MIG-66eaf9ce-... (1c.3g.20gb), 0:5:0 MIG-6620f1b1-... "
                     "(2g.10gb)");
        expect_error(node, "MIG-66e", -EINVAL, "too short");
        expect_targets(node, "MIG-66ea", "0:1:2");
        expect_targets(node, "MIG-6620", "0:5:0");
        expect_targets(node, "MIG-c66c", "0:13:0");

        expect_targets(node, "3g.20gb", "0:1:0 0:1:2");
        expect_targets(node, "2c.3g.20gb", "0:1:0");
        expect_targets(node, "1c.3g.20gb", "0:1:2");
        expect_targets(node, "2g.10gb", "0:5:0");
        expect_targets(node, "1g.5gb", "0:13:0");
        expect_error(node, "3c.3g.20gb", -ENOENT, "no target matches");
        expect_targets(node, "0:13:0", "0:13:0");
        expect_error(node, "0:1:1", -ENOENT, "no MIG device 0:1:1");
}

static void test_h100x8_1g(void **state)
{
        _cleanup_node_ struct node *node = discover("h100x8-1g");
        struct outcome o = resolve(node, "1g.10gb");
        assert_int_equal(o.r, 0);
        assert_int_equal(o.count, 56);
        o = resolve_list(node, NULL, 0, true, false);
        assert_int_equal(o.count, 56);
        expect_targets(node, "0:7:0", "0:7:0");
        expect_targets(node, "7:13:0", "7:13:0");
        expect_targets(node, "MIG-85369dc8", "0:7:0");
        expect_error(node, "7", -EINVAL, "GPU 7, whose MIG mode is enabled");
        expect_error(node, "8", -ENOENT, "there is no GPU 8");

        /* 56 candidates do not fit one message: the list is cut and the rest counted */
        o = resolve(node, "MIG-ffff");
        assert_int_equal(o.r, -ENOENT);
        assert_non_null(strstr(o.err.message, "no target matches 'MIG-ffff'; targets: 0:7:0"));
        assert_non_null(strstr(o.err.message, "more (see mpsmig list)"));
}

static void test_whole_gpu_mig_states(void **state)
{
        _cleanup_node_ struct node *pending = discover("mig-pending");
        /* GPU 0: MIG disabled, enabled after a reset: still a whole GPU now */
        expect_targets(pending, "0", "0");
        /* GPU 1: MIG enabled (disabled after a reset) with no instances */
        expect_error(pending, "1", -EINVAL, "no MIG devices");

        _cleanup_node_ struct node *empty = discover("mig-empty");
        expect_error(empty, "0", -EINVAL, "no MIG devices");
        struct outcome o = resolve_list(empty, NULL, 0, true, false);
        assert_int_equal(o.r, 0);
        assert_int_equal(o.count, 0);
}

/* a30-seed with device 3's UUID changed to share 12 characters with device 0's. */
static void test_long_ambiguous_prefix(void **state)
{
        char source[4096];
        (void)snprintf(source, sizeof(source), "%s/simgpu/topologies/a30-seed.json",
                       getenv("MPSMIG_SOURCE"));
        json_error_t error;
        json_t *topology = json_load_file(source, 0, &error);
        assert_non_null(topology);
        json_t *devices = json_object_get(
            json_object_get(json_array_get(json_object_get(topology, "gpus"), 0), "mig"),
            "devices");
        assert_int_equal(json_array_size(devices), 4);
        assert_int_equal(
            json_object_set_new(json_array_get(devices, 3), "uuid",
                                json_string("MIG-22f0c05f-0000-5ea2-8297-789695656dc0")),
            0);
        char path[] = "/tmp/mpsmig-test-topology.XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(json_dumpfd(topology, fd, 0), 0);
        (void)close(fd);
        json_decref(topology);

        _cleanup_node_ struct node *node = discover_file(path);
        (void)unlink(path);
        expect_error(node, "MIG-22f0c05f", -EINVAL,
                     "'MIG-22f0c05f' matches 2 targets; give more of the UUID: 0:1:0 " A30_0_1_0
                     " (1c.2g.12gb), 0:2:1 MIG-22f0c05f-0000-5ea2-8297-789695656dc0");
        expect_targets(node, "MIG-22f0c05f-5", "0:1:0");
        expect_targets(node, "MIG-22f0c05f-0", "0:2:1");
}

static void test_short_names(void **state)
{
        _cleanup_node_ struct node *node = discover("a30-seed");
        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        assert_true(node_targets(node, true, &targets, &count) >= 0);
        assert_int_equal(count, 7);
        char buffer[8];
        assert_int_equal(target_short_name(&targets[3], buffer, sizeof(buffer)), 0);
        assert_string_equal(buffer, "0:2:1");
        assert_int_equal(target_short_name(&targets[6], buffer, sizeof(buffer)), 0);
        assert_string_equal(buffer, "3");
        char tiny[5];
        assert_int_equal(target_short_name(&targets[0], tiny, sizeof(tiny)), -ENOBUFS);
}

static int setup_suite(void **state)
{
        if (!getenv("MPSMIG_BUILD") || !getenv("MPSMIG_SOURCE")) {
                fprintf(stderr, "MPSMIG_BUILD and MPSMIG_SOURCE must be set (ctest sets them)\n");
                return -1;
        }
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_a30_every_target_without_names),
            cmocka_unit_test(test_a30_uuids_and_prefixes),
            cmocka_unit_test(test_a30_indexes),
            cmocka_unit_test(test_a30_profiles_order_duplicates),
            cmocka_unit_test(test_a30_auto),
            cmocka_unit_test(test_a100_mixed),
            cmocka_unit_test(test_h100x8_1g),
            cmocka_unit_test(test_whole_gpu_mig_states),
            cmocka_unit_test(test_long_ambiguous_prefix),
            cmocka_unit_test(test_short_names),
        };
        return cmocka_run_group_tests(tests, setup_suite, NULL);
}
