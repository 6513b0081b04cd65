/* Loads the CUDA driver library at run time for mpsmig-probe: dlopen of libcuda.so.1 (or
 * MPSMIG_CUDA_LIBRARY), each entry point resolved by its versioned name first, as a program
 * built against cuda.h would call it, and CUresult codes turned into names and texts. */
#include "probe.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUDA_LIBRARY_DEFAULT "libcuda.so.1"

/* Candidate symbols per entry point, newest first; cuDeviceGetUuid_v2 answers a MIG device's
 * own UUID where the plain name answers its GPU's. */
static const char *const symbols[CALL_COUNT][3] = {
    [CALL_INIT] = {"cuInit"},
    [CALL_DRIVER_GET_VERSION] = {"cuDriverGetVersion"},
    [CALL_DEVICE_GET_COUNT] = {"cuDeviceGetCount"},
    [CALL_DEVICE_GET] = {"cuDeviceGet"},
    [CALL_DEVICE_GET_NAME] = {"cuDeviceGetName"},
    [CALL_DEVICE_GET_UUID] = {"cuDeviceGetUuid_v2", "cuDeviceGetUuid"},
    [CALL_DEVICE_GET_ATTRIBUTE] = {"cuDeviceGetAttribute"},
    [CALL_DEVICE_TOTAL_MEM] = {"cuDeviceTotalMem_v2"},
    [CALL_CTX_CREATE] = {"cuCtxCreate_v2"},
    [CALL_CTX_DESTROY] = {"cuCtxDestroy_v2"},
    [CALL_CTX_SYNCHRONIZE] = {"cuCtxSynchronize"},
    [CALL_MEM_ALLOC] = {"cuMemAlloc_v2"},
    [CALL_MEM_FREE] = {"cuMemFree_v2"},
    [CALL_MEMCPY_HTOD] = {"cuMemcpyHtoD_v2"},
    [CALL_MEMCPY_DTOH] = {"cuMemcpyDtoH_v2"},
    [CALL_MODULE_LOAD_DATA_EX] = {"cuModuleLoadDataEx"},
    [CALL_MODULE_GET_FUNCTION] = {"cuModuleGetFunction"},
    [CALL_MODULE_UNLOAD] = {"cuModuleUnload"},
    [CALL_LAUNCH_KERNEL] = {"cuLaunchKernel"},
    [CALL_GET_ERROR_NAME] = {"cuGetErrorName"},
    [CALL_GET_ERROR_STRING] = {"cuGetErrorString"},
};

/* The slot of each entry point in struct cuda_api, by the order of enum cuda_call. */
static void **slot(struct cuda_api *api, enum cuda_call call)
{
        void **slots[CALL_COUNT] = {
            [CALL_INIT] = (void **)&api->init,
            [CALL_DRIVER_GET_VERSION] = (void **)&api->driver_get_version,
            [CALL_DEVICE_GET_COUNT] = (void **)&api->device_get_count,
            [CALL_DEVICE_GET] = (void **)&api->device_get,
            [CALL_DEVICE_GET_NAME] = (void **)&api->device_get_name,
            [CALL_DEVICE_GET_UUID] = (void **)&api->device_get_uuid,
            [CALL_DEVICE_GET_ATTRIBUTE] = (void **)&api->device_get_attribute,
            [CALL_DEVICE_TOTAL_MEM] = (void **)&api->device_total_mem,
            [CALL_CTX_CREATE] = (void **)&api->ctx_create,
            [CALL_CTX_DESTROY] = (void **)&api->ctx_destroy,
            [CALL_CTX_SYNCHRONIZE] = (void **)&api->ctx_synchronize,
            [CALL_MEM_ALLOC] = (void **)&api->mem_alloc,
            [CALL_MEM_FREE] = (void **)&api->mem_free,
            [CALL_MEMCPY_HTOD] = (void **)&api->memcpy_htod,
            [CALL_MEMCPY_DTOH] = (void **)&api->memcpy_dtoh,
            [CALL_MODULE_LOAD_DATA_EX] = (void **)&api->module_load_data_ex,
            [CALL_MODULE_GET_FUNCTION] = (void **)&api->module_get_function,
            [CALL_MODULE_UNLOAD] = (void **)&api->module_unload,
            [CALL_LAUNCH_KERNEL] = (void **)&api->launch_kernel,
            [CALL_GET_ERROR_NAME] = (void **)&api->get_error_name,
            [CALL_GET_ERROR_STRING] = (void **)&api->get_error_string,
        };

        return slots[call];
}

int cuda_api_load(struct cuda_api *api, char *why, size_t why_size)
{
        const char *library = getenv("MPSMIG_CUDA_LIBRARY");

        memset(api, 0, sizeof(*api));
        if (!library || !*library)
                library = CUDA_LIBRARY_DEFAULT;
        api->handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
        if (!api->handle) {
                const char *error = dlerror();

                (void)snprintf(why, why_size,
                               "cannot load the CUDA driver library %s: %s (install the NVIDIA "
                               "driver, or name the library with MPSMIG_CUDA_LIBRARY)",
                               library, error ? error : "unknown error");
                return -ENOENT;
        }
        for (int call = 0; call < CALL_COUNT; call++) {
                void *fn = NULL;

                for (int k = 0; k < 3 && symbols[call][k] && !fn; k++) {
                        fn = dlsym(api->handle, symbols[call][k]);
                        if (fn)
                                api->names[call] = symbols[call][k];
                }
                if (!fn) {
                        (void)snprintf(why, why_size,
                                       "the CUDA driver library %s has no %s: it is not a usable "
                                       "libcuda",
                                       library, symbols[call][0]);
                        cuda_api_unload(api);
                        return -ENOENT;
                }
                *slot(api, (enum cuda_call)call) = fn;
        }
        *(void **)&api->simgpu_timing_model = dlsym(api->handle, "simgpu_timing_model");
        return 0;
}

void cuda_api_unload(struct cuda_api *api)
{
        if (api->handle)
                (void)dlclose(api->handle);
        memset(api, 0, sizeof(*api));
}

const char *cuda_error_name(const struct cuda_api *api, CUresult r)
{
        const char *name = NULL;

        if (api->get_error_name(r, &name) != CUDA_SUCCESS || !name)
                return "CUDA_ERROR_UNRECOGNIZED";
        return name;
}

void cuda_describe(const struct cuda_api *api, CUresult r, char *buf, size_t size)
{
        const char *name = NULL, *text = NULL;

        if (api->get_error_name(r, &name) != CUDA_SUCCESS || !name ||
            api->get_error_string(r, &text) != CUDA_SUCCESS || !text) {
                (void)snprintf(buf, size, "CUresult %d (unknown to this driver)", r);
                return;
        }
        (void)snprintf(buf, size, "%s (%s)", name, text);
}
