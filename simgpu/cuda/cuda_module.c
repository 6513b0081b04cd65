/* Modules and launches of simgpu's libcuda: PTX text is checked as the JIT would (structure,
 * .version against the driver, .target against the device) with a ptxas-style error log, entries
 * become functions, and cuLaunchKernel validates its arguments and runs the kernel at once. */
#include "cuda_sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CUjit_option values that carry the JIT logs. */
enum {
        CU_JIT_INFO_LOG_BUFFER = 3,
        CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
        CU_JIT_ERROR_LOG_BUFFER = 5,
        CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
};

#define CU_LAUNCH_PARAM_END            ((void *)0x00)
#define CU_LAUNCH_PARAM_BUFFER_POINTER ((void *)0x01)
#define CU_LAUNCH_PARAM_BUFFER_SIZE    ((void *)0x02)

#define MAX_SHARED_MEMORY_PER_BLOCK 49152u

/* The newest PTX ISA a driver of this CUDA version JITs (13.0 -> 9.0, 12.4 -> 8.4, 11.8 -> 7.8). */
static unsigned max_ptx_isa(int cuda_version)
{
        static const unsigned cuda12[] = {80, 81, 82, 83, 84, 85, 85, 86, 87, 88};
        int major = cuda_version / 1000, minor = cuda_version % 1000 / 10;

        if (major >= 13)
                return 90 + (unsigned)minor;
        if (major == 12)
                return minor < 10 ? cuda12[minor] : 88;
        if (major == 11)
                return 70 + (unsigned)minor;
        return 64;
}

/* The oldest PTX ISA that may name a target (sm_90 needs 7.8). */
static unsigned min_ptx_isa_for_target(unsigned sm)
{
        static const struct {
                unsigned sm, isa;
        } targets[] = {
            {120, 87}, {100, 86}, {90, 78}, {89, 78}, {87, 74}, {86, 71}, {80, 70},
            {75, 63},  {72, 61},  {70, 60}, {60, 50}, {53, 42}, {52, 41}, {50, 40},
        };

        for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
                if (sm >= targets[i].sm)
                        return targets[i].isa;
        return 0;
}

static void write_log(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void write_log(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;

        if (!buf || size == 0)
                return;
        va_start(ap, fmt);
        (void)vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* Checks a parsed program against the driver and the device, as the JIT does. */
static CUresult check_program(const struct ptx_program *p, const struct cu_device *d, char *log,
                              size_t log_size)
{
        unsigned isa = p->version_major * 10 + p->version_minor;
        unsigned max = max_ptx_isa(cu_driver.driver_version);
        unsigned device_sm = (unsigned)(d->cc_major * 10 + d->cc_minor);

        if (isa > max) {
                write_log(log, log_size,
                          "ptxas application ptx input, line 1; fatal   : Unsupported .version "
                          "%u.%u; current version is '%u.%u'\n",
                          p->version_major, p->version_minor, max / 10, max % 10);
                return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
        }
        if (p->target_sm < 50 || isa < min_ptx_isa_for_target(p->target_sm)) {
                write_log(log, log_size,
                          "ptxas application ptx input, line 1; error   : Unsupported .target "
                          "'sm_%u' for PTX ISA .version %u.%u\n",
                          p->target_sm, p->version_major, p->version_minor);
                return CUDA_ERROR_INVALID_PTX;
        }
        if (p->target_sm > device_sm) {
                write_log(log, log_size,
                          "ptxas application ptx input, line 1; error   : SM version specified "
                          "by .target (sm_%u) is higher than the device's (sm_%u)\n",
                          p->target_sm, device_sm);
                return CUDA_ERROR_INVALID_PTX;
        }
        return CUDA_SUCCESS;
}

static bool module_is_live_locked(const struct cu_module *mod)
{
        for (const struct cu_context *c = cu_driver.contexts; c; c = c->next)
                for (const struct cu_module *m = c->modules; m; m = m->next)
                        if (m == mod)
                                return true;
        return false;
}

bool cu_function_is_live_locked(const struct cu_function *func)
{
        for (const struct cu_context *c = cu_driver.contexts; c; c = c->next)
                for (const struct cu_module *m = c->modules; m; m = m->next)
                        for (unsigned i = 0; i < m->program->entry_count; i++)
                                if (&m->functions[i] == func)
                                        return true;
        return false;
}

static void module_free(struct cu_module *mod)
{
        ptx_program_free(mod->program);
        free(mod->functions);
        free(mod);
}

void cu_modules_free_locked(struct cu_context *ctx)
{
        while (ctx->modules) {
                struct cu_module *mod = ctx->modules;

                ctx->modules = mod->next;
                module_free(mod);
        }
}

static CUresult load_ptx(const char *text, const struct cu_device *d, struct cu_module **ret,
                         char *error_log, size_t error_log_size)
{
        struct ptx_program *program = NULL;
        struct cu_module *mod;
        CUresult r;
        int k;

        k = ptx_parse(text, &program, error_log, error_log_size);
        if (k == -ENOMEM)
                return CUDA_ERROR_OUT_OF_MEMORY;
        if (k < 0)
                return CUDA_ERROR_INVALID_PTX;
        r = check_program(program, d, error_log, error_log_size);
        if (r != CUDA_SUCCESS) {
                ptx_program_free(program);
                return r;
        }
        mod = calloc(1, sizeof(*mod));
        if (mod)
                mod->functions = calloc(program->entry_count + 1, sizeof(*mod->functions));
        if (!mod || !mod->functions) {
                free(mod);
                ptx_program_free(program);
                return CUDA_ERROR_OUT_OF_MEMORY;
        }
        mod->program = program;
        for (unsigned i = 0; i < program->entry_count; i++) {
                mod->functions[i].module = mod;
                mod->functions[i].entry = &program->entries[i];
        }
        *ret = mod;
        return CUDA_SUCCESS;
}

CU_API CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int num_options,
                                   int *options, void **option_values)
{
        char *error_log = NULL, *info_log = NULL;
        size_t error_log_size = 0, info_log_size = 0;
        int error_size_at = -1, info_size_at = -1;
        struct cu_context *ctx;
        struct cu_module *mod = NULL;
        const unsigned char *bytes = image;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!module || !image || (num_options > 0 && (!options || !option_values)))
                return CUDA_ERROR_INVALID_VALUE;
        for (unsigned i = 0; i < num_options; i++) {
                switch (options[i]) {
                case CU_JIT_ERROR_LOG_BUFFER:
                        error_log = option_values[i];
                        break;
                case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
                        error_log_size = (size_t)(uintptr_t)option_values[i];
                        error_size_at = (int)i;
                        break;
                case CU_JIT_INFO_LOG_BUFFER:
                        info_log = option_values[i];
                        break;
                case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
                        info_log_size = (size_t)(uintptr_t)option_values[i];
                        info_size_at = (int)i;
                        break;
                default: /* optimisation and target options change nothing here */
                        break;
                }
        }
        if (!error_log)
                error_log_size = 0;
        if (info_log && info_log_size > 0)
                info_log[0] = '\0';

        (void)pthread_mutex_lock(&cu_driver.lock);
        r = cu_current_context_locked(&ctx);
        if (r == CUDA_SUCCESS) {
                /* ELF cubins and fatbins hold machine code simgpu cannot run: PTX text only */
                if ((bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F') ||
                    (bytes[0] == 0x50 && bytes[1] == 0xed && bytes[2] == 0x55 && bytes[3] == 0xba))
                        r = CUDA_ERROR_INVALID_IMAGE;
                else
                        r = load_ptx(image, &cu_driver.devices[ctx->device], &mod, error_log,
                                     error_log_size);
        }
        if (r == CUDA_SUCCESS) {
                mod->ctx = ctx;
                mod->next = ctx->modules;
                ctx->modules = mod;
                *module = mod;
        }
        (void)pthread_mutex_unlock(&cu_driver.lock);
        /* the size options come back holding the bytes written */
        if (error_size_at >= 0)
                option_values[error_size_at] =
                    (void *)(uintptr_t)(error_log && error_log_size ? strlen(error_log) : 0);
        if (info_size_at >= 0)
                option_values[info_size_at] = (void *)(uintptr_t)0;
        return r;
}

CU_API CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
        return cuModuleLoadDataEx(module, image, 0, NULL, NULL);
}

CU_API CUresult cuModuleUnload(CUmodule hmod)
{
        struct cu_module **link;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!hmod)
                return CUDA_ERROR_INVALID_HANDLE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        if (!module_is_live_locked(hmod)) {
                (void)pthread_mutex_unlock(&cu_driver.lock);
                return CUDA_ERROR_INVALID_HANDLE;
        }
        for (link = &hmod->ctx->modules; *link != hmod; link = &(*link)->next)
                ;
        *link = hmod->next;
        (void)pthread_mutex_unlock(&cu_driver.lock);
        module_free(hmod);
        return CUDA_SUCCESS;
}

CU_API CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!hfunc || !name)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        if (!hmod || !module_is_live_locked(hmod)) {
                r = CUDA_ERROR_INVALID_HANDLE;
        } else {
                r = CUDA_ERROR_NOT_FOUND;
                for (unsigned i = 0; i < hmod->program->entry_count; i++)
                        if (strcmp(hmod->program->entries[i].name, name) == 0) {
                                *hfunc = &hmod->functions[i];
                                r = CUDA_SUCCESS;
                                break;
                        }
        }
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

static void *translate(void *userdata, uint64_t address, size_t size)
{
        const struct cu_context *ctx = userdata;

        return cu_alloc_find_locked(ctx, address, size) ? (void *)(uintptr_t)address : NULL;
}

/* Packs the kernel's parameters from kernelParams (one pointer per parameter) or from `extra`
 * (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE / _END). */
static CUresult pack_params(const struct ptx_entry *e, void **kernel_params, void **extra,
                            unsigned char *buf)
{
        const void *buffer = NULL;
        const size_t *buffer_size = NULL;

        if (kernel_params && extra)
                return CUDA_ERROR_INVALID_VALUE;
        if (kernel_params) {
                for (unsigned i = 0; i < e->param_count; i++) {
                        if (!kernel_params[i])
                                return CUDA_ERROR_INVALID_VALUE;
                        memcpy(buf + e->params[i].offset, kernel_params[i], e->params[i].size);
                }
                return CUDA_SUCCESS;
        }
        if (!extra)
                return e->param_count == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
        for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
                if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
                        buffer = extra[i + 1];
                else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE)
                        buffer_size = extra[i + 1];
                else
                        return CUDA_ERROR_INVALID_VALUE;
        }
        if (!buffer || !buffer_size || *buffer_size < e->param_bytes)
                return CUDA_ERROR_INVALID_VALUE;
        memcpy(buf, buffer, e->param_bytes);
        return CUDA_SUCCESS;
}

static CUresult check_dimensions(const unsigned grid[3], const unsigned block[3],
                                 unsigned shared_bytes)
{
        if (!grid[0] || !grid[1] || !grid[2] || !block[0] || !block[1] || !block[2])
                return CUDA_ERROR_INVALID_VALUE;
        if (grid[0] > 2147483647u || grid[1] > 65535 || grid[2] > 65535)
                return CUDA_ERROR_INVALID_VALUE;
        if (block[0] > 1024 || block[1] > 1024 || block[2] > 64 ||
            (unsigned long long)block[0] * block[1] * block[2] > 1024)
                return CUDA_ERROR_INVALID_VALUE;
        if (shared_bytes > MAX_SHARED_MEMORY_PER_BLOCK)
                return CUDA_ERROR_INVALID_VALUE;
        return CUDA_SUCCESS;
}

/* How long a kernel of `cycles` (its longest thread's) takes on the device as this process sees
 * it (under MPS, the SMs its active thread percentage leaves it), and how many threads it keeps
 * resident: blocks run in waves of what the SMs hold at once. */
static void kernel_time(const struct cu_device *d, const unsigned grid[3], const unsigned block[3],
                        uint64_t cycles, unsigned long long *ret_ns,
                        unsigned long long *ret_threads)
{
        unsigned long long blocks = (unsigned long long)grid[0] * grid[1] * grid[2];
        unsigned long long threads = (unsigned long long)block[0] * block[1] * block[2];
        unsigned long long per_sm = (unsigned long long)cu_threads_per_multiprocessor(d) / threads;
        unsigned long long at_once, waves;

        if (per_sm < 1)
                per_sm = 1;
        if (per_sm > 32) /* the most blocks an SM holds */
                per_sm = 32;
        at_once = (unsigned long long)(d->sm_count ? d->sm_count : 1) * per_sm;
        waves = (blocks + at_once - 1) / at_once;
        *ret_ns = waves * cycles * 1000000ull / (d->clock_khz ? d->clock_khz : 1);
        *ret_threads = (blocks < at_once ? blocks : at_once) * threads;
}

static uint64_t clock_ns(clockid_t clock)
{
        struct timespec ts;

        (void)clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Runs the kernel before returning and books its simulated time (cuda_timeline.c), which the
 * next synchronisation waits out. A fault
 * inside it (a stray address, an endless loop) does not fail the launch: as on a GPU it poisons
 * the context, and the next call that uses the context (cuCtxSynchronize, a copy) reports it.
 * Entries outside the runnable subset do nothing. */
CU_API CUresult cuLaunchKernel(CUfunction f, unsigned int grid_x, unsigned int grid_y,
                               unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                               unsigned int block_z, unsigned int shared_bytes, CUstream stream,
                               void **kernel_params, void **extra)
{
        const unsigned grid[3] = {grid_x, grid_y, grid_z}, block[3] = {block_x, block_y, block_z};
        struct cu_context *ctx;
        struct cu_device *device = NULL;
        unsigned char *params = NULL;
        unsigned long long duration_ns = 0, threads = 0, context_key = 0;
        uint64_t cycles = 0, launched_ns = clock_ns(CLOCK_MONOTONIC);
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        (void)pthread_mutex_lock(&cu_driver.lock);
        r = cu_current_context_locked(&ctx);
        if (r != CUDA_SUCCESS)
                goto out;
        if (!f || !cu_function_is_live_locked(f)) {
                r = CUDA_ERROR_INVALID_HANDLE;
                goto out;
        }
        if (f->module->ctx != ctx) {
                r = CUDA_ERROR_INVALID_CONTEXT;
                goto out;
        }
        if (stream && stream != CU_STREAM_LEGACY && stream != CU_STREAM_PER_THREAD) {
                r = CUDA_ERROR_INVALID_HANDLE; /* no cuStreamCreate in simgpu */
                goto out;
        }
        r = check_dimensions(grid, block, shared_bytes);
        if (r != CUDA_SUCCESS)
                goto out;
        params = calloc(f->entry->param_bytes + 1, 1);
        if (!params) {
                r = CUDA_ERROR_OUT_OF_MEMORY;
                goto out;
        }
        r = pack_params(f->entry, kernel_params, extra, params);
        if (r != CUDA_SUCCESS || !f->entry->runnable)
                goto out;
        device = &cu_driver.devices[ctx->device];
        {
                struct ptx_launch launch = {
                    .grid = {grid_x, grid_y, grid_z},
                    .block = {block_x, block_y, block_z},
                    .params = params,
                    .translate = translate,
                    .userdata = ctx,
                    .clock_start = launched_ns / 1000ull * device->clock_khz / 1000ull,
                    .globaltimer_start = clock_ns(CLOCK_REALTIME),
                    .clock_khz = device->clock_khz,
                };

                switch (ptx_execute(f->entry, &launch, &cycles)) {
                case PTX_FAULT_NONE:
                        kernel_time(device, grid, block, cycles, &duration_ns, &threads);
                        context_key = cu_driver.mps_fd >= 0 ? cu_driver.mps_server_pid
                                                            : (unsigned long long)getpid();
                        break;
                case PTX_FAULT_ADDRESS:
                        ctx->sticky_error = CUDA_ERROR_ILLEGAL_ADDRESS;
                        break;
                case PTX_FAULT_MISALIGNED:
                        ctx->sticky_error = CUDA_ERROR_MISALIGNED_ADDRESS;
                        break;
                case PTX_FAULT_TIMEOUT:
                        ctx->sticky_error = CUDA_ERROR_LAUNCH_TIMEOUT;
                        break;
                case PTX_FAULT_RESOURCES:
                        r = CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
                        break;
                }
        }
out:
        (void)pthread_mutex_unlock(&cu_driver.lock);
        free(params);
        if (r == CUDA_SUCCESS && duration_ns > 0)
                cu_timeline_book(device, context_key, threads, duration_ns, (long long)launched_ns);
        return r;
}
