/* NVML loaded at run time: dlopen of libnvidia-ml.so.1, one type-checked function pointer per
 * call, and NVML return codes turned into a negative errno plus a sentence naming the call. */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "driver/nvml_types.h"

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"
#define NVML_LIBRARY_ENV     "MPSMIG_NVML_LIBRARY" /* a path that replaces the default */

/* Each pointer has the exact type of the NVML function it was loaded from, so a call through it
 * is checked by the compiler as if nvml.h were included. Optional ones may be NULL. */
struct nvml {
        void *library;    /* dlopen handle */
        char path[4096];  /* what was dlopen'd, for messages */
        bool initialized; /* nvmlInit succeeded: nvml_close owes one nvmlShutdown */

        /* required: nvml_open fails without them */
        __typeof__(nvmlInit_v2) *Init;
        __typeof__(nvmlShutdown) *Shutdown;
        __typeof__(nvmlErrorString) *ErrorString;
        __typeof__(nvmlSystemGetDriverVersion) *SystemGetDriverVersion;
        __typeof__(nvmlDeviceGetCount_v2) *DeviceGetCount;
        __typeof__(nvmlDeviceGetHandleByIndex_v2) *DeviceGetHandleByIndex;
        __typeof__(nvmlDeviceGetName) *DeviceGetName;
        __typeof__(nvmlDeviceGetUUID) *DeviceGetUUID;
        __typeof__(nvmlDeviceGetMemoryInfo) *DeviceGetMemoryInfo;

        /* optional: older drivers, or drivers without MIG (CUDA < 11.0), lack them */
        __typeof__(nvmlSystemGetCudaDriverVersion_v2) *SystemGetCudaDriverVersion;
        __typeof__(nvmlDeviceGetHandleByUUID) *DeviceGetHandleByUUID;
        __typeof__(nvmlDeviceGetComputeMode) *DeviceGetComputeMode;
        __typeof__(nvmlDeviceGetMigMode) *DeviceGetMigMode;
        __typeof__(nvmlDeviceGetMaxMigDeviceCount) *DeviceGetMaxMigDeviceCount;
        __typeof__(nvmlDeviceGetMigDeviceHandleByIndex) *DeviceGetMigDeviceHandleByIndex;
        __typeof__(nvmlDeviceGetGpuInstanceId) *DeviceGetGpuInstanceId;
        __typeof__(nvmlDeviceGetComputeInstanceId) *DeviceGetComputeInstanceId;
        __typeof__(nvmlDeviceGetAttributes_v2) *DeviceGetAttributes;
        __typeof__(nvmlDeviceGetGpuInstanceProfileInfo) *DeviceGetGpuInstanceProfileInfo;
        __typeof__(nvmlDeviceGetPciInfo_v3) *DeviceGetPciInfo;
};

/*
 * Loads NVML (MPSMIG_NVML_LIBRARY, else libnvidia-ml.so.1 through the loader's search path),
 * resolves every symbol (versioned name first, plain name as fallback) and calls nvmlInit.
 * Fails with -ENOENT (library missing), -ENOSYS (a required symbol missing) or the errno of
 * nvmlInit's code, `err` saying what and suggesting the fix. The cli exits 2 on any of these.
 */
int nvml_open(struct nvml **ret_nvml, struct error *err);

/* Shuts NVML down (when it was initialized) and unloads it. NULL-safe. */
void nvml_close(struct nvml *nvml);
static inline void nvml_closep(struct nvml **nvml)
{
        nvml_close(*nvml);
}
#define _cleanup_nvml_ __attribute__((cleanup(nvml_closep)))

/* The negative errno for an NVML return code (NVML_SUCCESS gives 0; unknown codes -EIO). */
int nvml_errno(nvmlReturn_t code);

/* The constant's name ("NVML_ERROR_GPU_IS_LOST"), or "unknown NVML return code". */
const char *nvml_code_name(nvmlReturn_t code);

/* nvmlErrorString(code) when the library gives one, else the constant's name. */
const char *nvml_strerror(const struct nvml *nvml, nvmlReturn_t code);

/*
 * Records a failed call: err gets "<call>: <nvmlErrorString>" where <call> is the printf-style
 * `call_format` ("nvmlDeviceGetUUID(GPU 1)"), and the return value is nvml_errno(code).
 */
int nvml_error(const struct nvml *nvml, struct error *err, nvmlReturn_t code,
               const char *call_format, ...) __attribute__((format(printf, 4, 5)));
