/* Per-device NVML queries of simgpu that take a GPU or MIG handle: name, UUID, index, minor
 * number, PCI info, memory, compute and persistence modes, and the running compute processes
 * with the driver's INSUFFICIENT_SIZE protocol. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "nvml_sim.h"

NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        return nvml_leave_with(nvml_copy_string(device->name, name, length));
}

NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        const char *text = device->mig ? device->mig->uuid : device->gpu->uuid;
        return nvml_leave_with(nvml_copy_string(text, uuid, length));
}

/* A GPU's index, or a MIG device's index under its parent (its slot). */
NVML_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!index)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *index = device->mig ? device->mig->slot : device->gpu->index;
        return nvml_leave_with(NVML_SUCCESS);
}

/* Whole-GPU properties (minor number, PCI, persistence) are asked of the parent: simgpu answers
 * NOT_SUPPORTED for a MIG handle, which NVML's documentation leaves open. */
static nvmlReturn_t enter_whole_gpu(nvmlDevice_t device, const void *out)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!out)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (device->mig)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minor)
{
        nvmlReturn_t r = enter_whole_gpu(device, minor);
        if (r != NVML_SUCCESS)
                return r;
        *minor = device->gpu->minor;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t *mode)
{
        nvmlReturn_t r = enter_whole_gpu(device, mode);
        if (r != NVML_SUCCESS)
                return r;
        *mode = device->gpu->persistence_mode ? 1 : 0;
        return nvml_leave_with(NVML_SUCCESS);
}

/* Fills the fields every nvmlPciInfo_t version has; `full` adds the 32-byte busId (v2, v3). */
static nvmlReturn_t pci_info(nvmlDevice_t device, nvmlPciInfo_t *pci, bool full)
{
        nvmlReturn_t r = enter_whole_gpu(device, pci);
        if (r != NVML_SUCCESS)
                return r;
        const struct sim_gpu *gpu = device->gpu;
        unsigned domain = 0, bus = 0, slot = 0, function = 0;
        /* the topology loader checked the "00000000:17:00.0" shape */
        sscanf(gpu->pci_bus_id, "%x:%x:%x.%x", &domain, &bus, &slot, &function);
        /* the legacy id cuts the domain to 4 digits: "0000:17:00.0" */
        snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%s", gpu->pci_bus_id + 4);
        pci->domain = domain;
        pci->bus = bus;
        pci->device = slot;
        pci->pciDeviceId = gpu->pci_device_id;
        pci->pciSubSystemId = gpu->pci_subsystem_id;
        if (full)
                snprintf(pci->busId, sizeof(pci->busId), "%s", gpu->pci_bus_id);
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
        return pci_info(device, pci, true);
}

NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
        return pci_info(device, pci, true);
}

/* The first nvmlPciInfo_t ended after pciSubSystemId (plus reserved words): write no further. */
NVML_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
        return pci_info(device, pci, false);
}

/* Processes on a device: a MIG device's own; a whole GPU's own with MIG off, every MIG device's
 * with MIG on (the parent aggregates). Calls `each` for every one with its GI and CI ids. */
static size_t for_each_process(const struct nvmlDevice_st *device,
                               void (*each)(void *ctx, size_t i, const struct sim_process *p,
                                            unsigned gi, unsigned ci),
                               void *ctx)
{
        size_t n = 0;
        if (device->mig) {
                for (size_t p = 0; p < device->mig->process_count; p++, n++)
                        if (each)
                                each(ctx, n, &device->mig->processes[p],
                                     device->mig->gpu_instance_id,
                                     device->mig->compute_instance_id);
                return n;
        }
        const struct sim_gpu *gpu = device->gpu;
        for (size_t p = 0; p < gpu->process_count; p++, n++)
                if (each)
                        each(ctx, n, &gpu->processes[p], NVML_VALUE_NOT_AVAILABLE,
                             NVML_VALUE_NOT_AVAILABLE);
        for (size_t m = 0; m < gpu->mig_device_count; m++)
                for (size_t p = 0; p < gpu->mig_devices[m].process_count; p++, n++)
                        if (each)
                                each(ctx, n, &gpu->mig_devices[m].processes[p],
                                     gpu->mig_devices[m].gpu_instance_id,
                                     gpu->mig_devices[m].compute_instance_id);
        return n;
}

static void add_used_memory(void *ctx, size_t i, const struct sim_process *p, unsigned gi,
                            unsigned ci)
{
        *(unsigned long long *)ctx += p->used_memory_mib * MIB;
}

static void memory_of(const struct nvmlDevice_st *device, unsigned long long *total,
                      unsigned long long *used)
{
        *total = (device->mig ? device->mig->memory_mib : device->gpu->memory_mib) * MIB;
        *used = 0;
        for_each_process(device, add_used_memory, used);
        if (*used > *total)
                *used = *total;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!memory)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        memory_of(device, &memory->total, &memory->used);
        /* v1 has no reserved field: the driver counts the reserve as used
         * (docs/driver-facts-mig-profiles.md) */
        if (!device->mig)
                memory->used += device->gpu->reserved_bytes;
        if (memory->used > memory->total)
                memory->used = memory->total;
        memory->free = memory->total - memory->used;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!memory)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        /* driver 580 answers a wrong version (nvtop passes 2) with FUNCTION_NOT_FOUND */
        if (memory->version != nvmlMemory_v2)
                return nvml_leave_with(NVML_ERROR_FUNCTION_NOT_FOUND);
        memory_of(device, &memory->total, &memory->used);
        memory->reserved = device->mig ? 0 : device->gpu->reserved_bytes;
        if (memory->used + memory->reserved > memory->total)
                memory->used = memory->total - memory->reserved;
        memory->free = memory->total - memory->used - memory->reserved;
        return nvml_leave_with(NVML_SUCCESS);
}

/* With MIG on, the compute mode is a MIG device's (it reads its parent's setting); the whole
 * GPU answers NOT_SUPPORTED then (docs/driver-facts-nvml-abi.md: "MIG on: pass a MIG handle"). */
NVML_API nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!mode)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (!device->mig && device->gpu->mig_current)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        *mode = (nvmlComputeMode_t)device->gpu->compute_mode;
        return nvml_leave_with(NVML_SUCCESS);
}

struct process_buffer {
        void *infos;
        int version; /* 1: nvmlProcessInfo_v1_t, 2 and 3: nvmlProcessInfo_t */
};

/* Member by member, so the padding after pid stays as the caller left it (as 580 does). */
static void store_process(void *ctx, size_t i, const struct sim_process *p, unsigned gi,
                          unsigned ci)
{
        struct process_buffer *buffer = ctx;
        if (buffer->version == 1) {
                nvmlProcessInfo_v1_t *info = (nvmlProcessInfo_v1_t *)buffer->infos + i;
                info->pid = p->pid;
                info->usedGpuMemory = p->used_memory_mib * MIB;
        } else {
                nvmlProcessInfo_t *info = (nvmlProcessInfo_t *)buffer->infos + i;
                info->pid = p->pid;
                info->usedGpuMemory = p->used_memory_mib * MIB;
                info->gpuInstanceId = gi;
                info->computeInstanceId = ci;
        }
}

static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned int *count, void *infos,
                                      int version)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!count)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        size_t n = for_each_process(device, NULL, NULL);
        if (*count < n) {
                *count = (unsigned)n;
                return nvml_leave_with(NVML_ERROR_INSUFFICIENT_SIZE);
        }
        if (n > 0 && !infos)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        struct process_buffer buffer = {.infos = infos, .version = version};
        for_each_process(device, store_process, &buffer);
        *count = (unsigned)n;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device,
                                                              unsigned int *count,
                                                              nvmlProcessInfo_t *infos)
{
        return running_processes(device, count, infos, 3);
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device,
                                                              unsigned int *count,
                                                              nvmlProcessInfo_t *infos)
{
        return running_processes(device, count, infos, 2);
}

NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *count,
                                                           nvmlProcessInfo_v1_t *infos)
{
        return running_processes(device, count, infos, 1);
}
