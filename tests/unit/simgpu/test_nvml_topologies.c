/* Tests that simgpu's libnvidia-ml.so.1 answers each shipped topology as the real driver would:
 * the seed's A30 node, the measured H100, a mixed A100, empty and pending MIG, no GPU, a lost
 * GPU. */
#define _GNU_SOURCE

#include "nvml_loader.h"

static void test_a30_seed_gpus(void **state)
{
        static const char *const uuids[] = {
            "GPU-8f8bff94-112e-9541-43da-cfd453333404",
            "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38",
            "GPU-a90c6e94-391e-0fc3-8fc5-e2ef46ec6d2d",
            "GPU-46d1eefe-dfc8-2f00-16a9-95c08e019d47",
        };
        static const char *const buses[] = {"00000000:17:00.0", "00000000:65:00.0",
                                            "00000000:CA:00.0", "00000000:E3:00.0"};
        char version[80];
        unsigned count, current, pending;
        int cuda;
        nvmlDevice_t device;
        init_with("a30-seed");
        assert_int_equal(nvml.SystemGetDriverVersion(version, sizeof(version)), NVML_SUCCESS);
        assert_string_equal(version, "545.23.08");
        assert_int_equal(nvml.SystemGetCudaDriverVersion(&cuda), NVML_SUCCESS);
        assert_int_equal(cuda, 12030);
        assert_int_equal(nvml.DeviceGetCount(&count), NVML_SUCCESS);
        assert_int_equal(count, 4);
        assert_int_equal(nvml.DeviceGetHandleByIndex(4, &device), NVML_ERROR_INVALID_ARGUMENT);
        for (unsigned g = 0; g < 4; g++) {
                nvmlDevice_t d = gpu(g);
                nvmlPciInfo_t pci;
                nvmlMemory_t memory;
                nvmlEnableState_t persistence;
                assert_name(d, "NVIDIA A30");
                assert_uuid(d, uuids[g]);
                assert_int_equal(get_uint(nvml.DeviceGetIndex, d), g);
                assert_int_equal(get_uint(nvml.DeviceGetMinorNumber, d), g);
                assert_int_equal(get_uint(nvml.DeviceIsMigDeviceHandle, d), 0);
                assert_int_equal(nvml.DeviceGetPciInfo(d, &pci), NVML_SUCCESS);
                assert_string_equal(pci.busId, buses[g]);
                assert_string_equal(pci.busIdLegacy, buses[g] + 4);
                assert_int_equal(pci.pciDeviceId, 0x20B710DE);
                assert_int_equal(nvml.DeviceGetMemoryInfo(d, &memory), NVML_SUCCESS);
                assert_int_equal(memory.total, 24576ull << 20);
                assert_int_equal(memory.free + memory.used, memory.total);
                assert_int_equal(nvml.DeviceGetPersistenceMode(d, &persistence), NVML_SUCCESS);
                assert_int_equal(persistence, 1);
                assert_int_equal(nvml.DeviceGetMigMode(d, &current, &pending), NVML_SUCCESS);
                assert_int_equal(current, g == 0);
                assert_int_equal(pending, g == 0);
                assert_int_equal(get_uint(nvml.DeviceGetMaxMigDeviceCount, d), g == 0 ? 4 : 0);
                assert_ptr_equal(
                    d, (device = NULL, nvml.DeviceGetHandleByUUID(uuids[g], &device), device));
        }
        /* MIG off: every slot is empty */
        assert_int_equal(nvml.DeviceGetMigDeviceHandleByIndex(gpu(1), 0, &device),
                         NVML_ERROR_NOT_FOUND);
        shutdown_all();
}

/* The seed's MIG table: (GI 1, CI 0, dev 0), (1, 1, 1), (2, 0, 2), (2, 1, 3). */
static void test_a30_seed_mig_devices(void **state)
{
        static const char *const uuids[] = {
            "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
            "MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9",
            "MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9",
            "MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733",
        };
        nvmlDevice_t device;
        nvmlComputeMode_t mode;
        init_with("a30-seed");
        nvmlDevice_t parent = gpu(0);
        for (unsigned slot = 0; slot < 4; slot++) {
                nvmlDevice_t m = mig(parent, slot);
                nvmlDeviceAttributes_t a;
                nvmlMemory_t memory;
                assert_name(m, "NVIDIA A30 MIG 1c.2g.12gb");
                assert_uuid(m, uuids[slot]);
                assert_int_equal(get_uint(nvml.DeviceIsMigDeviceHandle, m), 1);
                assert_int_equal(get_uint(nvml.DeviceGetIndex, m), slot);
                assert_int_equal(get_uint(nvml.DeviceGetGpuInstanceId, m), 1 + slot / 2);
                assert_int_equal(get_uint(nvml.DeviceGetComputeInstanceId, m), slot % 2);
                assert_int_equal(nvml.DeviceGetDeviceHandleFromMigDeviceHandle(m, &device),
                                 NVML_SUCCESS);
                assert_ptr_equal(device, parent);
                assert_int_equal(nvml.DeviceGetAttributes(m, &a), NVML_SUCCESS);
                assert_int_equal(a.multiprocessorCount, 14);
                assert_int_equal(a.sharedCopyEngineCount, 2);
                assert_int_equal(a.sharedDecoderCount, 2);
                assert_int_equal(a.gpuInstanceSliceCount, 2);
                assert_int_equal(a.computeInstanceSliceCount, 1);
                assert_int_equal(a.memorySizeMB, 11968);
                assert_int_equal(nvml.DeviceGetMemoryInfo(m, &memory), NVML_SUCCESS);
                assert_int_equal(memory.total, 11968ull << 20);
                assert_int_equal(nvml.DeviceGetComputeMode(m, &mode), NVML_SUCCESS);
                assert_int_equal(mode, 0);
                assert_int_equal(nvml.DeviceGetHandleByUUID(uuids[slot], &device), NVML_SUCCESS);
                assert_ptr_equal(device, m);
        }
        /* the R450 spelling of a MIG UUID still finds the device */
        assert_int_equal(
            nvml.DeviceGetHandleByUUID("MIG-GPU-8f8bff94-112e-9541-43da-cfd453333404/2/1", &device),
            NVML_SUCCESS);
        assert_ptr_equal(device, mig(parent, 3));
        assert_int_equal(
            nvml.DeviceGetHandleByUUID("MIG-GPU-8f8bff94-112e-9541-43da-cfd453333404/3/0", &device),
            NVML_ERROR_NOT_FOUND);
        assert_int_equal(
            nvml.DeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &device),
            NVML_ERROR_NOT_FOUND);
        /* slots past the maximum are refused, not empty */
        assert_int_equal(nvml.DeviceGetMigDeviceHandleByIndex(parent, 4, &device),
                         NVML_ERROR_INVALID_ARGUMENT);
        /* MIG on: the compute mode is read through a MIG handle */
        assert_int_equal(nvml.DeviceGetComputeMode(parent, &mode), NVML_ERROR_NOT_SUPPORTED);
        assert_int_equal(nvml.DeviceGetComputeMode(gpu(1), &mode), NVML_SUCCESS);
        shutdown_all();
}

/* Every number here is from docs/driver-facts-nvml-abi.md (the real H100, driver 580.159.04, MIG
 * off). */
static void test_h100_matches_facts(void **state)
{
        static const struct {
                unsigned index, id, slices, instances, memory, sms, copy_engines;
                const char *name;
        } facts[] = {
            {0, 19, 1, 7, 9984, 16, 1, "1g.10gb"},  {1, 14, 2, 3, 20096, 32, 2, "2g.20gb"},
            {2, 9, 3, 2, 40448, 60, 3, "3g.40gb"},  {3, 5, 4, 1, 40448, 64, 4, "4g.40gb"},
            {4, 0, 7, 1, 81152, 132, 8, "7g.80gb"}, {7, 20, 1, 1, 9984, 16, 1, "1g.10gb+me"},
            {9, 15, 1, 4, 20096, 26, 1, "1g.20gb"},
        };
        char version[80];
        int cuda;
        unsigned current = 9, pending = 9, count = 9;
        nvmlDevice_t device;
        nvmlPciInfo_t pci;
        nvmlMemory_t memory;
        nvmlMemory_v2_t memory2 = {.version = 2};
        nvmlGpuInstanceProfileInfo_t info;
        nvmlGpuInstanceProfileInfo_v2_t info2;
        nvmlGpuInstance_t instances[8];
        init_with("h100");
        assert_int_equal(nvml.SystemGetDriverVersion(version, sizeof(version)), NVML_SUCCESS);
        assert_string_equal(version, "580.159.04");
        assert_int_equal(nvml.SystemGetCudaDriverVersion(&cuda), NVML_SUCCESS);
        assert_int_equal(cuda, 13000);
        nvmlDevice_t d = gpu(0);
        assert_name(d, "NVIDIA H100 80GB HBM3");
        assert_int_equal(nvml.DeviceGetMemoryInfo(d, &memory), NVML_SUCCESS);
        assert_int_equal(memory.total, 81559ull << 20);
        assert_int_equal(nvml.DeviceGetMemoryInfo_v2(d, &memory2), NVML_ERROR_FUNCTION_NOT_FOUND);
        memory2.version = 0x02000028;
        assert_int_equal(nvml.DeviceGetMemoryInfo_v2(d, &memory2), NVML_SUCCESS);
        assert_int_equal(memory2.total, 81559ull << 20);
        assert_int_equal(memory2.used + memory2.reserved, memory.used);
        assert_int_equal(nvml.DeviceGetPciInfo(d, &pci), NVML_SUCCESS);
        assert_string_equal(pci.busIdLegacy, "0000:00:06.0");
        assert_string_equal(pci.busId, "00000000:00:06.0");
        assert_int_equal(pci.domain, 0);
        assert_int_equal(pci.bus, 0);
        assert_int_equal(pci.device, 6);
        assert_int_equal(pci.pciDeviceId & 0xffff, 0x10de);
        assert_int_equal(nvml.DeviceGetMigMode(d, &current, &pending), NVML_SUCCESS);
        assert_int_equal(current, 0);
        assert_int_equal(pending, 0);
        assert_int_equal(get_uint(nvml.DeviceGetMaxMigDeviceCount, d), 0);
        assert_int_equal(nvml.DeviceGetMigDeviceHandleByIndex(d, 0, &device), NVML_ERROR_NOT_FOUND);
        assert_int_equal(nvml.DeviceGetDeviceHandleFromMigDeviceHandle(d, &device),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetGpuInstances(d, 19, instances, &count), NVML_SUCCESS);
        assert_int_equal(count, 0);

        /* the profile table answers with MIG off; absent indexes are NOT_SUPPORTED up to 0x10,
         * INVALID_ARGUMENT from 0x11 on (580, read on the H200) */
        size_t next = 0;
        for (unsigned index = 0; index < 0x11; index++) {
                nvmlReturn_t r = nvml.DeviceGetGpuInstanceProfileInfo(d, index, &info);
                if (next == sizeof(facts) / sizeof(facts[0]) || facts[next].index != index) {
                        assert_int_equal(r, NVML_ERROR_NOT_SUPPORTED);
                        continue;
                }
                assert_int_equal(r, NVML_SUCCESS);
                assert_int_equal(info.id, facts[next].id);
                assert_int_equal(info.sliceCount, facts[next].slices);
                assert_int_equal(info.instanceCount, facts[next].instances);
                assert_int_equal(info.memorySizeMB, facts[next].memory);
                assert_int_equal(info.multiprocessorCount, facts[next].sms);
                assert_int_equal(info.copyEngineCount, facts[next].copy_engines);
                memset(&info2, 0, sizeof(info2));
                info2.version = 2;
                assert_int_equal(nvml.DeviceGetGpuInstanceProfileInfoV(d, index, &info2),
                                 NVML_ERROR_FUNCTION_NOT_FOUND);
                info2.version = 0x02000098;
                assert_int_equal(nvml.DeviceGetGpuInstanceProfileInfoV(d, index, &info2),
                                 NVML_SUCCESS);
                assert_int_equal(info2.id, facts[next].id);
                assert_int_equal(info2.multiprocessorCount, facts[next].sms);
                /* the v2 name carries the "MIG " prefix, as 580 answers on the H200 */
                assert_memory_equal(info2.name, "MIG ", 4);
                assert_string_equal(info2.name + 4, facts[next].name);
                next++;
        }
        assert_int_equal(next, sizeof(facts) / sizeof(facts[0]));
        assert_int_equal(nvml.DeviceGetGpuInstanceProfileInfo(d, 0x11, &info),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(
            nvml.DeviceGetGpuInstanceProfileInfo(d, NVML_GPU_INSTANCE_PROFILE_COUNT, &info),
            NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();
}

static void test_gpu_instances(void **state)
{
        nvmlGpuInstance_t instances[2];
        nvmlGpuInstanceInfo_t info;
        unsigned count = 0;
        init_with("a30-seed");
        nvmlDevice_t parent = gpu(0);
        /* 2g.12gb is profile id 5 on the A30 */
        assert_int_equal(nvml.DeviceGetGpuInstances(parent, 5, instances, &count), NVML_SUCCESS);
        assert_int_equal(count, 2);
        for (unsigned i = 0; i < 2; i++) {
                assert_int_equal(nvml.GpuInstanceGetInfo(instances[i], &info), NVML_SUCCESS);
                assert_ptr_equal(info.device, parent);
                assert_int_equal(info.id, i + 1);
                assert_int_equal(info.profileId, 5);
                assert_int_equal(info.placement.start, 2 * i);
                assert_int_equal(info.placement.size, 2);
        }
        assert_int_equal(nvml.DeviceGetGpuInstances(parent, 14, instances, &count), NVML_SUCCESS);
        assert_int_equal(count, 0);
        assert_int_equal(nvml.DeviceGetGpuInstances(parent, 99, instances, &count),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.GpuInstanceGetInfo((nvmlGpuInstance_t)&count, &info),
                         NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();
}

static void test_a100_mixed(void **state)
{
        static const struct {
                const char *name;
                unsigned gi, ci, sms, gi_slices, ci_slices, memory;
        } expected[] = {
            {"NVIDIA A100-SXM4-40GB MIG 2c.3g.20gb", 1, 0, 28, 3, 2, 19968},
            {"NVIDIA A100-SXM4-40GB MIG 1c.3g.20gb", 1, 2, 14, 3, 1, 19968},
            {"NVIDIA A100-SXM4-40GB MIG 2g.10gb", 5, 0, 28, 2, 2, 9856},
            {"NVIDIA A100-SXM4-40GB MIG 1g.5gb", 13, 0, 14, 1, 1, 4864},
        };
        nvmlDevice_t device;
        init_with("a100-mixed");
        nvmlDevice_t parent = gpu(0);
        assert_int_equal(get_uint(nvml.DeviceGetMaxMigDeviceCount, parent), 7);
        for (unsigned slot = 0; slot < 7; slot++) {
                if (slot >= 4) {
                        assert_int_equal(
                            nvml.DeviceGetMigDeviceHandleByIndex(parent, slot, &device),
                            NVML_ERROR_NOT_FOUND);
                        continue;
                }
                nvmlDevice_t m = mig(parent, slot);
                nvmlDeviceAttributes_t a;
                assert_name(m, expected[slot].name);
                assert_int_equal(get_uint(nvml.DeviceGetGpuInstanceId, m), expected[slot].gi);
                assert_int_equal(get_uint(nvml.DeviceGetComputeInstanceId, m), expected[slot].ci);
                assert_int_equal(nvml.DeviceGetAttributes(m, &a), NVML_SUCCESS);
                assert_int_equal(a.multiprocessorCount, expected[slot].sms);
                assert_int_equal(a.gpuInstanceSliceCount, expected[slot].gi_slices);
                assert_int_equal(a.computeInstanceSliceCount, expected[slot].ci_slices);
                assert_int_equal(a.memorySizeMB, expected[slot].memory);
        }
        shutdown_all();
}

static void test_mig_empty_and_pending(void **state)
{
        nvmlDevice_t device;
        unsigned current, pending;
        init_with("mig-empty");
        nvmlDevice_t d = gpu(0);
        unsigned slots = get_uint(nvml.DeviceGetMaxMigDeviceCount, d);
        assert_int_equal(slots, 7);
        for (unsigned slot = 0; slot < slots; slot++)
                assert_int_equal(nvml.DeviceGetMigDeviceHandleByIndex(d, slot, &device),
                                 NVML_ERROR_NOT_FOUND);
        shutdown_all();

        init_with("mig-pending");
        assert_int_equal(nvml.DeviceGetMigMode(gpu(0), &current, &pending), NVML_SUCCESS);
        assert_int_equal(current, 0);
        assert_int_equal(pending, 1);
        assert_int_equal(get_uint(nvml.DeviceGetMaxMigDeviceCount, gpu(0)), 0);
        assert_int_equal(nvml.DeviceGetMigMode(gpu(1), &current, &pending), NVML_SUCCESS);
        assert_int_equal(current, 1);
        assert_int_equal(pending, 0);
        shutdown_all();
}

static void test_no_gpu_and_lost_gpu(void **state)
{
        unsigned count = 9;
        nvmlDevice_t device;
        char uuid[96];
        init_with("no-gpu");
        assert_int_equal(nvml.DeviceGetCount(&count), NVML_SUCCESS);
        assert_int_equal(count, 0);
        assert_int_equal(nvml.DeviceGetHandleByIndex(0, &device), NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();

        init_with("lost-gpu");
        assert_int_equal(nvml.DeviceGetCount(&count), NVML_SUCCESS);
        assert_int_equal(count, 2);
        assert_int_equal(nvml.DeviceGetUUID(gpu(0), uuid, sizeof(uuid)), NVML_SUCCESS);
        assert_int_equal(nvml.DeviceGetHandleByIndex(1, &device), NVML_ERROR_GPU_IS_LOST);
        shutdown_all();

        /* the lost GPU's UUID is found, and lost */
        char path[4096 + 64], error[512];
        struct sim_topology *topology = NULL;
        snprintf(path, sizeof(path), "%s/lost-gpu.json", topology_dir);
        assert_int_equal(sim_topology_load(path, &topology, error, sizeof(error)), 0);
        assert_true(topology->gpus[1].lost);
        init_with("lost-gpu");
        assert_int_equal(nvml.DeviceGetHandleByUUID(topology->gpus[1].uuid, &device),
                         NVML_ERROR_GPU_IS_LOST);
        shutdown_all();
        sim_topology_free(topology);
}
int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_a30_seed_gpus),
            cmocka_unit_test(test_a30_seed_mig_devices),
            cmocka_unit_test(test_h100_matches_facts),
            cmocka_unit_test(test_gpu_instances),
            cmocka_unit_test(test_a100_mixed),
            cmocka_unit_test(test_mig_empty_and_pending),
            cmocka_unit_test(test_no_gpu_and_lost_gpu),
        };
        return run_nvml_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
