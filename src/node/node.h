/* The node model: every GPU and every MIG device on this machine, read once through NVML, and
 * the targets (MIG devices, and whole GPUs when asked) that each get one MPS control daemon. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct nvml;

#define NODE_UUID_MAX    96
#define NODE_NAME_MAX    96
#define NODE_PROFILE_MAX 32

enum mig_mode {
        MIG_MODE_UNSUPPORTED = -1, /* the GPU cannot do MIG (GetMigMode said NOT_SUPPORTED) */
        MIG_MODE_DISABLED = 0,
        MIG_MODE_ENABLED = 1,
};

enum compute_mode {
        COMPUTE_MODE_UNKNOWN = -1,
        COMPUTE_MODE_DEFAULT = 0,
        COMPUTE_MODE_EXCLUSIVE_THREAD = 1,
        COMPUTE_MODE_PROHIBITED = 2,
        COMPUTE_MODE_EXCLUSIVE_PROCESS = 3,
};

struct gpu {
        unsigned index; /* NVML index, as nvidia-smi -L prints it */
        char uuid[NODE_UUID_MAX];
        char name[NODE_NAME_MAX];
        enum mig_mode mig_current;
        enum mig_mode mig_pending;       /* differs from current: change waits for a reset */
        unsigned long long memory_bytes; /* total */
        unsigned sm_count;               /* 0 when NVML cannot tell */
        enum compute_mode compute_mode;
        size_t first_mig_device; /* this GPU's MIG devices are node.mig_devices[first..first+n) */
        size_t mig_device_count;
        /* NVML answered GPU_IS_LOST: only index (and what was read before) is valid, no MIG
         * devices are recorded, and lost_reason names the call ("nvmlDeviceGetUUID(GPU 1): GPU
         * is lost"). Only node_discover_with_lost() returns a node with lost GPUs. */
        bool lost;
        char lost_reason[256];
        /* "00000000:2A:00.0" as NVML and nvidia-smi print it; empty when unknown. For a lost GPU,
         * whose handle NVML refuses, it comes from the driver's /proc/driver/nvidia/gpus (the
         * bus ids that no healthy GPU has, in NVML's PCI order): node_lost_bus_ids(). */
        char pci_bus_id[32];
};

struct mig_device {
        unsigned gpu_index;           /* parent GPU's NVML index */
        unsigned device_index;        /* MIG device index under its parent ("Device N") */
        unsigned gpu_instance_id;     /* GI */
        unsigned compute_instance_id; /* CI */
        char uuid[NODE_UUID_MAX];
        char profile[NODE_PROFILE_MAX]; /* as nvidia-smi -L prints it: "1g.10gb", "1c.2g.12gb" */
        unsigned sm_count;
        unsigned long long memory_bytes; /* of its GPU instance, shared by its compute instances */
};

struct node {
        char driver_version[80];
        int cuda_driver_version; /* 13000 = 13.0; 0 when unknown */
        struct gpu *gpus;
        size_t gpu_count;
        struct mig_device *mig_devices; /* in nvidia-smi -L order */
        size_t mig_device_count;
        size_t lost_gpu_count; /* GPUs with `lost` set */
};

enum target_kind {
        TARGET_MIG_DEVICE,
        TARGET_WHOLE_GPU,
        /* Only status and stop make these two (ops.h), never node_targets() or target_resolve(). */
        TARGET_ORPHAN,   /* a device NVML no longer lists that still has folders of the layout:
                          * `gpu` and `mig_device` are NULL, `uuid` comes from the folder */
        TARGET_LOST_GPU, /* a lost GPU, shown by status: `gpu` is it, `uuid` may be empty */
};

/* One thing an MPS control daemon runs on. Points into the node it came from. */
struct target {
        enum target_kind kind;
        const char *uuid;                    /* what CUDA_VISIBLE_DEVICES is set to */
        const struct gpu *gpu;               /* the GPU, or the MIG device's parent */
        const struct mig_device *mig_device; /* NULL for a whole GPU */
};

/* Reads the whole node through an opened NVML. A lost GPU fails the whole discovery (-ENXIO, the
 * message names the GPU and the call): callers that act on GPUs must not half-see the node. */
int node_discover(struct nvml *nvml, struct node **ret_node, struct error *err);

/* Like node_discover, but a lost GPU stays in the node marked `lost` and the rest is read as
 * usual. Returns the number of lost GPUs (0 when all answered), or a negative errno for any other
 * failure. For `list`, which shows the healthy GPUs and still exits non-zero. */
int node_discover_with_lost(struct nvml *nvml, struct node **ret_node, struct error *err);

/* Where the driver lists its GPUs by PCI bus id, one folder each; MPSMIG_NVIDIA_GPUS_DIR
 * replaces it (simgpu has no /proc of its own: the tests make one). */
#define NODE_NVIDIA_GPUS_DIR     "/proc/driver/nvidia/gpus"
#define NODE_NVIDIA_GPUS_DIR_ENV "MPSMIG_NVIDIA_GPUS_DIR"

/* Fills the bus id of each lost GPU that has none from the driver's GPU folder: the bus ids no
 * healthy GPU has, sorted, go to the lost GPUs in index order (NVML numbers GPUs in PCI bus
 * order). Left empty when the folder cannot be read or the counts do not match. */
void node_lost_bus_ids(struct node *node, const char *gpus_dir);

/* "0000:2a:00.0" (the /proc spelling) or "00000000:2A:00.0" -> "00000000:2A:00.0". -EINVAL for
 * anything else. */
int node_normalize_bus_id(const char *text, char *buffer, size_t size);
void node_free(struct node *node);
static inline void node_freep(struct node **node)
{
        node_free(*node);
}
#define _cleanup_node_ __attribute__((cleanup(node_freep)))

/* The targets in nvidia-smi -L order: every MIG device, and with `whole_gpus` every GPU whose MIG
 * mode is disabled or unsupported (lost GPUs never). The array is malloc'd (NULL when the count is
 * 0); its entries point into `node`. */
int node_targets(const struct node *node, bool whole_gpus, struct target **ret_targets,
                 size_t *ret_count);

/* Whether node_targets(node, true, ...) targets this GPU whole: MIG disabled or unsupported, and
 * not lost. */
bool gpu_is_whole_target(const struct gpu *gpu);

/* Human-readable state words used by list and status: "enabled", "disabled", "unsupported";
 * "Default", "Exclusive_Process", "Prohibited" as nvidia-smi prints compute modes, "unknown". */
const char *mig_mode_string(enum mig_mode mode);
const char *compute_mode_string(enum compute_mode mode);

/* A GPU's MIG state in words: "enabled", "disabled", "unsupported", or when a change waits for a
 * reset "enabled, disabled after reset" / "disabled, enabled after reset";
 * "lost" for a lost GPU. */
const char *gpu_mig_state_string(const struct gpu *gpu);
