/* Tests that simgpu's libnvidia-ml.so.1 answers what a third-party NVML client asks beyond
 * mpsmig: the whole GPU -> GPU instance -> compute instance tree, possible placements, the newer
 * error strings, and the monitoring calls (docs/driver-facts-mig-profiles.md). */
#define _GNU_SOURCE

#include <unistd.h>

#include "nvml_loader.h"

/* Looked up here rather than in nvml_loader.h: a missing one fails only these tests. */
static void *sym(const char *name)
{
        void *address = dlsym(library, name);
        if (!address)
                fail_msg("%s is not exported", name);
        return address;
}

#define CALL(type, name) ((type)sym(name))

typedef nvmlReturn_t (*gi_by_id_fn)(nvmlDevice_t, unsigned, nvmlGpuInstance_t *);
typedef nvmlReturn_t (*cis_fn)(nvmlGpuInstance_t, unsigned, nvmlComputeInstance_t *, unsigned *);
typedef nvmlReturn_t (*ci_by_id_fn)(nvmlGpuInstance_t, unsigned, nvmlComputeInstance_t *);
typedef nvmlReturn_t (*ci_info_fn)(nvmlComputeInstance_t, nvmlComputeInstanceInfo_t *);
typedef nvmlReturn_t (*ci_profile_fn)(nvmlGpuInstance_t, unsigned, unsigned,
                                      nvmlComputeInstanceProfileInfo_t *);
typedef nvmlReturn_t (*ci_profile_v_fn)(nvmlGpuInstance_t, unsigned, unsigned,
                                        nvmlComputeInstanceProfileInfo_v3_t *);
typedef nvmlReturn_t (*placements_fn)(nvmlDevice_t, unsigned, nvmlGpuInstancePlacement_t *,
                                      unsigned *);
typedef nvmlReturn_t (*string_fn)(char *, unsigned);
typedef nvmlReturn_t (*device_string_fn)(nvmlDevice_t, char *, unsigned);
typedef nvmlReturn_t (*count_fn)(unsigned *);
typedef nvmlReturn_t (*indexed_uint_fn)(nvmlDevice_t, int, unsigned *);

_Static_assert(offsetof(nvmlComputeInstanceInfo_t, id) == 16, "CI info id offset");
_Static_assert(offsetof(nvmlComputeInstanceInfo_t, placement) == 24, "CI placement offset");
_Static_assert(offsetof(nvmlComputeInstanceProfileInfo_v3_t, name) == 40, "CI name offset");
_Static_assert(offsetof(nvmlComputeInstanceProfileInfo_v3_t, capabilities) == 136, "CI caps");

/* Walks the tree as a client does, every GI profile then every CI profile, and checks that it
 * reaches each MIG device of the seed's A30 exactly once with the ids nvidia-smi -L shows. */
static void test_a30_tree_reaches_every_mig_device(void **state)
{
        cis_fn get_cis = CALL(cis_fn, "nvmlGpuInstanceGetComputeInstances");
        ci_info_fn ci_info = CALL(ci_info_fn, "nvmlComputeInstanceGetInfo_v2");
        init_with("a30-seed");
        nvmlDevice_t parent = gpu(0);
        unsigned found[4] = {0};
        unsigned total = 0;
        for (unsigned p = 0; p < NVML_GPU_INSTANCE_PROFILE_COUNT; p++) {
                nvmlGpuInstanceProfileInfo_t profile;
                nvmlGpuInstance_t gis[8];
                unsigned gi_count = 0;
                if (nvml.DeviceGetGpuInstanceProfileInfo(parent, p, &profile) != NVML_SUCCESS)
                        continue;
                assert_int_equal(nvml.DeviceGetGpuInstances(parent, profile.id, gis, &gi_count),
                                 NVML_SUCCESS);
                for (unsigned g = 0; g < gi_count; g++) {
                        nvmlGpuInstanceInfo_t gi;
                        assert_int_equal(nvml.GpuInstanceGetInfo(gis[g], &gi), NVML_SUCCESS);
                        for (unsigned c = 0; c < NVML_COMPUTE_INSTANCE_PROFILE_COUNT; c++) {
                                nvmlComputeInstance_t cis[8];
                                unsigned ci_count = 0;
                                assert_int_equal(get_cis(gis[g], c, cis, &ci_count), NVML_SUCCESS);
                                for (unsigned i = 0; i < ci_count; i++) {
                                        nvmlComputeInstanceInfo_t ci;
                                        assert_int_equal(ci_info(cis[i], &ci), NVML_SUCCESS);
                                        assert_ptr_equal(ci.device, parent);
                                        assert_ptr_equal(ci.gpuInstance, gis[g]);
                                        assert_int_equal(ci.profileId, c);
                                        /* (GI 1, CI 0) is device 0, ... (GI 2, CI 1) device 3 */
                                        unsigned slot = (gi.id - 1) * 2 + ci.id;
                                        assert_true(slot < 4);
                                        nvmlDevice_t m = mig(parent, slot);
                                        assert_int_equal(get_uint(nvml.DeviceGetGpuInstanceId, m),
                                                         gi.id);
                                        assert_int_equal(
                                            get_uint(nvml.DeviceGetComputeInstanceId, m), ci.id);
                                        assert_int_equal(ci.placement.start, ci.id);
                                        assert_int_equal(ci.placement.size, 1);
                                        found[slot]++;
                                        total++;
                                }
                        }
                }
        }
        assert_int_equal(total, 4);
        for (unsigned i = 0; i < 4; i++)
                assert_int_equal(found[i], 1);
        shutdown_all();
}

static void test_a30_instances_by_id(void **state)
{
        gi_by_id_fn gi_by_id = CALL(gi_by_id_fn, "nvmlDeviceGetGpuInstanceById");
        ci_by_id_fn ci_by_id = CALL(ci_by_id_fn, "nvmlGpuInstanceGetComputeInstanceById");
        ci_info_fn ci_info = CALL(ci_info_fn, "nvmlComputeInstanceGetInfo");
        nvmlGpuInstance_t gi = NULL, listed[2];
        nvmlComputeInstance_t ci = NULL;
        nvmlComputeInstanceInfo_t info;
        unsigned count = 0;
        init_with("a30-seed");
        nvmlDevice_t parent = gpu(0);
        assert_int_equal(nvml.DeviceGetGpuInstances(parent, 5, listed, &count), NVML_SUCCESS);
        assert_int_equal(gi_by_id(parent, 2, &gi), NVML_SUCCESS);
        assert_ptr_equal(gi, listed[1]);
        assert_int_equal(gi_by_id(parent, 3, &gi), NVML_ERROR_NOT_FOUND);
        assert_int_equal(gi_by_id(gpu(1), 1, &gi), NVML_ERROR_NOT_FOUND); /* MIG off */
        assert_int_equal(gi_by_id(mig(parent, 0), 1, &gi), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(ci_by_id(listed[1], 1, &ci), NVML_SUCCESS);
        assert_int_equal(ci_info(ci, &info), NVML_SUCCESS);
        assert_int_equal(info.id, 1);
        assert_ptr_equal(info.gpuInstance, listed[1]);
        assert_int_equal(ci_by_id(listed[1], 2, &ci), NVML_ERROR_NOT_FOUND);
        assert_int_equal(ci_info((nvmlComputeInstance_t)parent, &info),
                         NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();
}

/* A 2c + 1c split of a 3g instance: placements follow each other, SMs come from the devices. */
static void test_a100_compute_instance_profiles(void **state)
{
        ci_profile_fn profile_info =
            CALL(ci_profile_fn, "nvmlGpuInstanceGetComputeInstanceProfileInfo");
        ci_profile_v_fn profile_info_v =
            CALL(ci_profile_v_fn, "nvmlGpuInstanceGetComputeInstanceProfileInfoV");
        cis_fn get_cis = CALL(cis_fn, "nvmlGpuInstanceGetComputeInstances");
        ci_info_fn ci_info = CALL(ci_info_fn, "nvmlComputeInstanceGetInfo_v2");
        nvmlGpuInstance_t gis[2];
        nvmlComputeInstance_t cis[4];
        nvmlComputeInstanceInfo_t info;
        nvmlComputeInstanceProfileInfo_t p;
        nvmlComputeInstanceProfileInfo_v3_t v;
        unsigned count = 0;
        init_with("a100-mixed");
        nvmlDevice_t parent = gpu(0);
        assert_int_equal(nvml.DeviceGetGpuInstances(parent, 9, gis, &count), NVML_SUCCESS);
        assert_int_equal(count, 1);
        assert_int_equal(get_cis(gis[0], 1, cis, &count), NVML_SUCCESS); /* 2-slice CIs */
        assert_int_equal(count, 1);
        assert_int_equal(ci_info(cis[0], &info), NVML_SUCCESS);
        assert_int_equal(info.id, 0);
        assert_int_equal(info.placement.start, 0);
        assert_int_equal(info.placement.size, 2);
        assert_int_equal(get_cis(gis[0], 0, cis, &count), NVML_SUCCESS);
        assert_int_equal(count, 1);
        assert_int_equal(ci_info(cis[0], &info), NVML_SUCCESS);
        assert_int_equal(info.id, 2);
        assert_int_equal(info.placement.start, 2);
        assert_int_equal(info.placement.size, 1);

        assert_int_equal(profile_info(gis[0], 1, 0, &p), NVML_SUCCESS);
        assert_int_equal(p.id, 1);
        assert_int_equal(p.sliceCount, 2);
        assert_int_equal(p.instanceCount, 1);
        assert_int_equal(p.multiprocessorCount, 28);
        assert_int_equal(p.sharedCopyEngineCount, 3);
        assert_int_equal(profile_info(gis[0], 2, 0, &p), NVML_SUCCESS);
        assert_int_equal(p.multiprocessorCount, 42);
        assert_int_equal(profile_info(gis[0], 3, 0, &p), NVML_ERROR_NOT_SUPPORTED);
        assert_int_equal(profile_info(gis[0], 8, 0, &p), NVML_ERROR_INVALID_ARGUMENT);

        memset(&v, 0xff, sizeof(v));
        v.version = nvmlComputeInstanceProfileInfo_v2;
        assert_int_equal(profile_info_v(gis[0], 0, 0, &v), NVML_SUCCESS);
        assert_string_equal(v.name, "MIG 1c.3g.20gb");
        assert_int_equal(v.sliceCount, 1);
        assert_int_equal(v.instanceCount, 3);
        assert_int_equal(v.capabilities, 0xffffffffu); /* v2 ends before it */
        v.version = nvmlComputeInstanceProfileInfo_v3;
        assert_int_equal(profile_info_v(gis[0], 2, 0, &v), NVML_SUCCESS);
        assert_string_equal(v.name, "MIG 3g.20gb");
        assert_int_equal(v.capabilities, 0);
        v.version = 2;
        assert_int_equal(profile_info_v(gis[0], 0, 0, &v), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
        shutdown_all();
}

static void assert_placements(placements_fn fn, nvmlDevice_t parent, unsigned profile_id,
                              unsigned count, unsigned size)
{
        nvmlGpuInstancePlacement_t placements[8];
        unsigned n = 0;
        assert_int_equal(fn(parent, profile_id, NULL, &n), NVML_SUCCESS);
        assert_int_equal(n, count);
        n = 8;
        assert_int_equal(fn(parent, profile_id, placements, &n), NVML_SUCCESS);
        assert_int_equal(n, count);
        for (unsigned i = 0; i < n; i++) {
                assert_int_equal(placements[i].start, i * size);
                assert_int_equal(placements[i].size, size);
        }
}

/* The H200's placements (docs/driver-facts-mig-profiles.md): 1g {0..6}:1, 2g {0,2,4}:2, 3g
 * {0,4}:4, 4g {0}:4, 7g {0}:8, 1g.35gb {0,2,4,6}:2, 1g.18gb+me {0..6}:1 (one instance, seven
 * places); and GpuInstanceGetInfo reports the same width. */
static void test_placement_widths(void **state)
{
        placements_fn v2 = CALL(placements_fn, "nvmlDeviceGetGpuInstancePossiblePlacements_v2");
        placements_fn v1 = CALL(placements_fn, "nvmlDeviceGetGpuInstancePossiblePlacements");
        nvmlGpuInstancePlacement_t one;
        nvmlGpuInstance_t gis[2];
        nvmlGpuInstanceInfo_t info;
        unsigned n;
        init_with("h200");
        nvmlDevice_t parent = gpu(0);
        assert_placements(v2, parent, 19, 7, 1);
        assert_placements(v2, parent, 14, 3, 2);
        assert_placements(v2, parent, 9, 2, 4);
        assert_placements(v2, parent, 5, 1, 4);
        assert_placements(v2, parent, 0, 1, 8);
        assert_placements(v2, parent, 15, 4, 2);
        assert_placements(v2, parent, 20, 7, 1);
        assert_placements(v1, parent, 9, 2, 4);
        n = 1;
        assert_int_equal(v2(parent, 9, &one, &n), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(v2(parent, 99, NULL, &n), NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();

        init_with("a100-mixed");
        assert_int_equal(nvml.DeviceGetGpuInstances(gpu(0), 9, gis, &n), NVML_SUCCESS);
        assert_int_equal(nvml.GpuInstanceGetInfo(gis[0], &info), NVML_SUCCESS);
        assert_int_equal(info.placement.start, 0);
        assert_int_equal(info.placement.size, 4);
        shutdown_all();
}

static void test_error_strings(void **state)
{
        static const struct {
                nvmlReturn_t code;
                const char *text;
        } strings[] = {
            {22, "vGPU ECC not supported"},
            {24, "Invalid Frequency"},
            {25, "Argument version mismatch"},
            {26, "Requested functionality has been deprecated"},
            {27, "System is not in ready state"},
            {28, "No supported GPUs were found"},
            {29, "Resource not in correct state to perform requested operation"},
            {30, "Reset type is not supported for given device"},
            {31, "Unknown Error"},
        };
        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
                assert_string_equal(nvml.ErrorString(strings[i].code), strings[i].text);
}

static void test_system_calls(void **state)
{
        string_fn nvml_version = CALL(string_fn, "nvmlSystemGetNVMLVersion");
        count_fn units = CALL(count_fn, "nvmlUnitGetCount");
        count_fn excluded = CALL(count_fn, "nvmlGetExcludedDeviceCount");
        nvmlReturn_t (*by_bus)(const char *, nvmlDevice_t *) =
            sym("nvmlDeviceGetHandleByPciBusId_v2");
        char version[80];
        unsigned count = 99;
        nvmlDevice_t device = NULL;
        assert_int_equal(nvml_version(version, sizeof(version)), NVML_ERROR_UNINITIALIZED);
        init_with("h100");
        assert_int_equal(nvml_version(version, sizeof(version)), NVML_SUCCESS);
        assert_string_equal(version, "13.580.159.04");
        assert_int_equal(nvml_version(version, 5), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(units(&count), NVML_SUCCESS);
        assert_int_equal(count, 0);
        count = 99;
        assert_int_equal(excluded(&count), NVML_SUCCESS);
        assert_int_equal(count, 0);
        shutdown_all();

        init_with("a30-seed");
        assert_int_equal(nvml_version(version, sizeof(version)), NVML_SUCCESS);
        assert_string_equal(version, "12.545.23.08");
        assert_int_equal(by_bus("00000000:65:00.0", &device), NVML_SUCCESS);
        assert_ptr_equal(device, gpu(1));
        assert_int_equal(by_bus("0000:ca:00.0", &device), NVML_SUCCESS);
        assert_ptr_equal(device, gpu(2));
        assert_int_equal(by_bus("E3:00.0", &device), NVML_SUCCESS);
        assert_ptr_equal(device, gpu(3));
        assert_int_equal(by_bus("00000000:66:00.0", &device), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(by_bus("garbage", &device), NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();
}

/* Identity from the product, idle readings, and NOT_SUPPORTED / INVALID_ARGUMENT where the SXM
 * board has nothing to read. */
static void test_device_readings(void **state)
{
        nvmlReturn_t (*cc)(nvmlDevice_t, int *, int *) = sym("nvmlDeviceGetCudaComputeCapability");
        device_string_fn serial = CALL(device_string_fn, "nvmlDeviceGetSerial");
        device_string_fn vbios = CALL(device_string_fn, "nvmlDeviceGetVbiosVersion");
        device_string_fn part = CALL(device_string_fn, "nvmlDeviceGetBoardPartNumber");
        indexed_uint_fn temperature = CALL(indexed_uint_fn, "nvmlDeviceGetTemperature");
        indexed_uint_fn clock = CALL(indexed_uint_fn, "nvmlDeviceGetClockInfo");
        indexed_uint_fn max_clock = CALL(indexed_uint_fn, "nvmlDeviceGetMaxClockInfo");
        uint_fn power = CALL(uint_fn, "nvmlDeviceGetPowerUsage");
        uint_fn limit = CALL(uint_fn, "nvmlDeviceGetPowerManagementLimit");
        uint_fn default_limit = CALL(uint_fn, "nvmlDeviceGetPowerManagementDefaultLimit");
        uint_fn enforced = CALL(uint_fn, "nvmlDeviceGetEnforcedPowerLimit");
        uint_fn gen = CALL(uint_fn, "nvmlDeviceGetCurrPcieLinkGeneration");
        uint_fn max_gen = CALL(uint_fn, "nvmlDeviceGetMaxPcieLinkGeneration");
        uint_fn width = CALL(uint_fn, "nvmlDeviceGetCurrPcieLinkWidth");
        uint_fn max_width = CALL(uint_fn, "nvmlDeviceGetMaxPcieLinkWidth");
        uint_fn fans = CALL(uint_fn, "nvmlDeviceGetNumFans");
        uint_fn fan_speed = CALL(uint_fn, "nvmlDeviceGetFanSpeed");
        nvmlReturn_t (*fan_speed_v2)(nvmlDevice_t, unsigned, unsigned *) =
            sym("nvmlDeviceGetFanSpeed_v2");
        nvmlReturn_t (*ecc)(nvmlDevice_t, nvmlEnableState_t *, nvmlEnableState_t *) =
            sym("nvmlDeviceGetEccMode");
        nvmlReturn_t (*utilization)(nvmlDevice_t, unsigned[2]) =
            sym("nvmlDeviceGetUtilizationRates");
        nvmlReturn_t (*bar1)(nvmlDevice_t, unsigned long long[3]) =
            sym("nvmlDeviceGetBAR1MemoryInfo");
        int major = 0, minor = -1;
        char text[96], other[96];
        unsigned value, rates[2] = {9, 9};
        unsigned long long bar[3];
        nvmlEnableState_t current = 0, pending = 0;

        init_with("h100");
        nvmlDevice_t d = gpu(0);
        assert_int_equal(cc(d, &major, &minor), NVML_SUCCESS);
        assert_int_equal(major, 9);
        assert_int_equal(minor, 0);
        assert_int_equal(serial(d, text, sizeof(text)), NVML_SUCCESS);
        assert_int_equal(strlen(text), 13);
        assert_int_equal(vbios(d, text, sizeof(text)), NVML_SUCCESS);
        assert_true(strlen(text) > 0);
        assert_int_equal(part(d, text, sizeof(text)), NVML_SUCCESS);
        assert_int_equal(temperature(d, 0, &value), NVML_SUCCESS);
        assert_in_range(value, 20, 50);
        assert_int_equal(temperature(d, 7, &value), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(power(d, &value), NVML_SUCCESS);
        unsigned idle = value;
        assert_int_equal(limit(d, &value), NVML_SUCCESS);
        assert_int_equal(value, 700000);
        assert_true(idle < value);
        assert_int_equal(default_limit(d, &value), NVML_SUCCESS);
        assert_int_equal(enforced(d, &value), NVML_SUCCESS);
        for (int type = 0; type < 4; type++) {
                unsigned top;
                assert_int_equal(clock(d, type, &value), NVML_SUCCESS);
                assert_int_equal(max_clock(d, type, &top), NVML_SUCCESS);
                assert_true(value > 0 && value <= top);
        }
        assert_int_equal(clock(d, 4, &value), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(ecc(d, &current, &pending), NVML_SUCCESS);
        assert_int_equal(current, 1);
        assert_int_equal(pending, 1);
        assert_int_equal(utilization(d, rates), NVML_SUCCESS);
        assert_int_equal(rates[0], 0);
        assert_int_equal(rates[1], 0);
        assert_int_equal(bar1(d, bar), NVML_SUCCESS);
        assert_int_equal(bar[0], 128ull << 30);
        assert_int_equal(bar[1] + bar[2], bar[0]);
        assert_int_equal(gen(d, &value), NVML_SUCCESS);
        assert_int_equal(value, 5);
        assert_int_equal(max_gen(d, &value), NVML_SUCCESS);
        assert_int_equal(width(d, &value), NVML_SUCCESS);
        assert_int_equal(value, 16);
        assert_int_equal(max_width(d, &value), NVML_SUCCESS);
        assert_int_equal(fans(d, &value), NVML_SUCCESS);
        assert_int_equal(value, 0);
        assert_int_equal(fan_speed(d, &value), NVML_ERROR_NOT_SUPPORTED);
        assert_int_equal(fan_speed_v2(d, 0, &value), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(temperature(NULL, 0, &value), NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();
        assert_int_equal(power(d, &value), NVML_ERROR_UNINITIALIZED);

        init_with("a30-seed");
        assert_int_equal(cc(gpu(1), &major, &minor), NVML_SUCCESS);
        assert_int_equal(major, 8);
        assert_int_equal(minor, 0);
        assert_int_equal(serial(gpu(0), text, sizeof(text)), NVML_SUCCESS);
        assert_int_equal(serial(gpu(1), other, sizeof(other)), NVML_SUCCESS);
        assert_string_not_equal(text, other);
        /* a MIG device reads its board's identity but has no utilization of its own */
        assert_int_equal(cc(mig(gpu(0), 0), &major, &minor), NVML_SUCCESS);
        assert_int_equal(major, 8);
        assert_int_equal(utilization(mig(gpu(0), 0), rates), NVML_ERROR_NOT_SUPPORTED);
        shutdown_all();
}

/* A GPU whose topology states its reserve, identity and readings. */
static const char stated_topology[] =
    "{\"driver\": {\"loaded\": true, \"version\": \"580.159.04\", \"cuda_version\": 13000},\n"
    " \"gpus\": [{\"name\": \"NVIDIA H200\", \"uuid\": "
    "\"GPU-11111111-2222-3333-4444-555555555555\",\n"
    "  \"pci_bus_id\": \"00000000:18:00.0\", \"memory_mib\": 143771, \"sm_count\": 132,\n"
    "  \"compute_mode\": \"Default\", \"persistence_mode\": true, \"reserved_bytes\": 644939776,\n"
    "  \"serial\": \"1654924001234\", \"vbios_version\": \"96.00.AF.00.02\",\n"
    "  \"temperature_c\": 41, \"power_usage_mw\": 121000, \"power_limit_mw\": 600000}]}\n";

static void test_stated_values(void **state)
{
        device_string_fn serial = CALL(device_string_fn, "nvmlDeviceGetSerial");
        device_string_fn vbios = CALL(device_string_fn, "nvmlDeviceGetVbiosVersion");
        indexed_uint_fn temperature = CALL(indexed_uint_fn, "nvmlDeviceGetTemperature");
        uint_fn power = CALL(uint_fn, "nvmlDeviceGetPowerUsage");
        uint_fn limit = CALL(uint_fn, "nvmlDeviceGetPowerManagementLimit");
        char path[] = "/tmp/simgpu-stated-XXXXXX", text[96];
        unsigned value;
        nvmlMemory_t v1;
        nvmlMemory_v2_t v2 = {.version = nvmlMemory_v2};
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, stated_topology, sizeof(stated_topology) - 1),
                         (ssize_t)sizeof(stated_topology) - 1);
        close(fd);
        setenv("SIMGPU_TOPOLOGY", path, 1);
        nvmlReturn_t r = nvml.Init();
        unlink(path);
        assert_int_equal(r, NVML_SUCCESS);
        nvmlDevice_t d = gpu(0);
        assert_int_equal(nvml.DeviceGetMemoryInfo_v2(d, &v2), NVML_SUCCESS);
        assert_int_equal(v2.reserved, 644939776ull);
        assert_int_equal(v2.used + v2.reserved + v2.free, v2.total);
        assert_int_equal(nvml.DeviceGetMemoryInfo(d, &v1), NVML_SUCCESS);
        assert_int_equal(v1.used, v2.used + v2.reserved);
        assert_int_equal(v1.used + v1.free, v1.total);
        assert_int_equal(serial(d, text, sizeof(text)), NVML_SUCCESS);
        assert_string_equal(text, "1654924001234");
        assert_int_equal(vbios(d, text, sizeof(text)), NVML_SUCCESS);
        assert_string_equal(text, "96.00.AF.00.02");
        assert_int_equal(temperature(d, 0, &value), NVML_SUCCESS);
        assert_int_equal(value, 41);
        assert_int_equal(power(d, &value), NVML_SUCCESS);
        assert_int_equal(value, 121000);
        assert_int_equal(limit(d, &value), NVML_SUCCESS);
        assert_int_equal(value, 600000);
        shutdown_all();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_a30_tree_reaches_every_mig_device),
            cmocka_unit_test(test_a30_instances_by_id),
            cmocka_unit_test(test_a100_compute_instance_profiles),
            cmocka_unit_test(test_placement_widths),
            cmocka_unit_test(test_error_strings),
            cmocka_unit_test(test_system_calls),
            cmocka_unit_test(test_device_readings),
            cmocka_unit_test(test_stated_values),
        };
        return run_nvml_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
