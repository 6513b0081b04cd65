/* simgpu's libcuda.so.1: the driver-API types and result codes it shares with real libcuda, and
 * the process-wide state (visible devices, MPS attachment, contexts, allocations, modules) that
 * its files share. Only functions marked CU_API are exported from the library. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptx.h"

#define CU_API __attribute__((visibility("default")))

/* Result codes, numbered as in the real cuda.h. */
typedef enum {
        CUDA_SUCCESS = 0,
        CUDA_ERROR_INVALID_VALUE = 1,
        CUDA_ERROR_OUT_OF_MEMORY = 2,
        CUDA_ERROR_NOT_INITIALIZED = 3,
        CUDA_ERROR_DEINITIALIZED = 4,
        CUDA_ERROR_STUB_LIBRARY = 34,
        CUDA_ERROR_DEVICE_UNAVAILABLE = 46,
        CUDA_ERROR_NO_DEVICE = 100,
        CUDA_ERROR_INVALID_DEVICE = 101,
        CUDA_ERROR_INVALID_IMAGE = 200,
        CUDA_ERROR_INVALID_CONTEXT = 201,
        CUDA_ERROR_CONTEXT_ALREADY_CURRENT = 202,
        CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
        CUDA_ERROR_INVALID_PTX = 218,
        CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
        CUDA_ERROR_INVALID_SOURCE = 300,
        CUDA_ERROR_FILE_NOT_FOUND = 301,
        CUDA_ERROR_OPERATING_SYSTEM = 304,
        CUDA_ERROR_INVALID_HANDLE = 400,
        CUDA_ERROR_ILLEGAL_STATE = 401,
        CUDA_ERROR_NOT_FOUND = 500,
        CUDA_ERROR_NOT_READY = 600,
        CUDA_ERROR_ILLEGAL_ADDRESS = 700,
        CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
        CUDA_ERROR_LAUNCH_TIMEOUT = 702,
        CUDA_ERROR_CONTEXT_IS_DESTROYED = 709,
        CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,
        CUDA_ERROR_MISALIGNED_ADDRESS = 716,
        CUDA_ERROR_LAUNCH_FAILED = 719,
        CUDA_ERROR_NOT_PERMITTED = 800,
        CUDA_ERROR_NOT_SUPPORTED = 801,
        CUDA_ERROR_MPS_CONNECTION_FAILED = 805,
        CUDA_ERROR_MPS_RPC_FAILURE = 806,
        CUDA_ERROR_MPS_SERVER_NOT_READY = 807,
        CUDA_ERROR_MPS_MAX_CLIENTS_REACHED = 808,
        CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED = 809,
        CUDA_ERROR_MPS_CLIENT_TERMINATED = 810,
        CUDA_ERROR_UNKNOWN = 999,
} CUresult;

typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct cu_context *CUcontext;
typedef struct cu_module *CUmodule;
typedef struct cu_function *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct {
        char bytes[16];
} CUuuid;

/* cuCtxCreate_v4's parameters (CUDA 12.5); simgpu supports only the defaults. */
typedef struct {
        void *exec_affinity_params;
        int exec_affinity_param_count;
        void *cig_params;
} CUctxCreateParams;

/* The stream handles that need no cuStreamCreate. */
#define CU_STREAM_LEGACY     ((CUstream)0x1)
#define CU_STREAM_PER_THREAD ((CUstream)0x2)

/* One device this process sees, fixed at cuInit. */
struct cu_device {
        char name[256];
        unsigned char uuid[16];     /* the MIG UUID for a MIG device */
        unsigned char gpu_uuid[16]; /* the parent GPU's UUID (== uuid for a whole GPU) */
        char uuid_text[96];         /* as in the topology, "GPU-..." or "MIG-..." */
        bool is_mig;
        unsigned sm_count; /* after the MPS active thread percentage */
        unsigned long long total_bytes;
        unsigned long long pinned_limit; /* 0: no MPS pinned-memory limit */
        unsigned long long allocated;    /* by this process, all contexts (under cu_driver.lock) */
        unsigned compute_mode;
        unsigned pci_domain, pci_bus, pci_device;
        int cc_major, cc_minor;
        unsigned full_sm_count; /* the device's own, before any MPS percentage */
        unsigned clock_khz;     /* the SM clock under load: the product's top graphics clock */
        int timeline_fd;        /* cuda_timeline.c: the device's schedule file, once opened */
        bool timeline_tried;
        int timeline_slot;             /* the slot of this process's last booking, or -1 */
        long long timeline_last_start; /* this process's last booked kernel: start, end (ns) */
        long long timeline_last_end;
};

/* An allocation: device pointers are the addresses of private anonymous mappings, so kernels
 * and copies reach the bytes directly once the range has been checked against this list. */
struct cu_alloc {
        CUdeviceptr base;
        size_t size;
        struct cu_context *ctx;
        struct cu_alloc *next;
};

struct cu_function {
        struct cu_module *module;
        const struct ptx_entry *entry;
};

struct cu_module {
        struct cu_context *ctx;
        struct ptx_program *program;
        struct cu_function *functions; /* one per entry, same order */
        struct cu_module *next;
};

struct cu_context {
        CUdevice device;
        CUresult sticky_error; /* a fault in a kernel makes the context unusable, as on a GPU */
        struct cu_module *modules;
        struct cu_context *next;
};

struct cu_driver {
        pthread_mutex_t lock; /* guards everything below after cuInit */
        bool init_done;
        CUresult init_result;
        struct cu_device *devices;
        int device_count;
        int driver_version;
        int mps_fd; /* the open connection to the MPS control daemon, or -1 */
        unsigned mps_server_pid;
        double mps_thread_percentage; /* effective, 100 without MPS */
        struct cu_context *contexts;
        struct cu_alloc *allocs;
};

extern struct cu_driver cu_driver;

/* Returns CUDA_SUCCESS when cuInit succeeded, else CUDA_ERROR_NOT_INITIALIZED. */
CUresult cu_check_init(void);

/* Looks up a device ordinal; CUDA_ERROR_INVALID_DEVICE when out of range. */
CUresult cu_get_device(CUdevice dev, struct cu_device **ret);

/* The calling thread's current context, checked: INVALID_CONTEXT when there is none, or the
 * context's sticky error. Must be called with cu_driver.lock held. */
CUresult cu_current_context_locked(struct cu_context **ret);

/* Whether a handle is a live context / function (pointer comparison only, never dereferenced
 * before it is found). Must be called with cu_driver.lock held. */
bool cu_context_is_live_locked(const struct cu_context *ctx);
bool cu_function_is_live_locked(const struct cu_function *func);

/* Frees every module of a context (at cuCtxDestroy). Lock held. */
void cu_modules_free_locked(struct cu_context *ctx);

/* Finds the allocation that holds [ptr, ptr+size) in ctx (any context when ctx is NULL), or
 * NULL. Lock held. */
struct cu_alloc *cu_alloc_find_locked(const struct cu_context *ctx, CUdeviceptr ptr, size_t size);

/* Attaches to a live simulated MPS control daemon named by CUDA_MPS_PIPE_DIRECTORY, if any,
 * and applies its effective limits to the devices. Without a live daemon, changes nothing and
 * succeeds, as the real driver runs the client without MPS. */
CUresult cu_mps_attach(struct cu_device *devices, int count);

/* The number of SMs a client sees under an active thread percentage: rounded down to whole
 * TPCs (pairs of SMs), at least 8/132 of the device's SMs in whole TPCs (the H100's floor of 8),
 * at least one TPC, at most the device's count (cuda_mps.c says what it is fitted to). */
unsigned cu_mps_scaled_sm_count(unsigned sm_count, double percentage);

/* How many threads one SM of the device holds at once (cuDeviceGetAttribute's answer). */
int cu_threads_per_multiprocessor(const struct cu_device *d);

/* Books a kernel of `duration_ns` on the device beside the other processes' kernels
 * (cuda_timeline.c), behind this process's earlier ones: `context` is the device context it runs
 * in (the MPS server's pid for an MPS client, its own pid otherwise), `threads` how many threads it
 * keeps resident, `launched_ns` when cuLaunchKernel was entered (CLOCK_MONOTONIC). Returns once
 * the process's previous kernel has begun (a queue of one behind the running kernel). Called
 * without cu_driver.lock. */
void cu_timeline_book(struct cu_device *d, unsigned long long context, unsigned long long threads,
                      unsigned long long duration_ns, long long launched_ns);

/* Waits, in real time, until the device's kernels booked by this process have run: where the
 * real driver waits for the GPU (cuCtxSynchronize, copies, cuMemFree, cuCtxDestroy). Called
 * without cu_driver.lock. */
void cu_timeline_drain(const struct cu_device *d);

/* Parses a byte size with an optional binary unit: 512M, 2G, 2GB, 1024. 0 or -EINVAL. */
int cu_parse_size(const char *text, unsigned long long *ret);

/* The exported driver API. The plain names of functions that have a _v2 are aliases of it. */
CU_API CUresult cuInit(unsigned int flags);
CU_API CUresult cuDriverGetVersion(int *version);
CU_API CUresult cuGetErrorString(CUresult error, const char **str);
CU_API CUresult cuGetErrorName(CUresult error, const char **str);
CU_API CUresult cuGetProcAddress(const char *symbol, void **pfn, int cuda_version,
                                 unsigned long long flags);
CU_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cuda_version,
                                    unsigned long long flags, int *symbol_status);
CU_API CUresult cuDeviceGetCount(int *count);
CU_API CUresult cuDeviceGet(CUdevice *device, int ordinal);
CU_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev);
CU_API CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev);
CU_API CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev);
CU_API CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev);
CU_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev);
CU_API CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice dev);
CU_API CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev);
CU_API CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CU_API CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
                               CUdevice dev);
CU_API CUresult cuCtxDestroy(CUcontext ctx);
CU_API CUresult cuCtxDestroy_v2(CUcontext ctx);
CU_API CUresult cuCtxGetCurrent(CUcontext *pctx);
CU_API CUresult cuCtxSetCurrent(CUcontext ctx);
CU_API CUresult cuCtxPushCurrent(CUcontext ctx);
CU_API CUresult cuCtxPushCurrent_v2(CUcontext ctx);
CU_API CUresult cuCtxPopCurrent(CUcontext *pctx);
CU_API CUresult cuCtxPopCurrent_v2(CUcontext *pctx);
CU_API CUresult cuCtxGetDevice(CUdevice *device);
CU_API CUresult cuCtxSynchronize(void);
CU_API CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytesize);
CU_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize);
CU_API CUresult cuMemFree(CUdeviceptr dptr);
CU_API CUresult cuMemFree_v2(CUdeviceptr dptr);
CU_API CUresult cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes);
CU_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes);
CU_API CUresult cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t bytes);
CU_API CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes);
CU_API CUresult cuModuleLoadData(CUmodule *module, const void *image);
CU_API CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int num_options,
                                   int *options, void **option_values);
CU_API CUresult cuModuleUnload(CUmodule hmod);
CU_API CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name);
/* Not a driver entry point: present only in simgpu's libcuda, so that a client (mpsmig-probe)
 * can tell its timings come from the model of cuda_timeline.c and say so. Returns one line. */
CU_API const char *simgpu_timing_model(void);
CU_API CUresult cuLaunchKernel(CUfunction f, unsigned int grid_x, unsigned int grid_y,
                               unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                               unsigned int block_z, unsigned int shared_bytes, CUstream stream,
                               void **kernel_params, void **extra);
