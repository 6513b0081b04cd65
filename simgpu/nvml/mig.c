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
        if (!out || index >= GPU_INSTANCE_PROFILE_LIMIT)
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
        /* the v2 struct's name reads "MIG 1g.18gb" on driver 580 */
        snprintf(info->name, sizeof(info->name), "MIG %s", p->name);
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
        info->placement.size = gpu_instance->profile->placement_size;
        return nvml_leave_with(NVML_SUCCESS);
}

/* The profile with NVML profile id `id`, or NULL. */
static const struct sim_profile *profile_by_id(const struct sim_gpu *gpu, unsigned id)
{
        for (size_t i = 0; i < gpu->profile_count; i++)
                if (gpu->profiles[i].id == id)
                        return &gpu->profiles[i];
        return NULL;
}

/* Where a GPU instance of `profile_id` may start: the first `placements` multiples of its
 * placement size (H200: 3g {0,4}:4, 1g.35gb {0,2,4,6}:2, 1g.18gb+me {0..6}:1). NULL `placements`
 * asks for the count; too small a count is INSUFFICIENT_SIZE. */
NVML_API nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(
    nvmlDevice_t device, unsigned int profile_id, nvmlGpuInstancePlacement_t *placements,
    unsigned int *count)
{
        nvmlReturn_t r = enter_parent(device);
        if (r != NVML_SUCCESS)
                return r;
        const struct sim_profile *p = profile_by_id(device->gpu, profile_id);
        if (!count || !p)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        unsigned n = p->placements;
        if (!placements) {
                *count = n;
                return nvml_leave_with(NVML_SUCCESS);
        }
        if (*count < n) {
                *count = n;
                return nvml_leave_with(NVML_ERROR_INSUFFICIENT_SIZE);
        }
        for (unsigned i = 0; i < n; i++)
                placements[i] =
                    (nvmlGpuInstancePlacement_t){i * p->placement_size, p->placement_size};
        *count = n;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements(
    nvmlDevice_t device, unsigned int profile_id, nvmlGpuInstancePlacement_t *placements,
    unsigned int *count)
{
        return nvmlDeviceGetGpuInstancePossiblePlacements_v2(device, profile_id, placements, count);
}

NVML_API nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t device, unsigned int id,
                                                   nvmlGpuInstance_t *gpu_instance)
{
        nvmlReturn_t r = enter_parent(device);
        if (r != NVML_SUCCESS)
                return r;
        if (!gpu_instance)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        for (size_t m = 0; m < device->gpu->mig_device_count; m++)
                if (device->mig_handles[m].gpu_instance->id == id) {
                        *gpu_instance = device->mig_handles[m].gpu_instance;
                        return nvml_leave_with(NVML_SUCCESS);
                }
        return nvml_leave_with(NVML_ERROR_NOT_FOUND);
}

/* NVML_COMPUTE_INSTANCE_PROFILE_* index of a compute instance `slices` wide; its profile id is
 * the same number. */
static const unsigned ci_profile_slices[NVML_COMPUTE_INSTANCE_PROFILE_COUNT] = {1, 2, 3, 4,
                                                                                7, 8, 6, 1};

static unsigned ci_profile_of(unsigned slices)
{
        for (unsigned i = 0; i < NVML_COMPUTE_INSTANCE_PROFILE_COUNT; i++)
                if (ci_profile_slices[i] == slices)
                        return i;
        return 0;
}

/* Compute instances of a GPU instance are the MIG devices that carry its id; they are placed one
 * after another in topology order. */
static unsigned ci_start(const struct nvmlDevice_st *mig)
{
        unsigned start = 0;
        const struct nvmlDevice_st *parent = mig->parent;
        for (size_t m = 0; m < parent->gpu->mig_device_count; m++) {
                const struct nvmlDevice_st *other = &parent->mig_handles[m];
                if (other == mig)
                        break;
                if (other->gpu_instance == mig->gpu_instance)
                        start += other->mig->compute_instance_slices;
        }
        return start;
}

/* The compute instances of `gpu_instance` whose CI profile is `profile` (an
 * NVML_COMPUTE_INSTANCE_PROFILE_* index); `instances` must hold the profile's instance count. */
NVML_API nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gpu_instance,
                                                         unsigned int profile,
                                                         nvmlComputeInstance_t *instances,
                                                         unsigned int *count)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_gpu_instance(gpu_instance, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!instances || !count || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        const struct nvmlDevice_st *parent = gpu_instance->parent;
        unsigned n = 0;
        for (size_t m = 0; m < parent->gpu->mig_device_count; m++) {
                struct nvmlDevice_st *mig = &parent->mig_handles[m];
                if (mig->gpu_instance == gpu_instance &&
                    ci_profile_of(mig->mig->compute_instance_slices) == profile)
                        instances[n++] = mig;
        }
        *count = n;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlGpuInstanceGetComputeInstanceById(nvmlGpuInstance_t gpu_instance,
                                                            unsigned int id,
                                                            nvmlComputeInstance_t *instance)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_gpu_instance(gpu_instance, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!instance)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        const struct nvmlDevice_st *parent = gpu_instance->parent;
        for (size_t m = 0; m < parent->gpu->mig_device_count; m++) {
                struct nvmlDevice_st *mig = &parent->mig_handles[m];
                if (mig->gpu_instance == gpu_instance && mig->mig->compute_instance_id == id) {
                        *instance = mig;
                        return nvml_leave_with(NVML_SUCCESS);
                }
        }
        return nvml_leave_with(NVML_ERROR_NOT_FOUND);
}

NVML_API nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t instance,
                                                    nvmlComputeInstanceInfo_t *info)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(instance, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!info || !instance->mig)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *info = (nvmlComputeInstanceInfo_t){
            .device = instance->parent,
            .gpuInstance = instance->gpu_instance,
            .id = instance->mig->compute_instance_id,
            .profileId = ci_profile_of(instance->mig->compute_instance_slices),
            .placement = {ci_start(instance), instance->mig->compute_instance_slices},
        };
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlComputeInstanceGetInfo(nvmlComputeInstance_t instance,
                                                 nvmlComputeInstanceInfo_t *info)
{
        return nvmlComputeInstanceGetInfo_v2(instance, info);
}

/* CI profile `profile` of a GPU instance: NOT_SUPPORTED when wider than the instance. SMs are a
 * MIG device's of that width where the topology has one, else the instance's share. */
static nvmlReturn_t ci_profile_info(nvmlGpuInstance_t gpu_instance, unsigned int profile,
                                    unsigned int eng_profile,
                                    nvmlComputeInstanceProfileInfo_t *info)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_gpu_instance(gpu_instance, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!info || profile >= NVML_COMPUTE_INSTANCE_PROFILE_COUNT || eng_profile != 0)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        const struct sim_profile *gp = gpu_instance->profile;
        unsigned slices = ci_profile_slices[profile];
        /* 1_SLICE_REV1 (index 7) is a newer layout this double does not model */
        if (slices > gp->slices || profile == 7)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        unsigned sms = slices == gp->slices ? gp->sm_count : gp->sm_count * slices / gp->slices;
        const struct nvmlDevice_st *parent = gpu_instance->parent;
        for (size_t m = 0; m < parent->gpu->mig_device_count; m++) {
                const struct sim_mig_device *mig = parent->mig_handles[m].mig;
                if (mig->gpu_instance_profile == gp && mig->compute_instance_slices == slices)
                        sms = mig->sm_count;
        }
        *info = (nvmlComputeInstanceProfileInfo_t){
            .id = profile,
            .sliceCount = slices,
            .instanceCount = gp->slices / slices,
            .multiprocessorCount = sms,
            .sharedCopyEngineCount = gp->copy_engines,
            .sharedDecoderCount = gp->decoders,
            .sharedEncoderCount = gp->encoders,
            .sharedJpegCount = gp->jpegs,
            .sharedOfaCount = gp->ofas,
        };
        return NVML_SUCCESS; /* still locked */
}

NVML_API nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(
    nvmlGpuInstance_t gpu_instance, unsigned int profile, unsigned int eng_profile,
    nvmlComputeInstanceProfileInfo_t *info)
{
        nvmlReturn_t r = ci_profile_info(gpu_instance, profile, eng_profile, info);
        return r == NVML_SUCCESS ? nvml_leave_with(NVML_SUCCESS) : r;
}

/* v2 and v3 (v3 adds capabilities, 0 here); the name reads like nvidia-smi's "MIG 1c.2g.12gb", or
 * the GPU-instance profile's name ("MIG 2g.12gb") when the compute instance spans it: the
 * prefix as the GPU-instance profile's name carries it (not read with MIG on). */
NVML_API nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfoV(
    nvmlGpuInstance_t gpu_instance, unsigned int profile, unsigned int eng_profile,
    nvmlComputeInstanceProfileInfo_v3_t *info)
{
        nvmlComputeInstanceProfileInfo_t v1;
        if (!info)
                return NVML_ERROR_INVALID_ARGUMENT;
        unsigned version = info->version;
        if (version != nvmlComputeInstanceProfileInfo_v2 &&
            version != nvmlComputeInstanceProfileInfo_v3)
                return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
        nvmlReturn_t r = ci_profile_info(gpu_instance, profile, eng_profile, &v1);
        if (r != NVML_SUCCESS)
                return r;
        char name[96];
        const struct sim_profile *gp = gpu_instance->profile;
        if (v1.sliceCount == gp->slices)
                snprintf(name, sizeof(name), "MIG %s", gp->name);
        else
                snprintf(name, sizeof(name), "MIG %uc.%s", v1.sliceCount, gp->name);
        info->id = v1.id;
        info->sliceCount = v1.sliceCount;
        info->instanceCount = v1.instanceCount;
        info->multiprocessorCount = v1.multiprocessorCount;
        info->sharedCopyEngineCount = v1.sharedCopyEngineCount;
        info->sharedDecoderCount = v1.sharedDecoderCount;
        info->sharedEncoderCount = v1.sharedEncoderCount;
        info->sharedJpegCount = v1.sharedJpegCount;
        info->sharedOfaCount = v1.sharedOfaCount;
        memcpy(info->name, name, sizeof(info->name));
        if (version == nvmlComputeInstanceProfileInfo_v3)
                info->capabilities = 0;
        return nvml_leave_with(NVML_SUCCESS);
}
