/* simgpu's node description: a JSON topology file (named by SIMGPU_TOPOLOGY) loaded into plain
 * structs that the NVML, libcuda, nvidia-smi and MPS control doubles all answer from. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SIM_UUID_MAX     96
#define SIM_NAME_MAX     96
#define SIM_PROFILE_MAX  32
#define SIM_TOPOLOGY_ENV "SIMGPU_TOPOLOGY"

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
        unsigned decoders; /* the remaining engine counts default to 0 */
        unsigned encoders;
        unsigned jpegs;
        unsigned ofas;
        /* slices a placement spans (nvmlGpuInstancePlacement_t.size): the next power of two
         * above `slices` unless the topology says otherwise (H100 1g.20gb spans 2) */
        unsigned placement_size;
        /* how many placements nvmlDeviceGetGpuInstancePossiblePlacements lists: as many as it
         * may have instances unless the topology says otherwise (the +me profiles: 1 instance,
         * 7 placements) */
        unsigned placements;
};

/* A compute process as nvmlDeviceGetComputeRunningProcesses reports it. */
struct sim_process {
        unsigned pid;
        unsigned long long used_memory_mib;
};

struct sim_mig_device {
        unsigned slot; /* index for nvmlDeviceGetMigDeviceHandleByIndex; slots may have gaps */
        unsigned gpu_instance_id;
        unsigned compute_instance_id;
        char uuid[SIM_UUID_MAX];
        char profile[SIM_PROFILE_MAX]; /* as nvidia-smi -L prints it: "1c.2g.12gb" */
        unsigned sm_count;
        unsigned long long memory_mib;
        /* derived from `profile`: "1c.2g.12gb" has 1 compute slice of a 2-slice GPU instance whose
         * profile is the parent's "2g.12gb" entry */
        unsigned gpu_instance_slices;
        unsigned compute_instance_slices;
        const struct sim_profile *gpu_instance_profile; /* points into the parent's profiles */
        struct sim_process *processes;
        size_t process_count;
};

struct sim_gpu {
        unsigned index;
        char uuid[SIM_UUID_MAX];
        char name[SIM_NAME_MAX];   /* "NVIDIA A30" */
        char pci_bus_id[32];       /* "00000000:17:00.0" */
        unsigned pci_device_id;    /* nvmlPciInfo_t.pciDeviceId: device << 16 | 0x10de */
        unsigned pci_subsystem_id; /* 0 when the topology gives none */
        unsigned minor;
        bool mig_supported;
        unsigned mig_current; /* 0 disabled, 1 enabled */
        unsigned mig_pending;
        unsigned long long memory_mib;
        unsigned sm_count;
        unsigned compute_mode; /* NVML compute mode constant */
        bool persistence_mode;
        bool lost;                /* every call on this GPU answers GPU_IS_LOST */
        unsigned max_mig_devices; /* nvmlDeviceGetMaxMigDeviceCount; 0 with MIG off */
        /* optional: bytes the driver holds back (nvmlMemory_v2_t.reserved; v1 counts them used) */
        unsigned long long reserved_bytes;
        /* optional board identity and idle readings; empty / 0: simgpu's product defaults */
        char serial[32];
        char vbios_version[32];
        unsigned temperature_c;
        unsigned power_usage_mw;
        unsigned power_limit_mw;
        struct sim_profile *profiles;
        size_t profile_count;
        struct sim_mig_device *mig_devices; /* ordered by slot */
        size_t mig_device_count;
        struct sim_process *processes; /* on the whole GPU (MIG off); MIG devices have their own */
        size_t process_count;
};

struct sim_topology {
        char path[4096];         /* the file it was read from */
        bool driver_loaded;      /* false: nvmlInit answers DRIVER_NOT_LOADED */
        char driver_version[80]; /* "580.159.04" */
        int cuda_driver_version; /* 13000 */
        struct sim_gpu *gpus;
        size_t gpu_count;
};

/* Loads a topology from a file path. On failure returns a negative errno and writes one line
 * ("FILE:LINE:COLUMN: what is wrong") to `errbuf`. */
int sim_topology_load(const char *path, struct sim_topology **ret, char *errbuf, size_t errlen);

/* Parses a topology from memory (`len` bytes, no terminator needed); `name` stands for the file
 * in messages and in topology->path. Same errors as sim_topology_load. */
int sim_topology_parse(const char *text, size_t len, const char *name, struct sim_topology **ret,
                       char *errbuf, size_t errlen);

/* Loads the topology named by SIMGPU_TOPOLOGY (a file path; run resolves names to paths). */
int sim_topology_load_env(struct sim_topology **ret, char *errbuf, size_t errlen);

void sim_topology_free(struct sim_topology *topology);

/* Looks a GPU or MIG device up by UUID; either out-parameter may be NULL. Returns 0 or -ENOENT.
 * For a MIG device, *ret_gpu is its parent. */
int sim_topology_find_uuid(const struct sim_topology *topology, const char *uuid,
                           const struct sim_gpu **ret_gpu, const struct sim_mig_device **ret_mig);
