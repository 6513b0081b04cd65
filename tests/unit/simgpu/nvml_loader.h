/* Shared by simgpu's NVML tests: dlopen of the built libnvidia-ml.so.1, every call looked up by
 * the name callers use (versioned first), and helpers that assert on a call's answer. Struct
 * offsets are checked against docs/driver-facts-nvml-abi.md, not against the double's header. */
#pragma once

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../simgpu/nvml/nvml_sim.h"

/* Layouts as docs/driver-facts-nvml-abi.md gives them (x86_64). */
_Static_assert(offsetof(nvmlPciInfo_t, busId) == 36, "busId offset");
_Static_assert(offsetof(nvmlProcessInfo_t, usedGpuMemory) == 8, "usedGpuMemory offset");
_Static_assert(offsetof(nvmlDeviceAttributes_t, memorySizeMB) == 32, "memorySizeMB offset");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_t, memorySizeMB) == 40, "profile memory");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_v2_t, name) == 56, "profile name offset");

typedef nvmlReturn_t (*uint_fn)(nvmlDevice_t, unsigned int *);

static void *library;
static char topology_dir[4096];

typedef nvmlReturn_t (*processes_fn)(nvmlDevice_t, unsigned int *, void *);

/* Every call the tests use: field, dlsym name (versioned first, as the facts tell callers to
 * look them up), and type. */
#define NVML_SYMBOLS(X)                                                                            \
        X(Init, "nvmlInit_v2", nvmlReturn_t (*)(void))                                             \
        X(InitWithFlags, "nvmlInitWithFlags", nvmlReturn_t (*)(unsigned int))                      \
        X(Shutdown, "nvmlShutdown", nvmlReturn_t (*)(void))                                        \
        X(ErrorString, "nvmlErrorString", const char *(*)(nvmlReturn_t))                           \
        X(SystemGetDriverVersion, "nvmlSystemGetDriverVersion",                                    \
          nvmlReturn_t (*)(char *, unsigned int))                                                  \
        X(SystemGetCudaDriverVersion, "nvmlSystemGetCudaDriverVersion_v2",                         \
          nvmlReturn_t (*)(int *))                                                                 \
        X(DeviceGetCount, "nvmlDeviceGetCount_v2", nvmlReturn_t (*)(unsigned int *))               \
        X(DeviceGetHandleByIndex, "nvmlDeviceGetHandleByIndex_v2",                                 \
          nvmlReturn_t (*)(unsigned int, nvmlDevice_t *))                                          \
        X(DeviceGetHandleByUUID, "nvmlDeviceGetHandleByUUID",                                      \
          nvmlReturn_t (*)(const char *, nvmlDevice_t *))                                          \
        X(DeviceGetName, "nvmlDeviceGetName",                                                      \
          nvmlReturn_t (*)(nvmlDevice_t, char *, unsigned int))                                    \
        X(DeviceGetUUID, "nvmlDeviceGetUUID",                                                      \
          nvmlReturn_t (*)(nvmlDevice_t, char *, unsigned int))                                    \
        X(DeviceGetIndex, "nvmlDeviceGetIndex", uint_fn)                                           \
        X(DeviceGetMinorNumber, "nvmlDeviceGetMinorNumber", uint_fn)                               \
        X(DeviceGetPciInfo, "nvmlDeviceGetPciInfo_v3",                                             \
          nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t *))                                         \
        X(DeviceGetMemoryInfo, "nvmlDeviceGetMemoryInfo",                                          \
          nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t *))                                          \
        X(DeviceGetMemoryInfo_v2, "nvmlDeviceGetMemoryInfo_v2",                                    \
          nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_v2_t *))                                       \
        X(DeviceGetComputeMode, "nvmlDeviceGetComputeMode",                                        \
          nvmlReturn_t (*)(nvmlDevice_t, nvmlComputeMode_t *))                                     \
        X(DeviceGetPersistenceMode, "nvmlDeviceGetPersistenceMode",                                \
          nvmlReturn_t (*)(nvmlDevice_t, nvmlEnableState_t *))                                     \
        X(DeviceGetMigMode, "nvmlDeviceGetMigMode",                                                \
          nvmlReturn_t (*)(nvmlDevice_t, unsigned int *, unsigned int *))                          \
        X(DeviceGetMaxMigDeviceCount, "nvmlDeviceGetMaxMigDeviceCount", uint_fn)                   \
        X(DeviceGetMigDeviceHandleByIndex, "nvmlDeviceGetMigDeviceHandleByIndex",                  \
          nvmlReturn_t (*)(nvmlDevice_t, unsigned int, nvmlDevice_t *))                            \
        X(DeviceGetDeviceHandleFromMigDeviceHandle,                                                \
          "nvmlDeviceGetDeviceHandleFromMigDeviceHandle",                                          \
          nvmlReturn_t (*)(nvmlDevice_t, nvmlDevice_t *))                                          \
        X(DeviceIsMigDeviceHandle, "nvmlDeviceIsMigDeviceHandle", uint_fn)                         \
        X(DeviceGetGpuInstanceId, "nvmlDeviceGetGpuInstanceId", uint_fn)                           \
        X(DeviceGetComputeInstanceId, "nvmlDeviceGetComputeInstanceId", uint_fn)                   \
        X(DeviceGetAttributes, "nvmlDeviceGetAttributes_v2",                                       \
          nvmlReturn_t (*)(nvmlDevice_t, nvmlDeviceAttributes_t *))                                \
        X(DeviceGetGpuInstanceProfileInfo, "nvmlDeviceGetGpuInstanceProfileInfo",                  \
          nvmlReturn_t (*)(nvmlDevice_t, unsigned int, nvmlGpuInstanceProfileInfo_t *))            \
        X(DeviceGetGpuInstanceProfileInfoV, "nvmlDeviceGetGpuInstanceProfileInfoV",                \
          nvmlReturn_t (*)(nvmlDevice_t, unsigned int, nvmlGpuInstanceProfileInfo_v2_t *))         \
        X(DeviceGetGpuInstances, "nvmlDeviceGetGpuInstances",                                      \
          nvmlReturn_t (*)(nvmlDevice_t, unsigned int, nvmlGpuInstance_t *, unsigned int *))       \
        X(GpuInstanceGetInfo, "nvmlGpuInstanceGetInfo",                                            \
          nvmlReturn_t (*)(nvmlGpuInstance_t, nvmlGpuInstanceInfo_t *))                            \
        X(Processes_v1, "nvmlDeviceGetComputeRunningProcesses", processes_fn)                      \
        X(Processes_v2, "nvmlDeviceGetComputeRunningProcesses_v2", processes_fn)                   \
        X(Processes_v3, "nvmlDeviceGetComputeRunningProcesses_v3", processes_fn)

#define DECLARE_FIELD(field, symbol, type) __typeof__(type) field;
#define SYMBOL_ENTRY(field, symbol, type)  {symbol, &nvml.field},

static struct {
        NVML_SYMBOLS(DECLARE_FIELD)
} nvml;

static const struct {
        const char *name;
        void *slot;
} symbols[] = {NVML_SYMBOLS(SYMBOL_ENTRY)};

/* Plain names that old callers (and the fallback path) look up. */
static const char *const plain_names[] = {
    "nvmlInit",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetPciInfo",
    "nvmlDeviceGetPciInfo_v2",
    "nvmlSystemGetCudaDriverVersion",
    "nvmlDeviceGetAttributes",
};

__attribute__((unused)) static int load_library(void **state)
{
        const char *build = getenv("MPSMIG_BUILD");
        char path[4096];
        if (!build) {
                fprintf(stderr, "MPSMIG_BUILD is not set\n");
                return -1;
        }
        snprintf(path, sizeof(path), "%s/simgpu/lib/libnvidia-ml.so.1", build);
        library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!library) {
                fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
                return -1;
        }
        for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
                void *address = dlsym(library, symbols[i].name);
                if (!address) {
                        fprintf(stderr, "dlsym %s: not exported\n", symbols[i].name);
                        return -1;
                }
                memcpy(symbols[i].slot, &address, sizeof(address));
        }
        return 0;
}

__attribute__((unused)) static int unload_library(void **state)
{
        return library ? dlclose(library) : 0;
}

__attribute__((unused)) static void use_topology(const char *name)
{
        char path[4096 + 64];
        snprintf(path, sizeof(path), "%s/%s.json", topology_dir, name);
        setenv("SIMGPU_TOPOLOGY", path, 1);
}

__attribute__((unused)) static void init_with(const char *name)
{
        use_topology(name);
        assert_int_equal(nvml.Init(), NVML_SUCCESS);
}

__attribute__((unused)) static void shutdown_all(void)
{
        assert_int_equal(nvml.Shutdown(), NVML_SUCCESS);
        assert_int_equal(nvml.Shutdown(), NVML_ERROR_UNINITIALIZED);
}

__attribute__((unused)) static nvmlDevice_t gpu(unsigned index)
{
        nvmlDevice_t device = NULL;
        assert_int_equal(nvml.DeviceGetHandleByIndex(index, &device), NVML_SUCCESS);
        assert_non_null(device);
        return device;
}

__attribute__((unused)) static nvmlDevice_t mig(nvmlDevice_t parent, unsigned slot)
{
        nvmlDevice_t device = NULL;
        assert_int_equal(nvml.DeviceGetMigDeviceHandleByIndex(parent, slot, &device), NVML_SUCCESS);
        assert_non_null(device);
        return device;
}

__attribute__((unused)) static void assert_name(nvmlDevice_t device, const char *expected)
{
        char name[96];
        assert_int_equal(nvml.DeviceGetName(device, name, sizeof(name)), NVML_SUCCESS);
        assert_string_equal(name, expected);
}

__attribute__((unused)) static void assert_uuid(nvmlDevice_t device, const char *expected)
{
        char uuid[96];
        assert_int_equal(nvml.DeviceGetUUID(device, uuid, sizeof(uuid)), NVML_SUCCESS);
        assert_string_equal(uuid, expected);
}

__attribute__((unused)) static unsigned get_uint(uint_fn fn, nvmlDevice_t device)
{
        unsigned value = 0xdeadbeef;
        assert_int_equal(fn(device, &value), NVML_SUCCESS);
        return value;
}

/* Runs `tests` with the library loaded; the topology folder comes from MPSMIG_SOURCE. */
__attribute__((unused)) static int run_nvml_tests(const struct CMUnitTest *tests, size_t count)
{
        const char *source = getenv("MPSMIG_SOURCE");
        snprintf(topology_dir, sizeof(topology_dir), "%s/simgpu/topologies",
                 source ? source : "..");
        return _cmocka_run_group_tests("nvml", tests, count, load_library, unload_library);
}
