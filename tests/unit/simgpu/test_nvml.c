/* Tests the life and the error paths of simgpu's libnvidia-ml.so.1 as a caller sees them through
 * dlopen: init and shutdown, missing and broken topologies, handles of the wrong kind, short
 * buffers, error strings, and the running-process protocol. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "nvml_loader.h"

/* Runs nvmlInit with fd 2 sent to a file; returns its code and what it wrote in `text`. */
static nvmlReturn_t init_capturing_stderr(char *text, size_t size)
{
        char path[] = "/tmp/test_nvml_stderr.XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);
        assert_true(fd >= 0);
        unlink(path);
        fflush(stderr);
        int saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
        assert_true(saved >= 0);
        assert_int_equal(dup2(fd, 2), 2);
        nvmlReturn_t r = nvml.Init();
        fflush(stderr);
        assert_int_equal(dup2(saved, 2), 2);
        close(saved);
        ssize_t n = pread(fd, text, size - 1, 0);
        close(fd);
        assert_true(n >= 0);
        text[n] = '\0';
        return r;
}

static unsigned count_lines(const char *text)
{
        unsigned lines = 0;
        for (; *text; text++)
                lines += *text == '\n';
        return lines;
}

static void test_plain_names_exported(void **state)
{
        for (size_t i = 0; i < sizeof(plain_names) / sizeof(plain_names[0]); i++)
                if (!dlsym(library, plain_names[i]))
                        fail_msg("%s is not exported", plain_names[i]);
        /* only NVML's names leave the library */
        assert_null(dlsym(library, "sim_topology_load"));
        assert_null(dlsym(library, "nvml_enter"));
}

static void test_uninitialized(void **state)
{
        unsigned count;
        char version[80];
        nvmlDevice_t device;
        assert_int_equal(nvml.Shutdown(), NVML_ERROR_UNINITIALIZED);
        assert_int_equal(nvml.DeviceGetCount(&count), NVML_ERROR_UNINITIALIZED);
        assert_int_equal(nvml.SystemGetDriverVersion(version, sizeof(version)),
                         NVML_ERROR_UNINITIALIZED);
        assert_int_equal(nvml.DeviceGetHandleByIndex(0, &device), NVML_ERROR_UNINITIALIZED);

        /* a handle kept past the last shutdown is refused, not followed */
        init_with("a30-seed");
        device = gpu(0);
        shutdown_all();
        assert_int_equal(nvml.DeviceGetIndex(device, &count), NVML_ERROR_UNINITIALIZED);
}

static void test_init_without_topology(void **state)
{
        char text[2048];
        unsetenv("SIMGPU_TOPOLOGY");
        assert_int_equal(init_capturing_stderr(text, sizeof(text)), NVML_ERROR_DRIVER_NOT_LOADED);
        assert_int_equal(count_lines(text), 1);
        assert_true(strncmp(text, "simgpu: ", 8) == 0);
        assert_non_null(strstr(text, "SIMGPU_TOPOLOGY"));
        assert_int_equal(nvml.Shutdown(), NVML_ERROR_UNINITIALIZED);
}

static void test_init_with_broken_topology(void **state)
{
        char path[] = "/tmp/test_nvml_broken.XXXXXX.json";
        char text[2048], expected[256];
        int fd = mkostemps(path, 5, O_CLOEXEC);
        assert_true(fd >= 0);
        static const char broken[] = "{\"driver\": {\"loaded\": true,\n  \"version\": 580}, "
                                     "\"gpus\": []}\n";
        assert_int_equal(write(fd, broken, strlen(broken)), (ssize_t)strlen(broken));
        close(fd);
        setenv("SIMGPU_TOPOLOGY", path, 1);
        assert_int_equal(init_capturing_stderr(text, sizeof(text)), NVML_ERROR_DRIVER_NOT_LOADED);
        unlink(path);
        snprintf(expected, sizeof(expected), "simgpu: %s:2:14: driver.version: expected a string\n",
                 path);
        assert_string_equal(text, expected);
        assert_int_equal(nvml.Shutdown(), NVML_ERROR_UNINITIALIZED);
}

static void test_driver_not_loaded(void **state)
{
        char text[2048];
        use_topology("driver-missing");
        assert_int_equal(init_capturing_stderr(text, sizeof(text)), NVML_ERROR_DRIVER_NOT_LOADED);
        assert_string_equal(text, ""); /* a healthy topology: the driver is just absent */
        assert_int_equal(nvml.InitWithFlags(0), NVML_ERROR_DRIVER_NOT_LOADED);
        assert_int_equal(nvml.Shutdown(), NVML_ERROR_UNINITIALIZED);
}

static void test_refcounted_init(void **state)
{
        unsigned count;
        init_with("h100");
        assert_int_equal(nvml.InitWithFlags(0), NVML_SUCCESS);
        assert_int_equal(nvml.Shutdown(), NVML_SUCCESS);
        assert_int_equal(nvml.DeviceGetCount(&count), NVML_SUCCESS); /* still one init left */
        assert_int_equal(count, 1);
        shutdown_all();
        assert_int_equal(nvml.DeviceGetCount(&count), NVML_ERROR_UNINITIALIZED);
}

static void test_error_strings(void **state)
{
        assert_string_equal(nvml.ErrorString(NVML_SUCCESS), "Success");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_UNINITIALIZED), "Uninitialized");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_INVALID_ARGUMENT), "Invalid Argument");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_NOT_SUPPORTED), "Not Supported");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_NOT_FOUND), "Not Found");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_INSUFFICIENT_SIZE), "Insufficient Size");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_DRIVER_NOT_LOADED), "Driver Not Loaded");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_GPU_IS_LOST), "GPU is lost");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_LIB_RM_VERSION_MISMATCH),
                            "Driver/library version mismatch");
        assert_string_equal(nvml.ErrorString(NVML_ERROR_UNKNOWN), "Unknown Error");
        assert_string_equal(nvml.ErrorString(12345), "Unknown Error");
}

/* Full-GPU handles where a MIG handle belongs and the other way round. */
static void test_wrong_kind_of_handle(void **state)
{
        nvmlDevice_t device;
        nvmlDeviceAttributes_t a;
        nvmlPciInfo_t pci;
        unsigned value, current, pending;
        nvmlGpuInstanceProfileInfo_t info;
        init_with("a30-seed");
        nvmlDevice_t whole = gpu(1), m = mig(gpu(0), 0);
        assert_int_equal(nvml.DeviceGetAttributes(whole, &a), NVML_ERROR_NOT_SUPPORTED);
        assert_int_equal(nvml.DeviceGetGpuInstanceId(whole, &value), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetComputeInstanceId(whole, &value),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetDeviceHandleFromMigDeviceHandle(whole, &device),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetMigDeviceHandleByIndex(m, 0, &device),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetGpuInstanceProfileInfo(m, 0, &info),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetMigMode(m, &current, &pending), NVML_ERROR_NOT_SUPPORTED);
        assert_int_equal(nvml.DeviceGetPciInfo(m, &pci), NVML_ERROR_NOT_SUPPORTED);
        assert_int_equal(nvml.DeviceGetMinorNumber(m, &value), NVML_ERROR_NOT_SUPPORTED);
        /* something that was never a handle */
        assert_int_equal(nvml.DeviceGetIndex((nvmlDevice_t)&value, &value),
                         NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetIndex(NULL, &value), NVML_ERROR_INVALID_ARGUMENT);
        assert_int_equal(nvml.DeviceGetIndex(whole, NULL), NVML_ERROR_INVALID_ARGUMENT);
        shutdown_all();
}

static void test_short_buffers(void **state)
{
        char buf[96];
        init_with("a30-seed");
        nvmlDevice_t d = gpu(0);
        const char *uuid = "GPU-8f8bff94-112e-9541-43da-cfd453333404";
        unsigned exact = (unsigned)strlen(uuid) + 1;
        assert_int_equal(nvml.DeviceGetUUID(d, buf, exact - 1), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(nvml.DeviceGetUUID(d, buf, exact), NVML_SUCCESS);
        assert_string_equal(buf, uuid);
        assert_int_equal(nvml.DeviceGetName(d, buf, 5), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(nvml.DeviceGetName(mig(d, 0), buf, 20), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(nvml.SystemGetDriverVersion(buf, 9), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(nvml.SystemGetDriverVersion(buf, 10), NVML_SUCCESS);
        assert_string_equal(buf, "545.23.08");
        shutdown_all();
}

/* A topology with processes, written for this test: the INSUFFICIENT_SIZE protocol and the
 * three entry strides (v1 16 bytes, v2/v3 24 with padding left as it was). */
static void test_running_processes(void **state)
{
        static const char text[] =
            "{\"driver\": {\"loaded\": true, \"version\": \"580.159.04\", \"cuda_version\": "
            "13000}, \"gpus\": [\n"
            " {\"name\": \"NVIDIA H100 80GB HBM3\", \"uuid\": "
            "\"GPU-11111111-2222-3333-4444-555555555555\", \"pci_bus_id\": "
            "\"00000000:00:06.0\", \"memory_mib\": 81559, \"sm_count\": 132, "
            "\"compute_mode\": \"Default\", \"persistence_mode\": true,\n"
            "  \"processes\": [{\"pid\": 100, \"used_memory_mib\": 30}, {\"pid\": 101, "
            "\"used_memory_mib\": 50}]},\n"
            " {\"name\": \"NVIDIA H100 80GB HBM3\", \"uuid\": "
            "\"GPU-66666666-7777-8888-9999-aaaaaaaaaaaa\", \"pci_bus_id\": "
            "\"00000000:00:07.0\", \"memory_mib\": 81559, \"sm_count\": 132, "
            "\"compute_mode\": \"Default\", \"persistence_mode\": true,\n"
            "  \"mig\": {\"current\": 1, \"pending\": 1, \"max_devices\": 7, \"profiles\": "
            "[{\"index\": 0, \"id\": 19, \"name\": \"1g.10gb\", \"slices\": 1, "
            "\"max_instances\": 7, \"memory_mib\": 9984, \"sm_count\": 16, "
            "\"copy_engines\": 1}],\n"
            "   \"devices\": [{\"slot\": 0, \"gpu_instance_id\": 7, \"compute_instance_id\": "
            "0, \"uuid\": \"MIG-11111111-2222-3333-4444-555555555555\", \"profile\": "
            "\"1g.10gb\", \"sm_count\": 16, \"memory_mib\": 9984, \"processes\": [{\"pid\": "
            "200, \"used_memory_mib\": 30}]}]}}]}\n";
        char path[] = "/tmp/test_nvml_processes.XXXXXX.json";
        int fd = mkostemps(path, 5, O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        setenv("SIMGPU_TOPOLOGY", path, 1);
        assert_int_equal(nvml.Init(), NVML_SUCCESS);
        unlink(path);
        nvmlDevice_t whole = gpu(0), parent = gpu(1), m = mig(parent, 0);
        const processes_fn processes[] = {NULL, nvml.Processes_v1, nvml.Processes_v2,
                                          nvml.Processes_v3};

        for (int v = 1; v <= 3; v++) {
                size_t stride = v == 1 ? 16 : 24;
                unsigned char buf[4 * 24];
                unsigned count = 0;
                assert_int_equal(processes[v](whole, &count, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
                assert_int_equal(count, 2);
                count = 1;
                assert_int_equal(processes[v](whole, &count, buf), NVML_ERROR_INSUFFICIENT_SIZE);
                assert_int_equal(count, 2);
                memset(buf, 0xA5, sizeof(buf));
                count = 4;
                assert_int_equal(processes[v](whole, &count, buf), NVML_SUCCESS);
                assert_int_equal(count, 2);
                for (unsigned i = 0; i < 2; i++) {
                        unsigned pid;
                        unsigned long long used;
                        memcpy(&pid, buf + i * stride, 4);
                        memcpy(&used, buf + i * stride + 8, 8);
                        assert_int_equal(pid, 100 + i);
                        assert_int_equal(used, (i ? 50ull : 30ull) << 20);
                        assert_int_equal(buf[i * stride + 4], 0xA5); /* padding untouched */
                        if (v > 1) {
                                unsigned gi, ci;
                                memcpy(&gi, buf + i * stride + 16, 4);
                                memcpy(&ci, buf + i * stride + 20, 4);
                                assert_int_equal(gi, 0xFFFFFFFF);
                                assert_int_equal(ci, 0xFFFFFFFF);
                        }
                }
                assert_int_equal(buf[2 * stride], 0xA5); /* nothing past the count */
        }

        /* MIG on: the MIG device has its own, the parent aggregates with the ids */
        nvmlProcessInfo_t infos[2];
        unsigned count = 2;
        assert_int_equal(nvml.Processes_v3(m, &count, infos), NVML_SUCCESS);
        assert_int_equal(count, 1);
        assert_int_equal(infos[0].pid, 200);
        count = 2;
        assert_int_equal(nvml.Processes_v3(parent, &count, infos), NVML_SUCCESS);
        assert_int_equal(count, 1);
        assert_int_equal(infos[0].gpuInstanceId, 7);
        assert_int_equal(infos[0].computeInstanceId, 0);
        assert_int_equal(nvml.Processes_v3(parent, NULL, infos), NVML_ERROR_INVALID_ARGUMENT);

        nvmlMemory_t memory;
        assert_int_equal(nvml.DeviceGetMemoryInfo(whole, &memory), NVML_SUCCESS);
        assert_int_equal(memory.used, 80ull << 20);
        assert_int_equal(memory.free, (81559ull - 80) << 20);
        shutdown_all();

        /* with none running, an empty query succeeds */
        init_with("a30-seed");
        count = 0;
        assert_int_equal(nvml.Processes_v3(gpu(1), &count, NULL), NVML_SUCCESS);
        assert_int_equal(count, 0);
        shutdown_all();
}
int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_plain_names_exported),
            cmocka_unit_test(test_uninitialized),
            cmocka_unit_test(test_init_without_topology),
            cmocka_unit_test(test_init_with_broken_topology),
            cmocka_unit_test(test_driver_not_loaded),
            cmocka_unit_test(test_refcounted_init),
            cmocka_unit_test(test_error_strings),
            cmocka_unit_test(test_wrong_kind_of_handle),
            cmocka_unit_test(test_short_buffers),
            cmocka_unit_test(test_running_processes),
        };
        return run_nvml_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
