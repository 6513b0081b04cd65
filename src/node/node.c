/* Reads the node through NVML: every GPU and, under each GPU with MIG enabled, every MIG device, in
 * the order nvidia-smi -L prints them; then derives the MPS targets from that model. */
#include "node/node.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/text.h"
#include "driver/nvml.h"

/* What is being read, for messages: "GPU 1" or "GPU 0 MIG device 2". */
struct where {
        char text[64];
};

static struct where where_gpu(unsigned gpu)
{
        struct where w;
        (void)snprintf(w.text, sizeof(w.text), "GPU %u", gpu);
        return w;
}

static struct where where_mig(unsigned gpu, unsigned slot)
{
        struct where w;
        (void)snprintf(w.text, sizeof(w.text), "GPU %u MIG device %u", gpu, slot);
        return w;
}

/* Codes that mean "NVML cannot tell this here" rather than "something is wrong". */
static bool code_means_unavailable(nvmlReturn_t code)
{
        return code == NVML_ERROR_NOT_SUPPORTED || code == NVML_ERROR_FUNCTION_NOT_FOUND ||
               code == NVML_ERROR_NO_PERMISSION;
}

/* "nvmlDeviceGetUUID(GPU 1): GPU is lost". GPU_IS_LOST, and only it, maps to -ENXIO (nvml.c's
 * table): that is how node_discover_with_lost tells a lost GPU from other failures. */
static int call_failed(const struct nvml *nvml, struct error *err, nvmlReturn_t code,
                       const char *call, const struct where *w)
{
        return nvml_error(nvml, err, code, "%s(%s)", call, w->text);
}

static int mig_devices_append(struct node *node, size_t *capacity, struct mig_device **ret_slot)
{
        if (node->mig_device_count == *capacity) {
                size_t bigger = *capacity ? *capacity * 2 : 8;
                struct mig_device *grown = reallocarray(node->mig_devices, bigger, sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                node->mig_devices = grown;
                *capacity = bigger;
        }
        struct mig_device *slot = &node->mig_devices[node->mig_device_count++];
        memset(slot, 0, sizeof(*slot));
        *ret_slot = slot;
        return 0;
}

/* "NVIDIA A30 MIG 1c.2g.12gb" -> "1c.2g.12gb", the profile as nvidia-smi -L prints it. A name
 * without " MIG " is kept whole rather than guessed at. */
static void profile_from_name(const char *name, char *profile, size_t size)
{
        const char *found = NULL;
        for (const char *p = strstr(name, " MIG "); p; p = strstr(p + 1, " MIG "))
                found = p + strlen(" MIG ");
        (void)snprintf(profile, size, "%s", found ? found : name);
}

static int read_mig_device(struct nvml *nvml, nvmlDevice_t handle, unsigned gpu_index,
                           unsigned slot, struct mig_device *mig, struct error *err)
{
        struct where w = where_mig(gpu_index, slot);
        nvmlReturn_t code;
        char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = "";

        mig->gpu_index = gpu_index;
        mig->device_index = slot;
        code = nvml->DeviceGetUUID(handle, mig->uuid, sizeof(mig->uuid));
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetUUID", &w);
        text_make_printable(mig->uuid);
        code = nvml->DeviceGetName(handle, name, sizeof(name));
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetName", &w);
        text_make_printable(name);
        profile_from_name(name, mig->profile, sizeof(mig->profile));
        code = nvml->DeviceGetGpuInstanceId(handle, &mig->gpu_instance_id);
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetGpuInstanceId", &w);
        code = nvml->DeviceGetComputeInstanceId(handle, &mig->compute_instance_id);
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetComputeInstanceId", &w);

        if (nvml->DeviceGetAttributes) {
                nvmlDeviceAttributes_t attributes = {0};
                code = nvml->DeviceGetAttributes(handle, &attributes);
                if (code == NVML_SUCCESS)
                        mig->sm_count = attributes.multiprocessorCount;
                else if (!code_means_unavailable(code))
                        return call_failed(nvml, err, code, "nvmlDeviceGetAttributes_v2", &w);
        }

        nvmlMemory_t memory = {0};
        code = nvml->DeviceGetMemoryInfo(handle, &memory);
        if (code == NVML_SUCCESS)
                mig->memory_bytes = memory.total;
        else if (!code_means_unavailable(code))
                return call_failed(nvml, err, code, "nvmlDeviceGetMemoryInfo", &w);
        return 0;
}

static int read_mig_devices(struct nvml *nvml, nvmlDevice_t gpu_handle, struct gpu *gpu,
                            struct node *node, size_t *capacity, struct error *err)
{
        struct where w = where_gpu(gpu->index);
        if (!nvml->DeviceGetMaxMigDeviceCount || !nvml->DeviceGetMigDeviceHandleByIndex ||
            !nvml->DeviceGetGpuInstanceId || !nvml->DeviceGetComputeInstanceId)
                return error_set(err, -ENOSYS,
                                 "%s has MIG enabled but %s lacks the MIG calls (driver older "
                                 "than 450?)",
                                 w.text, nvml->path);

        unsigned max = 0;
        nvmlReturn_t code = nvml->DeviceGetMaxMigDeviceCount(gpu_handle, &max);
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetMaxMigDeviceCount", &w);

        for (unsigned slot = 0; slot < max; slot++) {
                nvmlDevice_t handle = NULL;
                code = nvml->DeviceGetMigDeviceHandleByIndex(gpu_handle, slot, &handle);
                if (code == NVML_ERROR_NOT_FOUND)
                        continue; /* an empty slot: instances need not be contiguous */
                if (code != NVML_SUCCESS) {
                        struct where at = where_mig(gpu->index, slot);
                        return call_failed(nvml, err, code, "nvmlDeviceGetMigDeviceHandleByIndex",
                                           &at);
                }
                struct mig_device *mig;
                int r = mig_devices_append(node, capacity, &mig);
                if (r < 0)
                        return error_set(err, r, "cannot record the MIG devices: out of memory");
                r = read_mig_device(nvml, handle, gpu->index, slot, mig, err);
                if (r < 0)
                        return r;
                gpu->mig_device_count++;
        }
        return 0;
}

static int mig_mode_from_nvml(unsigned value, enum mig_mode *ret)
{
        if (value != NVML_DEVICE_MIG_DISABLE && value != NVML_DEVICE_MIG_ENABLE)
                return -EPROTO;
        *ret = value == NVML_DEVICE_MIG_ENABLE ? MIG_MODE_ENABLED : MIG_MODE_DISABLED;
        return 0;
}

static int read_mig_mode(struct nvml *nvml, nvmlDevice_t handle, struct gpu *gpu, struct error *err)
{
        struct where w = where_gpu(gpu->index);
        gpu->mig_current = gpu->mig_pending = MIG_MODE_UNSUPPORTED;
        if (!nvml->DeviceGetMigMode)
                return 0;
        unsigned current = 0, pending = 0;
        nvmlReturn_t code = nvml->DeviceGetMigMode(handle, &current, &pending);
        if (code == NVML_ERROR_NOT_SUPPORTED || code == NVML_ERROR_FUNCTION_NOT_FOUND)
                return 0;
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetMigMode", &w);
        if (mig_mode_from_nvml(current, &gpu->mig_current) < 0 ||
            mig_mode_from_nvml(pending, &gpu->mig_pending) < 0)
                return error_set(err, -EPROTO,
                                 "nvmlDeviceGetMigMode(%s) answered modes %u and %u, expected 0 "
                                 "or 1",
                                 w.text, current, pending);
        return 0;
}

/* NVML has no call for a whole GPU's SM count; the GPU-instance profile with the most slices is
 * the whole GPU (7g.80gb: 132 SMs on an H100), and NVML answers profile queries with MIG off. */
static int read_gpu_sm_count(struct nvml *nvml, nvmlDevice_t handle, struct gpu *gpu,
                             struct error *err)
{
        struct where w = where_gpu(gpu->index);
        unsigned best_slices = 0;
        gpu->sm_count = 0;
        if (!nvml->DeviceGetGpuInstanceProfileInfo)
                return 0;
        for (unsigned profile = 0; profile < NVML_GPU_INSTANCE_PROFILE_COUNT; profile++) {
                nvmlGpuInstanceProfileInfo_t info = {0};
                nvmlReturn_t code = nvml->DeviceGetGpuInstanceProfileInfo(handle, profile, &info);
                if (code == NVML_ERROR_NOT_SUPPORTED || code == NVML_ERROR_INVALID_ARGUMENT ||
                    code == NVML_ERROR_NOT_FOUND || code == NVML_ERROR_NO_PERMISSION)
                        continue; /* this GPU has no such profile */
                if (code == NVML_ERROR_FUNCTION_NOT_FOUND)
                        return 0;
                if (code != NVML_SUCCESS)
                        return call_failed(nvml, err, code, "nvmlDeviceGetGpuInstanceProfileInfo",
                                           &w);
                if (info.sliceCount > best_slices) {
                        best_slices = info.sliceCount;
                        gpu->sm_count = info.multiprocessorCount;
                }
        }
        return 0;
}

static enum compute_mode compute_mode_from_nvml(nvmlComputeMode_t mode)
{
        switch (mode) {
        case COMPUTE_MODE_DEFAULT:
        case COMPUTE_MODE_EXCLUSIVE_THREAD:
        case COMPUTE_MODE_PROHIBITED:
        case COMPUTE_MODE_EXCLUSIVE_PROCESS:
                return (enum compute_mode)mode;
        default:
                return COMPUTE_MODE_UNKNOWN;
        }
}

static int query_compute_mode(struct nvml *nvml, nvmlDevice_t handle, const struct where *w,
                              enum compute_mode *ret, struct error *err)
{
        nvmlComputeMode_t mode = 0;
        nvmlReturn_t code = nvml->DeviceGetComputeMode(handle, &mode);
        if (code == NVML_SUCCESS)
                *ret = compute_mode_from_nvml(mode);
        else if (!code_means_unavailable(code))
                return call_failed(nvml, err, code, "nvmlDeviceGetComputeMode", w);
        return 0;
}

/* With MIG on, NVML answers for a MIG device only (which reports its GPU's setting), so a GPU in
 * MIG mode is asked through its first MIG device; without one its mode stays unknown. */
static int read_compute_mode(struct nvml *nvml, nvmlDevice_t handle, struct gpu *gpu,
                             const struct node *node, struct error *err)
{
        struct where w = where_gpu(gpu->index);
        gpu->compute_mode = COMPUTE_MODE_UNKNOWN;
        if (!nvml->DeviceGetComputeMode)
                return 0;
        if (gpu->mig_current != MIG_MODE_ENABLED)
                return query_compute_mode(nvml, handle, &w, &gpu->compute_mode, err);
        if (gpu->mig_device_count == 0)
                return 0;

        unsigned slot = node->mig_devices[gpu->first_mig_device].device_index;
        struct where at = where_mig(gpu->index, slot);
        nvmlDevice_t mig = NULL;
        nvmlReturn_t code = nvml->DeviceGetMigDeviceHandleByIndex(handle, slot, &mig);
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetMigDeviceHandleByIndex", &at);
        return query_compute_mode(nvml, mig, &at, &gpu->compute_mode, err);
}

static int read_gpu(struct nvml *nvml, struct gpu *gpu, struct node *node, size_t *capacity,
                    struct error *err)
{
        struct where w = where_gpu(gpu->index);
        nvmlDevice_t handle = NULL;
        nvmlReturn_t code = nvml->DeviceGetHandleByIndex(gpu->index, &handle);
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetHandleByIndex", &w);
        /* First, so that a GPU lost in a later call keeps the bus id that names it. */
        if (nvml->DeviceGetPciInfo) {
                nvmlPciInfo_t pci = {0};
                code = nvml->DeviceGetPciInfo(handle, &pci);
                if (code == NVML_SUCCESS)
                        (void)node_normalize_bus_id(pci.busId, gpu->pci_bus_id,
                                                    sizeof(gpu->pci_bus_id));
                else if (code == NVML_ERROR_GPU_IS_LOST)
                        return call_failed(nvml, err, code, "nvmlDeviceGetPciInfo", &w);
        }
        code = nvml->DeviceGetUUID(handle, gpu->uuid, sizeof(gpu->uuid));
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetUUID", &w);
        text_make_printable(gpu->uuid);
        code = nvml->DeviceGetName(handle, gpu->name, sizeof(gpu->name));
        if (code != NVML_SUCCESS)
                return call_failed(nvml, err, code, "nvmlDeviceGetName", &w);
        text_make_printable(gpu->name);

        /* With MIG on, the parent's memory is an aggregate only privileged callers may read. */
        nvmlMemory_t memory = {0};
        code = nvml->DeviceGetMemoryInfo(handle, &memory);
        if (code == NVML_SUCCESS)
                gpu->memory_bytes = memory.total;
        else if (!code_means_unavailable(code))
                return call_failed(nvml, err, code, "nvmlDeviceGetMemoryInfo", &w);

        int r = read_mig_mode(nvml, handle, gpu, err);
        if (r < 0)
                return r;
        r = read_gpu_sm_count(nvml, handle, gpu, err);
        if (r < 0)
                return r;
        if (gpu->mig_current == MIG_MODE_ENABLED) {
                r = read_mig_devices(nvml, handle, gpu, node, capacity, err);
                if (r < 0)
                        return r;
        }
        return read_compute_mode(nvml, handle, gpu, node, err);
}

/* Keeps what was read of a lost GPU, drops its half-read MIG devices, records why. */
static void mark_lost(struct node *node, struct gpu *gpu, const struct error *why)
{
        node->mig_device_count = gpu->first_mig_device;
        gpu->mig_device_count = 0;
        gpu->lost = true;
        (void)snprintf(gpu->lost_reason, sizeof(gpu->lost_reason), "%.*s",
                       (int)sizeof(gpu->lost_reason) - 1, why->message);
        node->lost_gpu_count++;
}

int node_discover_with_lost(struct nvml *nvml, struct node **ret_node, struct error *err)
{
        _cleanup_node_ struct node *node = calloc(1, sizeof(*node));
        if (!node)
                return error_set(err, -ENOMEM, "cannot read the node: out of memory");

        nvmlReturn_t code =
            nvml->SystemGetDriverVersion(node->driver_version, sizeof(node->driver_version));
        if (code != NVML_SUCCESS)
                return nvml_error(nvml, err, code, "nvmlSystemGetDriverVersion");
        text_make_printable(node->driver_version);
        if (nvml->SystemGetCudaDriverVersion &&
            nvml->SystemGetCudaDriverVersion(&node->cuda_driver_version) != NVML_SUCCESS)
                node->cuda_driver_version = 0; /* informational only */

        unsigned count = 0;
        code = nvml->DeviceGetCount(&count);
        if (code != NVML_SUCCESS)
                return nvml_error(nvml, err, code, "nvmlDeviceGetCount");
        if (count > 0) {
                node->gpus = calloc(count, sizeof(*node->gpus));
                if (!node->gpus)
                        return error_set(err, -ENOMEM, "cannot read the node: out of memory");
                node->gpu_count = count;
        }

        size_t capacity = 0;
        for (unsigned i = 0; i < count; i++) {
                struct gpu *gpu = &node->gpus[i];
                struct error gpu_err = {0};
                gpu->index = i;
                gpu->first_mig_device = node->mig_device_count;
                int r = read_gpu(nvml, gpu, node, &capacity, &gpu_err);
                if (r == -ENXIO)
                        mark_lost(node, gpu, &gpu_err);
                else if (r < 0)
                        return error_set(err, r, "%s", gpu_err.message);
        }
        if (node->lost_gpu_count > 0) {
                const char *dir = getenv(NODE_NVIDIA_GPUS_DIR_ENV);
                node_lost_bus_ids(node, dir && dir[0] ? dir : NODE_NVIDIA_GPUS_DIR);
        }
        *ret_node = TAKE_PTR(node);
        return (int)(*ret_node)->lost_gpu_count;
}

int node_normalize_bus_id(const char *text, char *buffer, size_t size)
{
        unsigned domain, bus, device, function;
        int used = 0;
        /* %x alone would take "0x" prefixes and signs. */
        if (text[strspn(text, "0123456789abcdefABCDEF:.")] != '\0')
                return -EINVAL;
        if (sscanf(text, "%x:%x:%x.%x%n", &domain, &bus, &device, &function, &used) != 4 ||
            text[used] != '\0' || bus > 0xff || device > 0x1f || function > 7)
                return -EINVAL;
        int n = snprintf(buffer, size, "%08X:%02X:%02X.%X", domain, bus, device, function);
        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

static int compare_bus_ids(const void *a, const void *b)
{
        return strcmp(a, b);
}

void node_lost_bus_ids(struct node *node, const char *gpus_dir)
{
        typedef char bus_id[32];
        _cleanup_closedir_ DIR *dir = opendir(gpus_dir);
        if (!dir)
                return;
        bus_id *spare = NULL;
        size_t count = 0, capacity = 0;
        struct dirent *entry;
        while ((entry = readdir(dir))) {
                bus_id id;
                if (node_normalize_bus_id(entry->d_name, id, sizeof(id)) < 0)
                        continue;
                bool healthy = false;
                for (size_t g = 0; g < node->gpu_count && !healthy; g++)
                        healthy = strcmp(node->gpus[g].pci_bus_id, id) == 0;
                if (healthy)
                        continue;
                if (count == capacity) {
                        size_t bigger = capacity ? capacity * 2 : 8;
                        bus_id *grown = reallocarray(spare, bigger, sizeof(*grown));
                        if (!grown) {
                                free(spare);
                                return;
                        }
                        spare = grown;
                        capacity = bigger;
                }
                memcpy(spare[count++], id, sizeof(id));
        }
        size_t unknown = 0;
        for (size_t g = 0; g < node->gpu_count; g++)
                unknown += node->gpus[g].lost && !node->gpus[g].pci_bus_id[0];
        /* Only a one-to-one match is sure: a GPU the driver lists that NVML does not count, or
         * the reverse, would shift every guess after it. */
        if (unknown > 0 && unknown == count) {
                qsort(spare, count, sizeof(*spare), compare_bus_ids);
                size_t next = 0;
                for (size_t g = 0; g < node->gpu_count; g++)
                        if (node->gpus[g].lost && !node->gpus[g].pci_bus_id[0])
                                memcpy(node->gpus[g].pci_bus_id, spare[next++],
                                       sizeof(node->gpus[g].pci_bus_id));
        }
        free(spare);
}

int node_discover(struct nvml *nvml, struct node **ret_node, struct error *err)
{
        _cleanup_node_ struct node *node = NULL;
        int r = node_discover_with_lost(nvml, &node, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < node->gpu_count; i++)
                if (node->gpus[i].lost)
                        return error_set(err, -ENXIO, "%s", node->gpus[i].lost_reason);
        *ret_node = TAKE_PTR(node);
        return 0;
}

void node_free(struct node *node)
{
        if (!node)
                return;
        free(node->gpus);
        free(node->mig_devices);
        free(node);
}

bool gpu_is_whole_target(const struct gpu *gpu)
{
        return !gpu->lost &&
               (gpu->mig_current == MIG_MODE_DISABLED || gpu->mig_current == MIG_MODE_UNSUPPORTED);
}

int node_targets(const struct node *node, bool whole_gpus, struct target **ret_targets,
                 size_t *ret_count)
{
        size_t count = node->mig_device_count;
        for (size_t i = 0; whole_gpus && i < node->gpu_count; i++)
                count += gpu_is_whole_target(&node->gpus[i]);

        struct target *targets = NULL;
        if (count > 0) {
                targets = calloc(count, sizeof(*targets));
                if (!targets)
                        return -ENOMEM;
        }
        size_t n = 0;
        for (size_t i = 0; i < node->gpu_count; i++) {
                const struct gpu *gpu = &node->gpus[i];
                if (whole_gpus && gpu_is_whole_target(gpu))
                        targets[n++] = (struct target){
                            .kind = TARGET_WHOLE_GPU, .uuid = gpu->uuid, .gpu = gpu};
                for (size_t m = 0; m < gpu->mig_device_count; m++) {
                        const struct mig_device *mig =
                            &node->mig_devices[gpu->first_mig_device + m];
                        targets[n++] = (struct target){.kind = TARGET_MIG_DEVICE,
                                                       .uuid = mig->uuid,
                                                       .gpu = gpu,
                                                       .mig_device = mig};
                }
        }
        *ret_targets = targets;
        *ret_count = n;
        return (int)n;
}

const char *mig_mode_string(enum mig_mode mode)
{
        switch (mode) {
        case MIG_MODE_DISABLED:
                return "disabled";
        case MIG_MODE_ENABLED:
                return "enabled";
        case MIG_MODE_UNSUPPORTED:
        default:
                return "unsupported";
        }
}

const char *compute_mode_string(enum compute_mode mode)
{
        switch (mode) {
        case COMPUTE_MODE_DEFAULT:
                return "Default";
        case COMPUTE_MODE_EXCLUSIVE_THREAD:
                return "Exclusive_Thread";
        case COMPUTE_MODE_PROHIBITED:
                return "Prohibited";
        case COMPUTE_MODE_EXCLUSIVE_PROCESS:
                return "Exclusive_Process";
        case COMPUTE_MODE_UNKNOWN:
        default:
                return "unknown";
        }
}

const char *gpu_mig_state_string(const struct gpu *gpu)
{
        if (gpu->lost)
                return "lost";
        if (gpu->mig_current == gpu->mig_pending)
                return mig_mode_string(gpu->mig_current);
        if (gpu->mig_current == MIG_MODE_ENABLED)
                return "enabled, disabled after reset";
        return "disabled, enabled after reset";
}
