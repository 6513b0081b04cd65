/* System-wide NVML calls of simgpu: driver and CUDA versions, the GPU count, and the ways to get
 * a device handle (by index, by GPU or MIG UUID). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "nvml_sim.h"

NVML_API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        return nvml_leave_with(nvml_copy_string(s->topology->driver_version, version, length));
}

NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cuda_driver_version)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!cuda_driver_version)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *cuda_driver_version = s->topology->cuda_driver_version;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cuda_driver_version)
{
        return nvmlSystemGetCudaDriverVersion_v2(cuda_driver_version);
}

NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!count)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *count = (unsigned)s->topology->gpu_count;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
        return nvmlDeviceGetCount_v2(count);
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!device || index >= s->topology->gpu_count)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (s->devices[index].gpu->lost)
                return nvml_leave_with(NVML_ERROR_GPU_IS_LOST);
        *device = &s->devices[index];
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
        return nvmlDeviceGetHandleByIndex_v2(index, device);
}

/* R450/R460 named MIG devices "MIG-GPU-<gpu uuid>/<gi>/<ci>"; newer drivers still accept it.
 * Returns the matching device's UUID in `buf`, or leaves `uuid` as it is. */
static const char *legacy_mig_uuid(const struct sim_topology *t, const char *uuid, char *buf,
                                   size_t size)
{
        char gpu_uuid[SIM_UUID_MAX];
        unsigned gi, ci;
        int end = 0;
        if (strncmp(uuid, "MIG-GPU-", 8) != 0 ||
            sscanf(uuid + 4, "%40[^/]/%u/%u%n", gpu_uuid, &gi, &ci, &end) != 3 ||
            uuid[4 + end] != '\0')
                return uuid;
        const struct sim_gpu *gpu;
        const struct sim_mig_device *mig;
        if (sim_topology_find_uuid(t, gpu_uuid, &gpu, &mig) < 0 || mig)
                return uuid;
        for (size_t m = 0; m < gpu->mig_device_count; m++)
                if (gpu->mig_devices[m].gpu_instance_id == gi &&
                    gpu->mig_devices[m].compute_instance_id == ci) {
                        snprintf(buf, size, "%s", gpu->mig_devices[m].uuid);
                        return buf;
                }
        return uuid;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
        const struct nvml_state *s;
        char modern[SIM_UUID_MAX];
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!uuid || !device)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        uuid = legacy_mig_uuid(s->topology, uuid, modern, sizeof(modern));
        for (size_t i = 0; i < s->device_count; i++) {
                struct nvmlDevice_st *d = &s->devices[i];
                if (strcmp(d->mig ? d->mig->uuid : d->gpu->uuid, uuid) != 0)
                        continue;
                if (d->gpu->lost)
                        return nvml_leave_with(NVML_ERROR_GPU_IS_LOST);
                *device = d;
                return nvml_leave_with(NVML_SUCCESS);
        }
        return nvml_leave_with(NVML_ERROR_NOT_FOUND);
}
