/* mpsmig-probe: a standalone CUDA client that reports what the driver shows it (devices, SMs,
 * memory), runs one tiny kernel, optionally tries one allocation, optionally runs a fixed amount of
 * kernel work and times it, and can stay alive so that an MPS control daemon lists it. It loads
 * libcuda.so.1 at run time and needs no CUDA toolkit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Our own minimal driver-API declarations, as in cuda.h. */
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct probe_cu_context *CUcontext;
typedef struct probe_cu_module *CUmodule;
typedef struct probe_cu_function *CUfunction;
typedef struct probe_cu_stream *CUstream;
typedef struct {
        unsigned char bytes[16];
} CUuuid;

#define CUDA_SUCCESS                             0
#define CUDA_ERROR_OUT_OF_MEMORY                 2
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16

/* The driver entry points the probe calls, each with the symbol it was resolved from. */
struct cuda_api {
        void *handle;
        CUresult (*init)(unsigned int flags);
        CUresult (*driver_get_version)(int *version);
        CUresult (*device_get_count)(int *count);
        CUresult (*device_get)(CUdevice *device, int ordinal);
        CUresult (*device_get_name)(char *name, int len, CUdevice dev);
        CUresult (*device_get_uuid)(CUuuid *uuid, CUdevice dev);
        CUresult (*device_get_attribute)(int *value, int attribute, CUdevice dev);
        CUresult (*device_total_mem)(size_t *bytes, CUdevice dev);
        CUresult (*ctx_create)(CUcontext *ctx, unsigned int flags, CUdevice dev);
        CUresult (*ctx_destroy)(CUcontext ctx);
        CUresult (*ctx_synchronize)(void);
        CUresult (*mem_alloc)(CUdeviceptr *ptr, size_t bytes);
        CUresult (*mem_free)(CUdeviceptr ptr);
        CUresult (*memcpy_htod)(CUdeviceptr dst, const void *src, size_t bytes);
        CUresult (*memcpy_dtoh)(void *dst, CUdeviceptr src, size_t bytes);
        CUresult (*module_load_data_ex)(CUmodule *module, const void *image, unsigned int count,
                                        int *options, void **values);
        CUresult (*module_get_function)(CUfunction *function, CUmodule module, const char *name);
        CUresult (*module_unload)(CUmodule module);
        CUresult (*launch_kernel)(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                  unsigned int bx, unsigned int by, unsigned int bz,
                                  unsigned int shared_bytes, CUstream stream, void **params,
                                  void **extra);
        CUresult (*get_error_name)(CUresult error, const char **str);
        CUresult (*get_error_string)(CUresult error, const char **str);
        /* the symbol each pointer above came from, by the same order, for messages */
        const char *names[22];
        /* Only simgpu's libcuda has it (cuda_timeline.c): its timings are simulated. */
        const char *(*simgpu_timing_model)(void);
};

/* Indexes into cuda_api.names. */
enum cuda_call {
        CALL_INIT,
        CALL_DRIVER_GET_VERSION,
        CALL_DEVICE_GET_COUNT,
        CALL_DEVICE_GET,
        CALL_DEVICE_GET_NAME,
        CALL_DEVICE_GET_UUID,
        CALL_DEVICE_GET_ATTRIBUTE,
        CALL_DEVICE_TOTAL_MEM,
        CALL_CTX_CREATE,
        CALL_CTX_DESTROY,
        CALL_CTX_SYNCHRONIZE,
        CALL_MEM_ALLOC,
        CALL_MEM_FREE,
        CALL_MEMCPY_HTOD,
        CALL_MEMCPY_DTOH,
        CALL_MODULE_LOAD_DATA_EX,
        CALL_MODULE_GET_FUNCTION,
        CALL_MODULE_UNLOAD,
        CALL_LAUNCH_KERNEL,
        CALL_GET_ERROR_NAME,
        CALL_GET_ERROR_STRING,
        CALL_COUNT,
};

/* Loads libcuda (MPSMIG_CUDA_LIBRARY overrides the name) and resolves every entry point, the
 * versioned names first. On failure returns -ENOENT and writes one sentence to `why`. */
int cuda_api_load(struct cuda_api *api, char *why, size_t why_size);
void cuda_api_unload(struct cuda_api *api);

/* "CUDA_ERROR_OUT_OF_MEMORY (out of memory)", or the number when the driver knows no name. */
void cuda_describe(const struct cuda_api *api, CUresult r, char *buf, size_t size);
const char *cuda_error_name(const struct cuda_api *api, CUresult r);

/* What the probe learnt about one device. */
struct probe_device {
        int ordinal;
        bool queried; /* name .. total_memory are filled */
        char name[256];
        char uuid[48]; /* GPU-xxxxxxxx-... (MIG-... for a MIG device) */
        int sm_count;
        unsigned long long total_memory;
        const char *kernel; /* "ok", "wrong", or NULL when it did not run */
        bool alloc_tried;
        const char *alloc_result; /* "ok" or the CUresult name */
        CUcontext context;        /* kept until the end of --hold */
};

struct probe_options {
        bool json;
        int device; /* -1: every device */
        bool alloc;
        unsigned long long alloc_bytes;
        double hold_seconds;
        unsigned work_kernels;          /* --work: spin kernels to launch; 0: none */
        unsigned long long spin_cycles; /* --spin: cycles each kernel's threads wait */
        double start_at;                /* --start-at: CLOCK_MONOTONIC seconds; < 0: at once */
};

/* The work kernel's shape: 8 blocks of 128 threads, as in the throughput readings of
 * docs/driver-facts-mps-control.md (16 such clients fit 132 SMs). */
#define PROBE_WORK_BLOCKS         8u
#define PROBE_WORK_THREADS        128u
#define PROBE_SPIN_CYCLES_DEFAULT 1000000ull
#define PROBE_WORK_KERNELS_MAX    1000000u
#define PROBE_SPIN_CYCLES_MAX     100000000000ull

/* What --work measured; times are CLOCK_MONOTONIC seconds, which every process of a machine
 * shares, so that a caller can line several clients up. */
struct probe_work {
        bool done;
        double begin, end; /* first launch, and the synchronisation after the last kernel */
        double late;       /* how long after --start-at the work began; 0 when on time */
        unsigned long long fewest_cycles; /* the fewest cycles a block reported waiting */
};

struct probe_report {
        int pid;
        int driver_version; /* -1 until read */
        int device_count;   /* -1 until read */
        struct probe_device *devices;
        size_t probed;      /* entries of `devices` in use */
        char error[1024];   /* the first failure, "cuX failed: NAME (text)"; "" when none */
        bool failed;        /* a CUDA call failed or the kernel was wrong: exit 1 */
        bool alloc_refused; /* --alloc answered CUDA_ERROR_OUT_OF_MEMORY: exit 3 */
        bool timings_simulated;
        double init_begin;        /* CLOCK_MONOTONIC seconds, just before cuInit */
        double first_kernel_done; /* after the first kernel's synchronisation; 0: not done */
        struct probe_work work;
};

/* CLOCK_MONOTONIC in seconds. */
double probe_now(void);

/* Runs --work on the probe's device `d`, whose context is current: loads the spin kernel, waits
 * for --start-at, launches the kernels, synchronises once, checks what they report. */
bool probe_run_work(const struct cuda_api *api, const struct probe_options *options,
                    struct probe_report *report, struct probe_device *d);

/* Records the first failure of a CUDA call (probe_run.c); true when `r` is one. */
bool probe_failed_call(const struct cuda_api *api, struct probe_report *report, enum cuda_call call,
                       CUresult r, const char *detail);

/* Runs the probe over the devices the options select, filling the report. */
void probe_run(const struct cuda_api *api, const struct probe_options *options,
               struct probe_report *report);

/* Destroys the contexts the probe kept. */
void probe_release(const struct cuda_api *api, struct probe_report *report);

/* Writes the report on stdout: key: value lines, or one JSON object. */
void report_print_text(const struct probe_report *report, const struct probe_options *options);
void report_print_json(const struct probe_report *report, const struct probe_options *options);
