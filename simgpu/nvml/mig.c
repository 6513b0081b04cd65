/* MIG calls of simgpu's NVML: the MIG mode and device slots of a whole GPU, MIG device handles
 * and their ids and attributes, and the GPU-instance profiles and instances. Error codes follow
 * driver 580 where docs/driver-facts-nvml-abi.md measured them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "nvml_sim.h"

NVML_API nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *current_mode,
                                           unsigned int *pending_mode)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!current_mode || !pending_mode)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (device->mig || !device->gpu->mig_supported)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        *current_mode = device->gpu->mig_current;
        *pending_mode = device->gpu->mig_pending;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!count)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (device->mig || !device->gpu->mig_supported)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        *count = device->gpu->max_mig_devices; /* 0 while MIG is off */
        return nvml_leave_with(NVML_SUCCESS);
}

/* Calls that take a parent GPU: a MIG handle there is an INVALID_ARGUMENT, a GPU without MIG
 * support NOT_SUPPORTED. Locked only on success. */
static nvmlReturn_t enter_parent(nvmlDevice_t device)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (device->mig)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (!device->gpu->mig_supported)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                          nvmlDevice_t *mig_device)
{
        nvmlReturn_t r = enter_parent(device);
        if (r != NVML_SUCCESS)
                return r;
        if (!mig_device)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        /* 580 with MIG off: NOT_FOUND for every index */
        if (device->gpu->mig_current && index >= device->gpu->max_mig_devices)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        for (size_t m = 0; m < device->gpu->mig_device_count; m++)
                if (device->mig_handles[m].mig->slot == index) {
                        *mig_device = &device->mig_handles[m];
                        return nvml_leave_with(NVML_SUCCESS);
                }
        return nvml_leave_with(NVML_ERROR_NOT_FOUND);
}

/* Calls that take a MIG handle: a whole GPU is an INVALID_ARGUMENT (580). */
static nvmlReturn_t enter_mig(nvmlDevice_t device, const void *out)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!out || !device->mig)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig_device,
                                                                   nvmlDevice_t *device)
{
        nvmlReturn_t r = enter_mig(mig_device, device);
        if (r != NVML_SUCCESS)
                return r;
        *device = mig_device->parent;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)
{
        nvmlReturn_t r = enter_mig(device, id);
        if (r != NVML_SUCCESS)
                return r;
        *id = device->mig->gpu_instance_id;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)
{
        nvmlReturn_t r = enter_mig(device, id);
        if (r != NVML_SUCCESS)
                return r;
        *id = device->mig->compute_instance_id;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *is_mig)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!is_mig)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *is_mig = device->mig != NULL;
        return nvml_leave_with(NVML_SUCCESS);
}

/* MIG handles only; 580 answers NOT_SUPPORTED for a whole GPU. Engine counts are the GPU
 * instance's, shared by its compute instances. */
static nvmlReturn_t attributes(nvmlDevice_t device, nvmlDeviceAttributes_t *a, bool v2)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!a)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (!device->mig)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        const struct sim_mig_device *mig = device->mig;
        const struct sim_profile *profile = mig->gpu_instance_profile;
        a->multiprocessorCount = mig->sm_count;
        a->sharedCopyEngineCount = profile->copy_engines;
        a->sharedDecoderCount = profile->decoders;
        a->sharedEncoderCount = profile->encoders;
        a->sharedJpegCount = profile->jpegs;
        a->sharedOfaCount = profile->ofas;
        if (v2) {
                a->gpuInstanceSliceCount = mig->gpu_instance_slices;
                a->computeInstanceSliceCount = mig->compute_instance_slices;
                a->memorySizeMB = mig->memory_mib;
        }
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t device, nvmlDeviceAttributes_t *a)
{
        return attributes(device, a, true);
}

/* CUDA 11.0's version: the caller's struct has only the first six fields. */
NVML_API nvmlReturn_t nvmlDeviceGetAttributes(nvmlDevice_t device, nvmlDeviceAttributes_v1_t *a)
{
        return attributes(device, (nvmlDeviceAttributes_t *)a, false);
}

/* The profile at NVML_GPU_INSTANCE_PROFILE_* `index`, answered with MIG off too. Locked only on
 * success. */
static nvmlReturn_t enter_profile(nvmlDevice_t device, unsigned int index, const void *out,
                                  const struct sim_profile **ret_profile)
{
        nvmlReturn_t r = enter_parent(device);
        if (r != NVML_SUCCESS)
                return r;
        if (!out || index >= NVML_GPU_INSTANCE_PROFILE_COUNT)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        for (size_t i = 0; i < device->gpu->profile_count; i++)
                if (device->gpu->profiles[i].index == index) {
                        *ret_profile = &device->gpu->profiles[i];
                        return NVML_SUCCESS;
                }
        return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
}

NVML_API nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int index,
                                                          nvmlGpuInstanceProfileInfo_t *info)
{
        const struct sim_profile *p;
        nvmlReturn_t r = enter_profile(device, index, info, &p);
        if (r != NVML_SUCCESS)
                return r;
        *info = (nvmlGpuInstanceProfileInfo_t){
            .id = p->id,
            .sliceCount = p->slices,
            .instanceCount = p->max_instances,
            .multiprocessorCount = p->sm_count,
            .copyEngineCount = p->copy_engines,
            .decoderCount = p->decoders,
            .encoderCount = p->encoders,
            .jpegCount = p->jpegs,
            .ofaCount = p->ofas,
            .memorySizeMB = p->memory_mib,
        };
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t device, unsigned int index,
                                                           nvmlGpuInstanceProfileInfo_v2_t *info)
{
        const struct sim_profile *p;
        nvmlReturn_t r = enter_profile(device, index, info, &p);
        if (r != NVML_SUCCESS)
                return r;
        /* like GetMemoryInfo_v2 on 580, a version it does not know is a missing function */
        if (info->version != nvmlGpuInstanceProfileInfo_v2)
                return nvml_leave_with(NVML_ERROR_FUNCTION_NOT_FOUND);
        *info = (nvmlGpuInstanceProfileInfo_v2_t){
            .version = info->version,
            .id = p->id,
            .sliceCount = p->slices,
            .instanceCount = p->max_instances,
            .multiprocessorCount = p->sm_count,
            .copyEngineCount = p->copy_engines,
            .decoderCount = p->decoders,
            .encoderCount = p->encoders,
            .jpegCount = p->jpegs,
            .ofaCount = p->ofas,
            .memorySizeMB = p->memory_mib,
        };
        snprintf(info->name, sizeof(info->name), "%s", p->name);
        return nvml_leave_with(NVML_SUCCESS);
}

/* The GPU instances of profile id `profile_id`; `instances` must hold the profile's maximum
 * (NVML has no INSUFFICIENT_SIZE here). MIG off: SUCCESS with 0, as 580 answers. */
NVML_API nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profile_id,
                                                nvmlGpuInstance_t *instances, unsigned int *count)
{
        nvmlReturn_t r = enter_parent(device);
        if (r != NVML_SUCCESS)
                return r;
        if (!instances || !count)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        const struct sim_profile *profile = NULL;
        for (size_t i = 0; i < device->gpu->profile_count; i++)
                if (device->gpu->profiles[i].id == profile_id)
                        profile = &device->gpu->profiles[i];
        if (!profile)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        unsigned n = 0;
        /* the topology loader keeps a profile's instances within its max_instances */
        for (size_t m = 0; m < device->gpu->mig_device_count && n < profile->max_instances; m++) {
                struct nvmlGpuInstance_st *gi = device->mig_handles[m].gpu_instance;
                bool seen = false;
                for (unsigned j = 0; j < n; j++)
                        seen = seen || instances[j] == gi;
                if (!seen && gi->profile->id == profile_id)
                        instances[n++] = gi;
        }
        *count = n;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpu_instance,
                                             nvmlGpuInstanceInfo_t *info)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_gpu_instance(gpu_instance, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!info)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        info->device = gpu_instance->parent;
        info->id = gpu_instance->id;
        info->profileId = gpu_instance->profile->id;
        info->placement.start = gpu_instance->placement_start;
        info->placement.size = gpu_instance->profile->slices;
        return nvml_leave_with(NVML_SUCCESS);
}
