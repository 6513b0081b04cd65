/* The NVML loader against simgpu's libnvidia-ml.so.1: library lookup and its failures, symbol
 * resolution (versioned names first), nvmlInit failures, and the NVML code -> errno table. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "driver/nvml.h"

static char library_path[4096];

/* Points the loader at simgpu's library and simgpu at one of the shipped topologies. */
static void use_topology(const char *name)
{
        char topology[4096];
        (void)snprintf(topology, sizeof(topology), "%s/simgpu/topologies/%s.json",
                       getenv("MPSMIG_SOURCE"), name);
        assert_int_equal(setenv("SIMGPU_TOPOLOGY", topology, 1), 0);
        assert_int_equal(setenv(NVML_LIBRARY_ENV, library_path, 1), 0);
}

static int setup_suite(void **state)
{
        const char *build = getenv("MPSMIG_BUILD");
        const char *source = getenv("MPSMIG_SOURCE");
        if (!build || !source) {
                fprintf(stderr, "MPSMIG_BUILD and MPSMIG_SOURCE must be set (ctest sets them)\n");
                return -1;
        }
        (void)snprintf(library_path, sizeof(library_path), "%s/simgpu/lib/libnvidia-ml.so.1",
                       build);
        return 0;
}

static void test_open_resolves_every_symbol(void **state)
{
        use_topology("h100");
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), 0);
        assert_non_null(nvml);
        assert_true(nvml->initialized);
        assert_string_equal(nvml->path, library_path);

        /* simgpu implements all of them, so none may stay NULL here */
        assert_non_null(nvml->Init);
        assert_non_null(nvml->Shutdown);
        assert_non_null(nvml->ErrorString);
        assert_non_null(nvml->SystemGetDriverVersion);
        assert_non_null(nvml->DeviceGetCount);
        assert_non_null(nvml->DeviceGetHandleByIndex);
        assert_non_null(nvml->DeviceGetName);
        assert_non_null(nvml->DeviceGetUUID);
        assert_non_null(nvml->DeviceGetMemoryInfo);
        assert_non_null(nvml->SystemGetCudaDriverVersion);
        assert_non_null(nvml->DeviceGetHandleByUUID);
        assert_non_null(nvml->DeviceGetComputeMode);
        assert_non_null(nvml->DeviceGetMigMode);
        assert_non_null(nvml->DeviceGetMaxMigDeviceCount);
        assert_non_null(nvml->DeviceGetMigDeviceHandleByIndex);
        assert_non_null(nvml->DeviceGetGpuInstanceId);
        assert_non_null(nvml->DeviceGetComputeInstanceId);
        assert_non_null(nvml->DeviceGetAttributes);
        assert_non_null(nvml->DeviceGetGpuInstanceProfileInfo);
        nvml_close(nvml);
}

static void *function_address(void *library, const char *name)
{
        void *address = dlsym(library, name);
        assert_non_null(address);
        return address;
}

static void test_versioned_names_come_first(void **state)
{
        use_topology("h100");
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), 0);
        void *init = NULL, *count = NULL, *by_index = NULL;
        memcpy(&init, &nvml->Init, sizeof(init));
        memcpy(&count, &nvml->DeviceGetCount, sizeof(count));
        memcpy(&by_index, &nvml->DeviceGetHandleByIndex, sizeof(by_index));
        assert_ptr_equal(init, function_address(nvml->library, "nvmlInit_v2"));
        assert_ptr_equal(count, function_address(nvml->library, "nvmlDeviceGetCount_v2"));
        assert_ptr_equal(by_index,
                         function_address(nvml->library, "nvmlDeviceGetHandleByIndex_v2"));
        nvml_close(nvml);
}

static void test_calls_reach_the_library(void **state)
{
        use_topology("a30-seed");
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), 0);
        unsigned count = 0;
        assert_int_equal(nvml->DeviceGetCount(&count), NVML_SUCCESS);
        assert_int_equal(count, 4);
        char version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
        assert_int_equal(nvml->SystemGetDriverVersion(version, sizeof(version)), NVML_SUCCESS);
        assert_string_equal(version, "545.23.08");
        nvmlDevice_t device = NULL;
        assert_int_equal(
            nvml->DeviceGetHandleByUUID("MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9", &device),
            NVML_SUCCESS);
        unsigned gi = 0, ci = 0;
        assert_int_equal(nvml->DeviceGetGpuInstanceId(device, &gi), NVML_SUCCESS);
        assert_int_equal(nvml->DeviceGetComputeInstanceId(device, &ci), NVML_SUCCESS);
        assert_int_equal(gi, 1);
        assert_int_equal(ci, 1);
        nvml_close(nvml);
}

static void test_missing_override_names_the_variable(void **state)
{
        assert_int_equal(setenv(NVML_LIBRARY_ENV, "/nonexistent/libnvidia-ml.so.1", 1), 0);
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), -ENOENT);
        assert_null(nvml);
        assert_int_equal(err.code, -ENOENT);
        assert_non_null(strstr(err.message, "cannot load /nonexistent/libnvidia-ml.so.1: "));
        assert_non_null(strstr(err.message, "No such file or directory"));
        assert_non_null(strstr(err.message, "(named by MPSMIG_NVML_LIBRARY)"));
}

static void test_missing_driver_suggests_installing_it(void **state)
{
        void *real = dlopen(NVML_DEFAULT_LIBRARY, RTLD_NOW | RTLD_LOCAL);
        if (real) {
                (void)dlclose(real);
                skip(); /* a real driver is installed: this machine cannot show its absence */
        }
        assert_int_equal(unsetenv(NVML_LIBRARY_ENV), 0);
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), -ENOENT);
        assert_null(nvml);
        assert_non_null(strstr(err.message, "cannot load libnvidia-ml.so.1: "));
        assert_non_null(strstr(err.message, "(is the NVIDIA driver installed?)"));
}

static void test_empty_override_means_default(void **state)
{
        void *real = dlopen(NVML_DEFAULT_LIBRARY, RTLD_NOW | RTLD_LOCAL);
        if (real) {
                (void)dlclose(real);
                skip();
        }
        assert_int_equal(setenv(NVML_LIBRARY_ENV, "", 1), 0);
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), -ENOENT);
        assert_non_null(strstr(err.message, "cannot load libnvidia-ml.so.1: "));
}

static void test_library_without_nvml_is_refused(void **state)
{
        assert_int_equal(setenv(NVML_LIBRARY_ENV, "libc.so.6", 1), 0);
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), -ENOSYS);
        assert_null(nvml);
        assert_string_equal(err.message, "cannot use libc.so.6: it has no nvmlInit_v2 (is it "
                                         "NVIDIA's NVML, from driver 450 or newer?)");
}

static void test_driver_not_loaded(void **state)
{
        use_topology("driver-missing");
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), -ENODEV);
        assert_null(nvml);
        assert_string_equal(err.message, "cannot initialize NVML: nvmlInit: Driver Not Loaded (is "
                                         "the NVIDIA kernel module loaded?)");
}

static void test_error_names_call_and_nvml_string(void **state)
{
        use_topology("h100");
        struct error err = {0};
        struct nvml *nvml = NULL;
        assert_int_equal(nvml_open(&nvml, &err), 0);
        assert_int_equal(
            nvml_error(nvml, &err, NVML_ERROR_GPU_IS_LOST, "nvmlDeviceGetUUID(GPU %u)", 1u),
            -ENXIO);
        assert_string_equal(err.message, "nvmlDeviceGetUUID(GPU 1): GPU is lost");
        assert_int_equal(err.code, -ENXIO);
        assert_string_equal(nvml_strerror(nvml, NVML_ERROR_NOT_FOUND), "Not Found");
        nvml_close(nvml);

        /* without a library, the constant's name stands in for nvmlErrorString */
        assert_int_equal(nvml_error(NULL, &err, NVML_ERROR_TIMEOUT, "nvmlX"), -ETIMEDOUT);
        assert_string_equal(err.message, "nvmlX: NVML_ERROR_TIMEOUT");
        assert_int_equal(nvml_error(NULL, NULL, NVML_ERROR_IN_USE, "nvmlX"), -EBUSY);
}

static void test_code_table(void **state)
{
        assert_int_equal(nvml_errno(NVML_SUCCESS), 0);
        assert_int_equal(nvml_errno(NVML_ERROR_NOT_FOUND), -ENOENT);
        assert_int_equal(nvml_errno(NVML_ERROR_NOT_SUPPORTED), -EOPNOTSUPP);
        assert_int_equal(nvml_errno(NVML_ERROR_NO_PERMISSION), -EPERM);
        assert_int_equal(nvml_errno(NVML_ERROR_DRIVER_NOT_LOADED), -ENODEV);
        assert_int_equal(nvml_errno(NVML_ERROR_FUNCTION_NOT_FOUND), -ENOSYS);
        assert_int_equal(nvml_errno(NVML_ERROR_LIB_RM_VERSION_MISMATCH), -ELIBBAD);
        assert_int_equal(nvml_errno(NVML_ERROR_UNKNOWN), -EIO);
        assert_int_equal(nvml_errno(12345), -EIO);
        assert_string_equal(nvml_code_name(NVML_ERROR_GPU_IS_LOST), "NVML_ERROR_GPU_IS_LOST");
        assert_string_equal(nvml_code_name(NVML_ERROR_RESET_TYPE_NOT_SUPPORTED),
                            "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED");
        assert_string_equal(nvml_code_name(-7), "unknown NVML return code");

        /* GPU_IS_LOST alone maps to -ENXIO: the node model relies on it to spot a lost GPU */
        for (nvmlReturn_t code = 0; code <= NVML_ERROR_UNKNOWN; code++)
                if (code != NVML_ERROR_GPU_IS_LOST)
                        assert_int_not_equal(nvml_errno(code), -ENXIO);
}

static void test_close_is_null_safe(void **state)
{
        nvml_close(NULL);
}

static void test_open_close_repeatedly(void **state)
{
        /* each open is one nvmlInit, each close one nvmlShutdown; a fresh topology every time */
        static const char *const names[] = {"h100", "a30-seed", "h100", "no-gpu"};
        static const unsigned counts[] = {1, 4, 1, 0};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                use_topology(names[i]);
                struct error err = {0};
                _cleanup_nvml_ struct nvml *nvml = NULL;
                assert_int_equal(nvml_open(&nvml, &err), 0);
                unsigned count = 99;
                assert_int_equal(nvml->DeviceGetCount(&count), NVML_SUCCESS);
                assert_int_equal(count, counts[i]);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_open_resolves_every_symbol),
            cmocka_unit_test(test_versioned_names_come_first),
            cmocka_unit_test(test_calls_reach_the_library),
            cmocka_unit_test(test_missing_override_names_the_variable),
            cmocka_unit_test(test_missing_driver_suggests_installing_it),
            cmocka_unit_test(test_empty_override_means_default),
            cmocka_unit_test(test_library_without_nvml_is_refused),
            cmocka_unit_test(test_driver_not_loaded),
            cmocka_unit_test(test_error_names_call_and_nvml_string),
            cmocka_unit_test(test_code_table),
            cmocka_unit_test(test_close_is_null_safe),
            cmocka_unit_test(test_open_close_repeatedly),
        };
        return cmocka_run_group_tests(tests, setup_suite, NULL);
}
