/* The node model over simgpu's topologies: every GPU and MIG device field compared with what the
 * topology file says (read here independently with jansson), hand-written checks of the seed
 * A30 and the H100, lost GPUs (and their bus ids from the driver's GPU folder), MIG states, and
 * the targets derived from the model. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "driver/nvml.h"
#include "node/node.h"

#define MIB (1024ULL * 1024ULL)

static char topology_path[4096];

/* Opens simgpu's NVML over a shipped topology. */
static struct nvml *open_topology(const char *name)
{
        char library[4096];
        (void)snprintf(library, sizeof(library), "%s/simgpu/lib/libnvidia-ml.so.1",
                       getenv("MPSMIG_BUILD"));
        (void)snprintf(topology_path, sizeof(topology_path), "%s/simgpu/topologies/%s.json",
                       getenv("MPSMIG_SOURCE"), name);
        assert_int_equal(setenv(NVML_LIBRARY_ENV, library, 1), 0);
        assert_int_equal(setenv("SIMGPU_TOPOLOGY", topology_path, 1), 0);
        struct error err = {0};
        struct nvml *nvml = NULL;
        if (nvml_open(&nvml, &err) < 0)
                fail_msg("nvml_open(%s): %s", name, err.message);
        return nvml;
}

static struct node *discover(const char *name)
{
        _cleanup_nvml_ struct nvml *nvml = open_topology(name);
        struct error err = {0};
        struct node *node = NULL;
        if (node_discover(nvml, &node, &err) < 0)
                fail_msg("node_discover(%s): %s", name, err.message);
        return node; /* the model owns copies: it outlives NVML */
}

static int setup_suite(void **state)
{
        if (!getenv("MPSMIG_BUILD") || !getenv("MPSMIG_SOURCE")) {
                fprintf(stderr, "MPSMIG_BUILD and MPSMIG_SOURCE must be set (ctest sets them)\n");
                return -1;
        }
        return 0;
}

static const char *json_text(json_t *object, const char *key)
{
        const char *text = json_string_value(json_object_get(object, key));
        if (!text)
                fail_msg("topology %s: no string \"%s\"", topology_path, key);
        return text;
}

static unsigned long long json_number(json_t *object, const char *key)
{
        json_t *value = json_object_get(object, key);
        if (!json_is_integer(value))
                fail_msg("topology %s: no integer \"%s\"", topology_path, key);
        return (unsigned long long)json_integer_value(value);
}

/* The SMs of the GPU-instance profile with the most slices: the whole GPU, as node.c reads it. */
static unsigned largest_profile_sms(json_t *mig)
{
        unsigned best_slices = 0, sms = 0;
        size_t i;
        json_t *profile;
        json_array_foreach(json_object_get(mig, "profiles"), i, profile)
        {
                if (json_number(profile, "slices") > best_slices) {
                        best_slices = (unsigned)json_number(profile, "slices");
                        sms = (unsigned)json_number(profile, "sm_count");
                }
        }
        return sms;
}

static void check_mig_devices(const struct node *node, const struct gpu *gpu, json_t *devices)
{
        assert_int_equal(gpu->mig_device_count, json_array_size(devices));
        size_t i;
        json_t *device;
        json_array_foreach(devices, i, device)
        {
                const struct mig_device *mig = &node->mig_devices[gpu->first_mig_device + i];
                assert_int_equal(mig->gpu_index, gpu->index);
                assert_int_equal(mig->device_index, json_number(device, "slot"));
                assert_int_equal(mig->gpu_instance_id, json_number(device, "gpu_instance_id"));
                assert_int_equal(mig->compute_instance_id,
                                 json_number(device, "compute_instance_id"));
                assert_string_equal(mig->uuid, json_text(device, "uuid"));
                assert_string_equal(mig->profile, json_text(device, "profile"));
                assert_int_equal(mig->sm_count, json_number(device, "sm_count"));
                assert_int_equal(mig->memory_bytes, json_number(device, "memory_mib") * MIB);
        }
}

/* Every field of the model, and the target counts, against the topology file. */
static void check_against_topology(const char *name, json_t *topology)
{
        struct node *node = discover(name);
        json_t *driver = json_object_get(topology, "driver");
        json_t *gpus = json_object_get(topology, "gpus");

        assert_string_equal(node->driver_version, json_text(driver, "version"));
        assert_int_equal(node->cuda_driver_version, json_number(driver, "cuda_version"));
        assert_int_equal(node->gpu_count, json_array_size(gpus));
        assert_int_equal(node->lost_gpu_count, 0);

        size_t mig_total = 0, whole = 0, i;
        json_t *entry;
        json_array_foreach(gpus, i, entry)
        {
                const struct gpu *gpu = &node->gpus[i];
                json_t *mig = json_object_get(entry, "mig");
                assert_int_equal(gpu->index, i);
                assert_string_equal(gpu->uuid, json_text(entry, "uuid"));
                assert_string_equal(gpu->name, json_text(entry, "name"));
                assert_int_equal(gpu->memory_bytes, json_number(entry, "memory_mib") * MIB);
                assert_false(gpu->lost);
                assert_int_equal(gpu->first_mig_device, mig_total);
                if (!mig) {
                        assert_int_equal(gpu->mig_current, MIG_MODE_UNSUPPORTED);
                        assert_int_equal(gpu->mig_pending, MIG_MODE_UNSUPPORTED);
                        assert_int_equal(gpu->mig_device_count, 0);
                        whole++;
                        continue;
                }
                assert_int_equal(gpu->mig_current, json_number(mig, "current"));
                assert_int_equal(gpu->mig_pending, json_number(mig, "pending"));
                assert_int_equal(gpu->sm_count, largest_profile_sms(mig));
                /* MIG on: only a MIG device tells the compute mode (node.c) */
                if (gpu->mig_current == MIG_MODE_ENABLED && gpu->mig_device_count == 0)
                        assert_int_equal(gpu->compute_mode, COMPUTE_MODE_UNKNOWN);
                else
                        assert_string_equal(compute_mode_string(gpu->compute_mode),
                                            json_text(entry, "compute_mode"));
                if (gpu->mig_current == MIG_MODE_ENABLED) {
                        check_mig_devices(node, gpu, json_object_get(mig, "devices"));
                } else {
                        assert_int_equal(gpu->mig_device_count, 0);
                        whole++;
                }
                mig_total += gpu->mig_device_count;
        }
        assert_int_equal(node->mig_device_count, mig_total);

        struct target *targets = NULL;
        size_t count = 99;
        assert_int_equal(node_targets(node, false, &targets, &count), (int)mig_total);
        assert_int_equal(count, mig_total);
        free(targets);
        assert_int_equal(node_targets(node, true, &targets, &count), (int)(mig_total + whole));
        assert_int_equal(count, mig_total + whole);
        free(targets);

        node_free(node);
}

/* Topologies without a loaded driver or with a lost GPU have tests of their own. */
static bool topology_is_healthy(json_t *topology)
{
        if (!json_is_true(json_object_get(json_object_get(topology, "driver"), "loaded")))
                return false;
        size_t i;
        json_t *gpu;
        json_array_foreach(json_object_get(topology, "gpus"), i, gpu)
        {
                if (json_is_true(json_object_get(gpu, "lost")))
                        return false;
        }
        return true;
}

static void test_every_topology_matches_its_file(void **state)
{
        char folder[4096];
        (void)snprintf(folder, sizeof(folder), "%s/simgpu/topologies", getenv("MPSMIG_SOURCE"));
        DIR *dir = opendir(folder);
        assert_non_null(dir);
        size_t checked = 0;
        struct dirent *entry;
        while ((entry = readdir(dir))) {
                char name[256];
                size_t length = strlen(entry->d_name);
                if (length <= 5 || strcmp(entry->d_name + length - 5, ".json") != 0)
                        continue;
                (void)snprintf(name, sizeof(name), "%.*s", (int)(length - 5), entry->d_name);
                char path[4096 + 256];
                (void)snprintf(path, sizeof(path), "%s/%s", folder, entry->d_name);
                json_error_t jerr;
                json_t *topology = json_load_file(path, 0, &jerr);
                if (!topology)
                        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
                if (topology_is_healthy(topology)) {
                        check_against_topology(name, topology);
                        checked++;
                }
                json_decref(topology);
        }
        closedir(dir);
        /* a30-seed, h100, h100x8-1g, a100-mixed, mig-empty, mig-pending, no-gpu at least */
        assert_true(checked >= 7);
}

static void test_a30_seed(void **state)
{
        static const char *const mig_uuids[] = {
            "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
            "MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9",
            "MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9",
            "MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733",
        };
        static const unsigned gi[] = {1, 1, 2, 2}, ci[] = {0, 1, 0, 1};
        _cleanup_node_ struct node *node = discover("a30-seed");
        assert_string_equal(node->driver_version, "545.23.08");
        assert_int_equal(node->gpu_count, 4);
        assert_int_equal(node->mig_device_count, 4);

        const struct gpu *gpu0 = &node->gpus[0];
        assert_string_equal(gpu0->uuid, "GPU-8f8bff94-112e-9541-43da-cfd453333404");
        assert_string_equal(gpu0->name, "NVIDIA A30");
        assert_int_equal(gpu0->mig_current, MIG_MODE_ENABLED);
        assert_int_equal(gpu0->mig_pending, MIG_MODE_ENABLED);
        assert_int_equal(gpu0->sm_count, 56);
        assert_int_equal(gpu0->memory_bytes, 24576 * MIB);
        assert_int_equal(gpu0->compute_mode, COMPUTE_MODE_DEFAULT);
        assert_int_equal(gpu0->first_mig_device, 0);
        assert_int_equal(gpu0->mig_device_count, 4);
        for (unsigned i = 0; i < 4; i++) {
                const struct mig_device *mig = &node->mig_devices[i];
                assert_int_equal(mig->gpu_index, 0);
                assert_int_equal(mig->device_index, i);
                assert_int_equal(mig->gpu_instance_id, gi[i]);
                assert_int_equal(mig->compute_instance_id, ci[i]);
                assert_string_equal(mig->uuid, mig_uuids[i]);
                assert_string_equal(mig->profile, "1c.2g.12gb");
                assert_int_equal(mig->sm_count, 14);
                assert_int_equal(mig->memory_bytes, 11968 * MIB);
        }
        static const char *const gpu_uuids[] = {
            "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38",
            "GPU-a90c6e94-391e-0fc3-8fc5-e2ef46ec6d2d",
            "GPU-46d1eefe-dfc8-2f00-16a9-95c08e019d47",
        };
        for (unsigned i = 1; i < 4; i++) {
                assert_int_equal(node->gpus[i].index, i);
                assert_string_equal(node->gpus[i].uuid, gpu_uuids[i - 1]);
                assert_int_equal(node->gpus[i].mig_current, MIG_MODE_DISABLED);
                assert_int_equal(node->gpus[i].mig_device_count, 0);
                assert_string_equal(gpu_mig_state_string(&node->gpus[i]), "disabled");
        }

        /* MIG devices only, then with whole GPUs in nvidia-smi -L order */
        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        assert_int_equal(node_targets(node, false, &targets, &count), 4);
        for (unsigned i = 0; i < 4; i++) {
                assert_int_equal(targets[i].kind, TARGET_MIG_DEVICE);
                assert_string_equal(targets[i].uuid, mig_uuids[i]);
                assert_ptr_equal(targets[i].gpu, gpu0);
                assert_ptr_equal(targets[i].mig_device, &node->mig_devices[i]);
        }
        free(targets);
        assert_int_equal(node_targets(node, true, &targets, &count), 7);
        assert_int_equal(count, 7);
        assert_string_equal(targets[3].uuid, mig_uuids[3]);
        for (unsigned i = 4; i < 7; i++) {
                assert_int_equal(targets[i].kind, TARGET_WHOLE_GPU);
                assert_ptr_equal(targets[i].gpu, &node->gpus[i - 3]);
                assert_string_equal(targets[i].uuid, gpu_uuids[i - 4]);
                assert_null(targets[i].mig_device);
        }
}

static void test_h100_whole_gpu(void **state)
{
        _cleanup_node_ struct node *node = discover("h100");
        assert_string_equal(node->driver_version, "580.159.04");
        assert_int_equal(node->cuda_driver_version, 13000);
        assert_int_equal(node->gpu_count, 1);
        assert_int_equal(node->mig_device_count, 0);
        const struct gpu *gpu = &node->gpus[0];
        assert_string_equal(gpu->name, "NVIDIA H100 80GB HBM3");
        assert_int_equal(gpu->sm_count, 132);
        assert_int_equal(gpu->memory_bytes, 81559 * MIB);
        assert_int_equal(gpu->mig_current, MIG_MODE_DISABLED);
        assert_int_equal(gpu->mig_pending, MIG_MODE_DISABLED);

        _cleanup_free_ struct target *targets = NULL;
        size_t count = 99;
        assert_int_equal(node_targets(node, false, &targets, &count), 0);
        assert_int_equal(count, 0);
        assert_null(targets);
        assert_int_equal(node_targets(node, true, &targets, &count), 1);
        assert_int_equal(targets[0].kind, TARGET_WHOLE_GPU);
        assert_string_equal(targets[0].uuid, gpu->uuid);
}

static void test_pending_and_empty_mig_states(void **state)
{
        _cleanup_node_ struct node *node = discover("mig-pending");
        assert_int_equal(node->gpu_count, 2);
        assert_int_equal(node->gpus[0].mig_current, MIG_MODE_DISABLED);
        assert_int_equal(node->gpus[0].mig_pending, MIG_MODE_ENABLED);
        assert_string_equal(gpu_mig_state_string(&node->gpus[0]), "disabled, enabled after reset");
        assert_int_equal(node->gpus[1].mig_current, MIG_MODE_ENABLED);
        assert_int_equal(node->gpus[1].mig_pending, MIG_MODE_DISABLED);
        assert_string_equal(gpu_mig_state_string(&node->gpus[1]), "enabled, disabled after reset");
        assert_int_equal(node->gpus[1].mig_device_count, 0);

        /* GPU 0 is still whole until the reset; GPU 1 is in MIG mode with nothing to target */
        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        assert_int_equal(node_targets(node, true, &targets, &count), 1);
        assert_ptr_equal(targets[0].gpu, &node->gpus[0]);
}

static void test_lost_gpu_fails_strict_discovery(void **state)
{
        _cleanup_nvml_ struct nvml *nvml = open_topology("lost-gpu");
        struct error err = {0};
        struct node *node = NULL;
        assert_int_equal(node_discover(nvml, &node, &err), -ENXIO);
        assert_null(node);
        assert_non_null(strstr(err.message, "(GPU 1): GPU is lost"));
        assert_int_equal(strncmp(err.message, "nvmlDevice", strlen("nvmlDevice")), 0);
}

static void test_lost_gpu_kept_in_lenient_discovery(void **state)
{
        _cleanup_nvml_ struct nvml *nvml = open_topology("lost-gpu");
        struct error err = {0};
        _cleanup_node_ struct node *node = NULL;
        assert_int_equal(node_discover_with_lost(nvml, &node, &err), 1);
        assert_int_equal(node->gpu_count, 2);
        assert_int_equal(node->lost_gpu_count, 1);
        assert_false(node->gpus[0].lost);
        assert_string_equal(node->gpus[0].uuid, "GPU-434e4ea5-63be-fa43-f283-088940fa7ed2");
        assert_int_equal(node->gpus[0].sm_count, 132);
        const struct gpu *lost = &node->gpus[1];
        assert_true(lost->lost);
        assert_int_equal(lost->index, 1);
        assert_int_equal(lost->mig_device_count, 0);
        assert_non_null(strstr(lost->lost_reason, "(GPU 1): GPU is lost"));
        assert_string_equal(gpu_mig_state_string(lost), "lost");

        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        assert_int_equal(node_targets(node, true, &targets, &count), 1);
        assert_ptr_equal(targets[0].gpu, &node->gpus[0]);
}

/* NVML refuses a lost GPU's handle, so its bus id comes from the driver's folder of GPUs
 * (/proc/driver/nvidia/gpus, spelt "0000:2a:00.0"): the one no healthy GPU has. */
static void test_lost_gpu_bus_id(void **state)
{
        char dir[256], path[512];
        (void)snprintf(dir, sizeof(dir), "%s/gpus.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        assert_non_null(mkdtemp(dir));
        const char *entries[] = {"0000:18:00.0", "0000:2a:00.0", "not-a-gpu"};
        for (size_t i = 0; i < 3; i++) {
                (void)snprintf(path, sizeof(path), "%s/%s", dir, entries[i]);
                assert_int_equal(mkdir(path, 0755), 0);
        }
        assert_int_equal(setenv(NODE_NVIDIA_GPUS_DIR_ENV, dir, 1), 0);
        _cleanup_nvml_ struct nvml *nvml = open_topology("lost-gpu");
        struct error err = {0};
        _cleanup_node_ struct node *node = NULL;
        assert_int_equal(node_discover_with_lost(nvml, &node, &err), 1);
        assert_string_equal(node->gpus[0].pci_bus_id, "00000000:18:00.0"); /* from NVML */
        assert_string_equal(node->gpus[1].pci_bus_id, "00000000:2A:00.0");

        /* A count that does not match (a GPU the driver lists that NVML does not) is no guess. */
        (void)snprintf(path, sizeof(path), "%s/0000:3b:00.0", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        node->gpus[1].pci_bus_id[0] = '\0';
        node_lost_bus_ids(node, dir);
        assert_string_equal(node->gpus[1].pci_bus_id, "");
        node_lost_bus_ids(node, "/nonexistent/gpus"); /* no folder: nothing, no failure */
        assert_string_equal(node->gpus[1].pci_bus_id, "");
        assert_int_equal(unsetenv(NODE_NVIDIA_GPUS_DIR_ENV), 0);
        for (size_t i = 0; i < 3; i++) {
                (void)snprintf(path, sizeof(path), "%s/%s", dir, entries[i]);
                assert_int_equal(rmdir(path), 0);
        }
        (void)snprintf(path, sizeof(path), "%s/0000:3b:00.0", dir);
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(rmdir(dir), 0);

        char normal[32];
        assert_int_equal(node_normalize_bus_id("0000:ca:00.0", normal, sizeof(normal)), 0);
        assert_string_equal(normal, "00000000:CA:00.0");
        assert_int_equal(node_normalize_bus_id("00000000:CA:00.0", normal, sizeof(normal)), 0);
        assert_string_equal(normal, "00000000:CA:00.0");
        assert_int_equal(node_normalize_bus_id("0000:ca:00.0x", normal, sizeof(normal)), -EINVAL);
        assert_int_equal(node_normalize_bus_id("..", normal, sizeof(normal)), -EINVAL);
}

static void test_state_words(void **state)
{
        assert_string_equal(mig_mode_string(MIG_MODE_ENABLED), "enabled");
        assert_string_equal(mig_mode_string(MIG_MODE_DISABLED), "disabled");
        assert_string_equal(mig_mode_string(MIG_MODE_UNSUPPORTED), "unsupported");
        assert_string_equal(compute_mode_string(COMPUTE_MODE_DEFAULT), "Default");
        assert_string_equal(compute_mode_string(COMPUTE_MODE_EXCLUSIVE_PROCESS),
                            "Exclusive_Process");
        assert_string_equal(compute_mode_string(COMPUTE_MODE_PROHIBITED), "Prohibited");
        assert_string_equal(compute_mode_string(COMPUTE_MODE_UNKNOWN), "unknown");
        struct gpu gpu = {.mig_current = MIG_MODE_UNSUPPORTED, .mig_pending = MIG_MODE_UNSUPPORTED};
        assert_string_equal(gpu_mig_state_string(&gpu), "unsupported");
        assert_true(gpu_is_whole_target(&gpu));
        gpu.mig_current = MIG_MODE_DISABLED;
        assert_true(gpu_is_whole_target(&gpu));
        gpu.mig_current = MIG_MODE_ENABLED;
        assert_false(gpu_is_whole_target(&gpu));
        gpu.mig_current = MIG_MODE_DISABLED;
        gpu.lost = true;
        assert_false(gpu_is_whole_target(&gpu));
}

static void test_free_is_null_safe(void **state)
{
        node_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_topology_matches_its_file),
            cmocka_unit_test(test_a30_seed),
            cmocka_unit_test(test_h100_whole_gpu),
            cmocka_unit_test(test_pending_and_empty_mig_states),
            cmocka_unit_test(test_lost_gpu_fails_strict_discovery),
            cmocka_unit_test(test_lost_gpu_kept_in_lenient_discovery),
            cmocka_unit_test(test_lost_gpu_bus_id),
            cmocka_unit_test(test_state_words),
            cmocka_unit_test(test_free_is_null_safe),
        };
        return cmocka_run_group_tests(tests, setup_suite, NULL);
}
