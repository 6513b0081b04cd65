/* cuGetProcAddress of simgpu's libcuda: runtimes resolve the driver API through it by base name
 * ("cuMemAlloc") and the CUDA version they were built for, and get the newest variant of that
 * name that the version knows (cuMemAlloc_v2 from 3.2, cuDeviceGetUuid_v2 from 11.4, ...). */
#include "cuda_sim.h"

#include <string.h>

/* CUdriverProcAddressQueryResult */
enum {
        CU_GET_PROC_ADDRESS_SUCCESS = 0,
        CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND = 1,
        CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT = 2,
};

/* CUdriverProcAddress_flags: DEFAULT, LEGACY_STREAM, PER_THREAD_DEFAULT_STREAM. Nothing here
 * has a per-thread-stream variant, so all three answer alike. */
#define CU_GET_PROC_ADDRESS_FLAGS_MASK 0x3ull

#define ENTRY(name, fn, since)                                                                     \
        {                                                                                          \
                name, (void *)(fn), since                                                          \
        }

/* For each name, variants from the newest down; a caller gets the first it is new enough for. */
static const struct {
        const char *name;
        void *fn;
        int since;
} procs[] = {
    ENTRY("cuInit", cuInit, 2000),
    ENTRY("cuDriverGetVersion", cuDriverGetVersion, 2020),
    ENTRY("cuGetErrorString", cuGetErrorString, 6000),
    ENTRY("cuGetErrorName", cuGetErrorName, 6000),
    ENTRY("cuGetProcAddress", cuGetProcAddress_v2, 12000),
    ENTRY("cuGetProcAddress", cuGetProcAddress, 11030),
    ENTRY("cuDeviceGetCount", cuDeviceGetCount, 2000),
    ENTRY("cuDeviceGet", cuDeviceGet, 2000),
    ENTRY("cuDeviceGetName", cuDeviceGetName, 2000),
    ENTRY("cuDeviceGetUuid", cuDeviceGetUuid_v2, 11040),
    ENTRY("cuDeviceGetUuid", cuDeviceGetUuid, 9020),
    ENTRY("cuDeviceTotalMem", cuDeviceTotalMem_v2, 3020),
    ENTRY("cuDeviceTotalMem", cuDeviceTotalMem, 2000),
    ENTRY("cuDeviceGetAttribute", cuDeviceGetAttribute, 2000),
    ENTRY("cuCtxCreate", cuCtxCreate_v4, 12050),
    ENTRY("cuCtxCreate", cuCtxCreate_v2, 3020),
    ENTRY("cuCtxCreate", cuCtxCreate, 2000),
    ENTRY("cuCtxDestroy", cuCtxDestroy_v2, 4000),
    ENTRY("cuCtxDestroy", cuCtxDestroy, 2000),
    ENTRY("cuCtxGetCurrent", cuCtxGetCurrent, 4000),
    ENTRY("cuCtxSetCurrent", cuCtxSetCurrent, 4000),
    ENTRY("cuCtxPushCurrent", cuCtxPushCurrent_v2, 4000),
    ENTRY("cuCtxPushCurrent", cuCtxPushCurrent, 2000),
    ENTRY("cuCtxPopCurrent", cuCtxPopCurrent_v2, 4000),
    ENTRY("cuCtxPopCurrent", cuCtxPopCurrent, 2000),
    ENTRY("cuCtxGetDevice", cuCtxGetDevice, 2000),
    ENTRY("cuCtxSynchronize", cuCtxSynchronize, 2000),
    ENTRY("cuMemAlloc", cuMemAlloc_v2, 3020),
    ENTRY("cuMemAlloc", cuMemAlloc, 2000),
    ENTRY("cuMemFree", cuMemFree_v2, 3020),
    ENTRY("cuMemFree", cuMemFree, 2000),
    ENTRY("cuMemcpyHtoD", cuMemcpyHtoD_v2, 3020),
    ENTRY("cuMemcpyHtoD", cuMemcpyHtoD, 2000),
    ENTRY("cuMemcpyDtoH", cuMemcpyDtoH_v2, 3020),
    ENTRY("cuMemcpyDtoH", cuMemcpyDtoH, 2000),
    ENTRY("cuModuleLoadData", cuModuleLoadData, 2000),
    ENTRY("cuModuleLoadDataEx", cuModuleLoadDataEx, 2010),
    ENTRY("cuModuleUnload", cuModuleUnload, 2000),
    ENTRY("cuModuleGetFunction", cuModuleGetFunction, 2000),
    ENTRY("cuLaunchKernel", cuLaunchKernel, 4000),
};

CU_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cuda_version,
                                    unsigned long long flags, int *symbol_status)
{
        bool known = false;

        if (!symbol || !pfn || (flags & ~CU_GET_PROC_ADDRESS_FLAGS_MASK))
                return CUDA_ERROR_INVALID_VALUE;
        for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
                if (strcmp(procs[i].name, symbol) != 0)
                        continue;
                known = true;
                if (cuda_version >= procs[i].since) {
                        *pfn = procs[i].fn;
                        if (symbol_status)
                                *symbol_status = CU_GET_PROC_ADDRESS_SUCCESS;
                        return CUDA_SUCCESS;
                }
        }
        *pfn = NULL;
        if (symbol_status)
                *symbol_status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                                       : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        return CUDA_ERROR_NOT_FOUND;
}

/* The CUDA 11.3 form, without the status out-parameter. */
CU_API CUresult cuGetProcAddress(const char *symbol, void **pfn, int cuda_version,
                                 unsigned long long flags)
{
        return cuGetProcAddress_v2(symbol, pfn, cuda_version, flags, NULL);
}
