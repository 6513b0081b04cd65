/* Shared declarations of simgpu's libnvidia-ml.so.1: the NVML types and constants it answers with
 * (copied from docs/driver-facts-nvml-abi.md), the handle structs behind nvmlDevice_t and
 * nvmlGpuInstance_t, and the lock-and-check helpers every exported call starts with. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "topology.h"

/* Only functions marked NVML_API leave the library (the build hides everything else). */
#define NVML_API __attribute__((visibility("default")))

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;
/* A compute instance is one MIG device: its handle is that MIG device's nvmlDevice_t. */
typedef struct nvmlDevice_st *nvmlComputeInstance_t;
typedef int nvmlComputeMode_t;
typedef int nvmlEnableState_t;

enum {
        NVML_SUCCESS = 0,
        NVML_ERROR_UNINITIALIZED = 1,
        NVML_ERROR_INVALID_ARGUMENT = 2,
        NVML_ERROR_NOT_SUPPORTED = 3,
        NVML_ERROR_NO_PERMISSION = 4,
        NVML_ERROR_ALREADY_INITIALIZED = 5,
        NVML_ERROR_NOT_FOUND = 6,
        NVML_ERROR_INSUFFICIENT_SIZE = 7,
        NVML_ERROR_INSUFFICIENT_POWER = 8,
        NVML_ERROR_DRIVER_NOT_LOADED = 9,
        NVML_ERROR_TIMEOUT = 10,
        NVML_ERROR_IRQ_ISSUE = 11,
        NVML_ERROR_LIBRARY_NOT_FOUND = 12,
        NVML_ERROR_FUNCTION_NOT_FOUND = 13,
        NVML_ERROR_CORRUPTED_INFOROM = 14,
        NVML_ERROR_GPU_IS_LOST = 15,
        NVML_ERROR_RESET_REQUIRED = 16,
        NVML_ERROR_OPERATING_SYSTEM = 17,
        NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
        NVML_ERROR_IN_USE = 19,
        NVML_ERROR_MEMORY = 20,
        NVML_ERROR_NO_DATA = 21,
        NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
        NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
        NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
        NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
        NVML_ERROR_DEPRECATED = 26,
        NVML_ERROR_NOT_READY = 27,
        NVML_ERROR_GPU_NOT_FOUND = 28,
        NVML_ERROR_INVALID_STATE = 29,
        NVML_ERROR_RESET_TYPE_NOT_SUPPORTED = 30,
        NVML_ERROR_UNKNOWN = 999,
};

#define NVML_GPU_INSTANCE_PROFILE_COUNT 0x12
/* driver 580 refuses 0x11 (3_SLICE_GFX) and above with INVALID_ARGUMENT, below nvml.h's COUNT
 * (docs/driver-facts-mig-profiles.md, H200) */
#define GPU_INSTANCE_PROFILE_LIMIT   0x11
#define NVML_VALUE_NOT_AVAILABLE     0xFFFFFFFFu
#define NVML_STRUCT_VERSION(size, n) ((unsigned)(size) | (unsigned)(n) << 24)
#define MIB                          (1024ull * 1024ull)

typedef struct {
        char busIdLegacy[16];
        unsigned int domain;
        unsigned int bus;
        unsigned int device;
        unsigned int pciDeviceId;
        unsigned int pciSubSystemId;
        char busId[32];
} nvmlPciInfo_t;

typedef struct {
        unsigned long long total;
        unsigned long long free;
        unsigned long long used;
} nvmlMemory_t;

typedef struct {
        unsigned int version;
        unsigned long long total;
        unsigned long long reserved;
        unsigned long long free;
        unsigned long long used;
} nvmlMemory_v2_t;

typedef struct {
        unsigned int pid;
        unsigned long long usedGpuMemory;
        unsigned int gpuInstanceId;
        unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
        unsigned int pid;
        unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct {
        unsigned int multiprocessorCount;
        unsigned int sharedCopyEngineCount;
        unsigned int sharedDecoderCount;
        unsigned int sharedEncoderCount;
        unsigned int sharedJpegCount;
        unsigned int sharedOfaCount;
        unsigned int gpuInstanceSliceCount;
        unsigned int computeInstanceSliceCount;
        unsigned long long memorySizeMB;
} nvmlDeviceAttributes_t;

/* CUDA 11.0's nvmlDeviceGetAttributes wrote only the first six fields. */
typedef struct {
        unsigned int multiprocessorCount;
        unsigned int sharedCopyEngineCount;
        unsigned int sharedDecoderCount;
        unsigned int sharedEncoderCount;
        unsigned int sharedJpegCount;
        unsigned int sharedOfaCount;
} nvmlDeviceAttributes_v1_t;

typedef struct {
        unsigned int id;
        unsigned int isP2pSupported;
        unsigned int sliceCount;
        unsigned int instanceCount;
        unsigned int multiprocessorCount;
        unsigned int copyEngineCount;
        unsigned int decoderCount;
        unsigned int encoderCount;
        unsigned int jpegCount;
        unsigned int ofaCount;
        unsigned long long memorySizeMB;
} nvmlGpuInstanceProfileInfo_t;

typedef struct {
        unsigned int version;
        unsigned int id;
        unsigned int isP2pSupported;
        unsigned int sliceCount;
        unsigned int instanceCount;
        unsigned int multiprocessorCount;
        unsigned int copyEngineCount;
        unsigned int decoderCount;
        unsigned int encoderCount;
        unsigned int jpegCount;
        unsigned int ofaCount;
        unsigned long long memorySizeMB;
        char name[96];
} nvmlGpuInstanceProfileInfo_v2_t;

typedef struct {
        unsigned int start;
        unsigned int size;
} nvmlGpuInstancePlacement_t;

typedef struct {
        nvmlDevice_t device;
        unsigned int id;
        unsigned int profileId;
        nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct {
        unsigned int start;
        unsigned int size;
} nvmlComputeInstancePlacement_t;

typedef struct {
        nvmlDevice_t device;
        nvmlGpuInstance_t gpuInstance;
        unsigned int id;
        unsigned int profileId;
        nvmlComputeInstancePlacement_t placement;
} nvmlComputeInstanceInfo_t;

typedef struct {
        unsigned int id;
        unsigned int sliceCount;
        unsigned int instanceCount;
        unsigned int multiprocessorCount;
        unsigned int sharedCopyEngineCount;
        unsigned int sharedDecoderCount;
        unsigned int sharedEncoderCount;
        unsigned int sharedJpegCount;
        unsigned int sharedOfaCount;
} nvmlComputeInstanceProfileInfo_t;

/* v3 appends `unsigned int capabilities` to v2 */
typedef struct {
        unsigned int version;
        unsigned int id;
        unsigned int sliceCount;
        unsigned int instanceCount;
        unsigned int multiprocessorCount;
        unsigned int sharedCopyEngineCount;
        unsigned int sharedDecoderCount;
        unsigned int sharedEncoderCount;
        unsigned int sharedJpegCount;
        unsigned int sharedOfaCount;
        char name[96];
        unsigned int capabilities; /* v3 only */
} nvmlComputeInstanceProfileInfo_v3_t;

#define NVML_COMPUTE_INSTANCE_PROFILE_COUNT 0x8
#define nvmlComputeInstanceProfileInfo_v2   NVML_STRUCT_VERSION(136, 2)
#define nvmlComputeInstanceProfileInfo_v3                                                          \
        NVML_STRUCT_VERSION(sizeof(nvmlComputeInstanceProfileInfo_v3_t), 3)

#define nvmlMemory_v2 NVML_STRUCT_VERSION(sizeof(nvmlMemory_v2_t), 2)
#define nvmlGpuInstanceProfileInfo_v2                                                              \
        NVML_STRUCT_VERSION(sizeof(nvmlGpuInstanceProfileInfo_v2_t), 2)

_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t layout");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t layout");
_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t layout");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_t layout");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t layout");
_Static_assert(sizeof(nvmlDeviceAttributes_t) == 40, "nvmlDeviceAttributes_t layout");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_t) == 48, "nvmlGpuInstanceProfileInfo_t layout");
_Static_assert(sizeof(nvmlGpuInstanceProfileInfo_v2_t) == 152, "profile info v2 layout");
_Static_assert(sizeof(nvmlGpuInstanceInfo_t) == 24, "nvmlGpuInstanceInfo_t layout");
_Static_assert(sizeof(nvmlComputeInstanceInfo_t) == 32, "nvmlComputeInstanceInfo_t layout");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_t) == 36, "CI profile info layout");
_Static_assert(sizeof(nvmlComputeInstanceProfileInfo_v3_t) == 140, "CI profile info v3 layout");
_Static_assert(nvmlComputeInstanceProfileInfo_v2 == 0x02000088, "CI profile info v2 version");
_Static_assert(nvmlComputeInstanceProfileInfo_v3 == 0x0300008c, "CI profile info v3 version");
_Static_assert(nvmlMemory_v2 == 0x02000028, "nvmlMemory_v2 version");
_Static_assert(nvmlGpuInstanceProfileInfo_v2 == 0x02000098, "profile info v2 version");

/* A device handle: a whole GPU (mig == NULL) or one MIG device of it. */
struct nvmlDevice_st {
        const struct sim_gpu *gpu;
        const struct sim_mig_device *mig;
        struct nvmlDevice_st *parent;                  /* MIG only */
        struct nvmlGpuInstance_st *gpu_instance;       /* MIG only */
        struct nvmlDevice_st *mig_handles;             /* whole GPU only: gpu->mig_device_count */
        char name[SIM_NAME_MAX + SIM_PROFILE_MAX + 8]; /* "NVIDIA A30 MIG 1c.2g.12gb" for MIG */
};

/* One GPU instance (several MIG devices share it when it is split into compute instances). */
struct nvmlGpuInstance_st {
        struct nvmlDevice_st *parent;
        unsigned id;
        const struct sim_profile *profile;
        unsigned placement_start;
};

/* Everything nvmlInit built; immutable until the last nvmlShutdown frees it. */
struct nvml_state {
        struct sim_topology *topology;
        struct nvmlDevice_st *devices; /* the GPUs in index order, then every MIG device */
        size_t device_count;
        struct nvmlGpuInstance_st *gpu_instances;
        size_t gpu_instance_count;
};

/* Locks the library and returns its state: NVML_SUCCESS (call nvml_leave later) or
 * UNINITIALIZED (not locked). */
nvmlReturn_t nvml_enter(const struct nvml_state **ret_state);

/* nvml_enter plus a handle check: INVALID_ARGUMENT for a handle this init did not give out,
 * GPU_IS_LOST for a GPU the topology marks lost. Locked only on NVML_SUCCESS. */
nvmlReturn_t nvml_enter_device(nvmlDevice_t device, const struct nvml_state **ret_state);

/* Same for GPU-instance handles. */
nvmlReturn_t nvml_enter_gpu_instance(nvmlGpuInstance_t gpu_instance,
                                     const struct nvml_state **ret_state);

void nvml_leave(void);

/* Unlocks and returns `code`, so a call can end with `return nvml_leave_with(code);`. */
nvmlReturn_t nvml_leave_with(nvmlReturn_t code);

/* Copies `text` with its terminator into an NVML caller buffer; INSUFFICIENT_SIZE when it does
 * not fit, INVALID_ARGUMENT for a NULL buffer. */
nvmlReturn_t nvml_copy_string(const char *text, char *buf, unsigned int length);
