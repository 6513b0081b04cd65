/* The life of simgpu's NVML: refcounted nvmlInit/nvmlShutdown that load the topology named by
 * SIMGPU_TOPOLOGY and build the device and GPU-instance handles, the lock every call holds, the
 * handle checks, and nvmlErrorString with NVIDIA's strings. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvml_sim.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvml_state *state; /* non-NULL while initialized */
static unsigned init_count;      /* nvmlInit calls not yet matched by nvmlShutdown */

static void free_state(struct nvml_state *s)
{
        if (!s)
                return;
        sim_topology_free(s->topology);
        free(s->devices);
        free(s->gpu_instances);
        free(s);
}

/* Placement start of the next GPU instance: after the previous ones, aligned to its placement
 * size (a 3-slice instance spans 4 and starts at 0 or 4), close to how the driver packs them. */
static unsigned next_placement(unsigned used, unsigned size)
{
        return (used + size - 1) / size * size;
}

static struct nvmlGpuInstance_st *find_gpu_instance(struct nvml_state *s,
                                                    const struct nvmlDevice_st *parent, unsigned id)
{
        for (size_t i = 0; i < s->gpu_instance_count; i++)
                if (s->gpu_instances[i].parent == parent && s->gpu_instances[i].id == id)
                        return &s->gpu_instances[i];
        return NULL;
}

/* Builds the handles: one per GPU, one per MIG device, one per distinct GPU instance. */
static int build_handles(struct nvml_state *s)
{
        const struct sim_topology *t = s->topology;
        size_t migs = 0;
        for (size_t g = 0; g < t->gpu_count; g++)
                migs += t->gpus[g].mig_device_count;
        s->devices = calloc(t->gpu_count + migs + 1, sizeof(*s->devices));
        s->gpu_instances = calloc(migs + 1, sizeof(*s->gpu_instances));
        if (!s->devices || !s->gpu_instances)
                return -1;

        struct nvmlDevice_st *next_mig = s->devices + t->gpu_count;
        for (size_t g = 0; g < t->gpu_count; g++) {
                struct nvmlDevice_st *gpu = &s->devices[g];
                unsigned slices_used = 0;
                gpu->gpu = &t->gpus[g];
                gpu->mig_handles = next_mig;
                snprintf(gpu->name, sizeof(gpu->name), "%s", gpu->gpu->name);
                for (size_t m = 0; m < gpu->gpu->mig_device_count; m++) {
                        struct nvmlDevice_st *mig = next_mig++;
                        mig->gpu = gpu->gpu;
                        mig->mig = &gpu->gpu->mig_devices[m];
                        mig->parent = gpu;
                        snprintf(mig->name, sizeof(mig->name), "%s MIG %s", gpu->gpu->name,
                                 mig->mig->profile);
                        mig->gpu_instance = find_gpu_instance(s, gpu, mig->mig->gpu_instance_id);
                        if (!mig->gpu_instance) {
                                struct nvmlGpuInstance_st *gi =
                                    &s->gpu_instances[s->gpu_instance_count++];
                                gi->parent = gpu;
                                gi->id = mig->mig->gpu_instance_id;
                                gi->profile = mig->mig->gpu_instance_profile;
                                gi->placement_start =
                                    next_placement(slices_used, gi->profile->placement_size);
                                slices_used = gi->placement_start + gi->profile->placement_size;
                                mig->gpu_instance = gi;
                        }
                }
        }
        s->device_count = t->gpu_count + migs;
        return 0;
}

/* SIMGPU_NVML_INIT_MS: how long the first nvmlInit takes, 0 to 60000 ms (default 0). The real
 * one costs time that callers must hide or pay: on the H100, init 9-11 ms plus 7 ms for the first
 * device queries and 2.5 ms for nvmlShutdown (docs/driver-facts.md). Anything else is ignored. */
static void init_latency(void)
{
        const char *text = getenv("SIMGPU_NVML_INIT_MS");
        char *end;
        if (!text || !*text)
                return;
        unsigned long ms = strtoul(text, &end, 10);
        if (*end || text[0] == '-' || ms == 0 || ms > 60000)
                return;
        struct timespec pause = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
                ;
}

static nvmlReturn_t init_locked(void)
{
        char error[1024];
        struct nvml_state *s;

        if (init_count > 0) {
                init_count++;
                return NVML_SUCCESS;
        }
        init_latency();
        s = calloc(1, sizeof(*s));
        if (!s)
                return NVML_ERROR_MEMORY;
        if (sim_topology_load_env(&s->topology, error, sizeof(error)) < 0) {
                /* the one line a user sees when the simulated driver itself is broken */
                fprintf(stderr, "simgpu: %s\n", error);
                free_state(s);
                return NVML_ERROR_DRIVER_NOT_LOADED;
        }
        if (!s->topology->driver_loaded) {
                free_state(s);
                return NVML_ERROR_DRIVER_NOT_LOADED;
        }
        if (build_handles(s) < 0) {
                free_state(s);
                return NVML_ERROR_MEMORY;
        }
        state = s;
        init_count = 1;
        return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlInit_v2(void)
{
        pthread_mutex_lock(&lock);
        nvmlReturn_t r = init_locked();
        pthread_mutex_unlock(&lock);
        return r;
}

NVML_API nvmlReturn_t nvmlInit(void)
{
        return nvmlInit_v2();
}

/* Flags (NO_GPUS, NO_ATTACH, FORCE_INIT) change nothing here: the simulated driver always has
 * its GPUs attached and succeeds with none. */
NVML_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
        return nvmlInit_v2();
}

NVML_API nvmlReturn_t nvmlShutdown(void)
{
        nvmlReturn_t r = NVML_SUCCESS;
        pthread_mutex_lock(&lock);
        if (init_count == 0) {
                r = NVML_ERROR_UNINITIALIZED; /* as driver 580 answers an extra shutdown */
        } else if (--init_count == 0) {
                free_state(state);
                state = NULL;
        }
        pthread_mutex_unlock(&lock);
        return r;
}

NVML_API const char *nvmlErrorString(nvmlReturn_t result)
{
        /* NVIDIA's wording, as DCGM's nvml_error_strings.h copies it */
        switch (result) {
        case NVML_SUCCESS:
                return "Success";
        case NVML_ERROR_UNINITIALIZED:
                return "Uninitialized";
        case NVML_ERROR_INVALID_ARGUMENT:
                return "Invalid Argument";
        case NVML_ERROR_NOT_SUPPORTED:
                return "Not Supported";
        case NVML_ERROR_NO_PERMISSION:
                return "Insufficient Permissions";
        case NVML_ERROR_ALREADY_INITIALIZED:
                return "Already Initialized";
        case NVML_ERROR_NOT_FOUND:
                return "Not Found";
        case NVML_ERROR_INSUFFICIENT_SIZE:
                return "Insufficient Size";
        case NVML_ERROR_INSUFFICIENT_POWER:
                return "Insufficient External Power";
        case NVML_ERROR_DRIVER_NOT_LOADED:
                return "Driver Not Loaded";
        case NVML_ERROR_TIMEOUT:
                return "Timeout";
        case NVML_ERROR_IRQ_ISSUE:
                return "Interrupt Request Issue";
        case NVML_ERROR_LIBRARY_NOT_FOUND:
                return "NVML Shared Library Not Found";
        case NVML_ERROR_FUNCTION_NOT_FOUND:
                return "Function Not Found";
        case NVML_ERROR_CORRUPTED_INFOROM:
                return "Corrupted infoROM";
        case NVML_ERROR_GPU_IS_LOST:
                return "GPU is lost";
        case NVML_ERROR_RESET_REQUIRED:
                return "GPU requires reset";
        case NVML_ERROR_OPERATING_SYSTEM:
                return "GPU access blocked by the operating system";
        case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
                return "Driver/library version mismatch";
        case NVML_ERROR_IN_USE:
                return "In use by another client";
        case NVML_ERROR_MEMORY:
                return "Insufficient Memory";
        case NVML_ERROR_NO_DATA:
                return "No data";
        case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED:
                return "vGPU ECC not supported";
        case NVML_ERROR_INSUFFICIENT_RESOURCES:
                return "Insufficient Resources";
        /* 24-30 as driver 580 words them (docs/driver-facts-mig-profiles.md) */
        case NVML_ERROR_FREQ_NOT_SUPPORTED:
                return "Invalid Frequency";
        case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
                return "Argument version mismatch";
        case NVML_ERROR_DEPRECATED:
                return "Requested functionality has been deprecated";
        case NVML_ERROR_NOT_READY:
                return "System is not in ready state";
        case NVML_ERROR_GPU_NOT_FOUND:
                return "No supported GPUs were found";
        case NVML_ERROR_INVALID_STATE:
                return "Resource not in correct state to perform requested operation";
        case NVML_ERROR_RESET_TYPE_NOT_SUPPORTED:
                return "Reset type is not supported for given device";
        default:
                return "Unknown Error";
        }
}

nvmlReturn_t nvml_enter(const struct nvml_state **ret_state)
{
        pthread_mutex_lock(&lock);
        if (!state) {
                pthread_mutex_unlock(&lock);
                return NVML_ERROR_UNINITIALIZED;
        }
        *ret_state = state;
        return NVML_SUCCESS;
}

/* Whether `p` points at one of the `count` elements of `array` (handles from an earlier init,
 * or made up, are refused instead of followed). */
static bool is_element(const void *p, const void *array, size_t count, size_t size)
{
        uintptr_t at = (uintptr_t)p, first = (uintptr_t)array;
        return p && at >= first && at < first + count * size && (at - first) % size == 0;
}

nvmlReturn_t nvml_enter_device(nvmlDevice_t device, const struct nvml_state **ret_state)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!is_element(device, s->devices, s->device_count, sizeof(*device)))
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (device->gpu->lost)
                return nvml_leave_with(NVML_ERROR_GPU_IS_LOST);
        *ret_state = s;
        return NVML_SUCCESS;
}

nvmlReturn_t nvml_enter_gpu_instance(nvmlGpuInstance_t gpu_instance,
                                     const struct nvml_state **ret_state)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!is_element(gpu_instance, s->gpu_instances, s->gpu_instance_count,
                        sizeof(*gpu_instance)))
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        if (gpu_instance->parent->gpu->lost)
                return nvml_leave_with(NVML_ERROR_GPU_IS_LOST);
        *ret_state = s;
        return NVML_SUCCESS;
}

void nvml_leave(void)
{
        pthread_mutex_unlock(&lock);
}

nvmlReturn_t nvml_leave_with(nvmlReturn_t code)
{
        pthread_mutex_unlock(&lock);
        return code;
}

nvmlReturn_t nvml_copy_string(const char *text, char *buf, unsigned int length)
{
        size_t need = strlen(text) + 1;
        if (!buf)
                return NVML_ERROR_INVALID_ARGUMENT;
        if (length < need)
                return NVML_ERROR_INSUFFICIENT_SIZE;
        memcpy(buf, text, need);
        return NVML_SUCCESS;
}
