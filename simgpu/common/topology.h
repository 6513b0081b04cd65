/* simgpu's node description: a JSON topology file (named by SIMGPU_TOPOLOGY) loaded into plain
 * structs that the NVML, libcuda, nvidia-smi and MPS control doubles all answer from. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SIM_UUID_MAX    96
#define SIM_NAME_MAX    96
#define SIM_PROFILE_MAX 32

/* A GPU-instance profile as nvmlDeviceGetGpuInstanceProfileInfo(V) reports it. */
struct sim_profile {
        unsigned index; /* NVML_GPU_INSTANCE_PROFILE_* constant */
        unsigned id;
        char name[SIM_PROFILE_MAX]; /* "1g.10gb" */
        unsigned slices;
        unsigned max_instances;
        unsigned long long memory_mib;
        unsigned sm_count;
        unsigned copy_engines;
};

struct sim_mig_device {
        unsigned slot; /* index for nvmlDeviceGetMigDeviceHandleByIndex; slots may have gaps */
        unsigned gpu_instance_id;
        unsigned compute_instance_id;
        char uuid[SIM_UUID_MAX];
        char profile[SIM_PROFILE_MAX]; /* as nvidia-smi -L prints it: "1c.2g.12gb" */
        unsigned sm_count;
        unsigned long long memory_mib;
};

struct sim_gpu {
        unsigned index;
        char uuid[SIM_UUID_MAX];
        char name[SIM_NAME_MAX]; /* "NVIDIA A30" */
        char pci_bus_id[32];     /* "00000000:17:00.0" */
        unsigned minor;
        bool mig_supported;
        unsigned mig_current; /* 0 disabled, 1 enabled */
        unsigned mig_pending;
        unsigned long long memory_mib;
        unsigned sm_count;
        unsigned compute_mode; /* NVML compute mode constant */
        bool lost;             /* every call on this GPU answers GPU_IS_LOST */
        unsigned max_mig_devices; /* nvmlDeviceGetMaxMigDeviceCount; 0 with MIG off */
        struct sim_profile *profiles;
        size_t profile_count;
        struct sim_mig_device *mig_devices; /* ordered by slot */
        size_t mig_device_count;
};

struct sim_topology {
        char path[4096];        /* the file it was read from */
        bool driver_loaded;     /* false: nvmlInit answers DRIVER_NOT_LOADED */
        char driver_version[80]; /* "580.159.04" */
        int cuda_driver_version; /* 13000 */
        struct sim_gpu *gpus;
        size_t gpu_count;
};

/* Loads a topology from a file path. On failure returns a negative errno and writes one line
 * ("FILE:LINE:COLUMN: what is wrong") to `errbuf`. */
int sim_topology_load(const char *path, struct sim_topology **ret, char *errbuf, size_t errlen);

/* Loads the topology named by SIMGPU_TOPOLOGY (a file path; run resolves names to paths). */
int sim_topology_load_env(struct sim_topology **ret, char *errbuf, size_t errlen);

void sim_topology_free(struct sim_topology *topology);

/* Looks a GPU or MIG device up by UUID; either out-parameter may be NULL. Returns 0 or -ENOENT.
 * For a MIG device, *ret_gpu is its parent. */
int sim_topology_find_uuid(const struct sim_topology *topology, const char *uuid,
                           const struct sim_gpu **ret_gpu, const struct sim_mig_device **ret_mig);
