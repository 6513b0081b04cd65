/* Contexts and device memory of simgpu's libcuda: a per-thread stack of current contexts as in
 * the real driver, allocations bounded by the device's memory and by the MPS pinned-memory limit,
 * and copies between host and device with the real argument checks. */
#include "cuda_sim.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* CUctx_flags: scheduling (0x07), MAP_HOST, LMEM_RESIZE_TO_MAX, COREDUMP, USER_COREDUMP,
 * SYNC_MEMOPS. */
#define CU_CTX_FLAGS_MASK         0xffu
#define CU_COMPUTEMODE_PROHIBITED 2
#define CONTEXT_STACK_MAX         64

static __thread struct cu_context *context_stack[CONTEXT_STACK_MAX];
static __thread int context_depth;

bool cu_context_is_live_locked(const struct cu_context *ctx)
{
        for (const struct cu_context *c = cu_driver.contexts; c; c = c->next)
                if (c == ctx)
                        return true;
        return false;
}

CUresult cu_current_context_locked(struct cu_context **ret)
{
        struct cu_context *ctx;

        if (context_depth == 0)
                return CUDA_ERROR_INVALID_CONTEXT;
        ctx = context_stack[context_depth - 1];
        if (!cu_context_is_live_locked(ctx))
                return CUDA_ERROR_CONTEXT_IS_DESTROYED;
        if (ctx->sticky_error != CUDA_SUCCESS)
                return ctx->sticky_error;
        *ret = ctx;
        return CUDA_SUCCESS;
}

struct cu_alloc *cu_alloc_find_locked(const struct cu_context *ctx, CUdeviceptr ptr, size_t size)
{
        for (struct cu_alloc *a = cu_driver.allocs; a; a = a->next) {
                if (ctx && a->ctx != ctx)
                        continue;
                if (ptr >= a->base && ptr - a->base <= a->size && size <= a->size - (ptr - a->base))
                        return a;
        }
        return NULL;
}

CU_API CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
        struct cu_device *d;
        struct cu_context *ctx;
        CUresult r;

        if (!pctx || (flags & ~CU_CTX_FLAGS_MASK))
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_get_device(dev, &d);
        if (r != CUDA_SUCCESS)
                return r;
        if (d->compute_mode == CU_COMPUTEMODE_PROHIBITED)
                return CUDA_ERROR_DEVICE_UNAVAILABLE;
        if (context_depth == CONTEXT_STACK_MAX)
                return CUDA_ERROR_OUT_OF_MEMORY;
        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return CUDA_ERROR_OUT_OF_MEMORY;
        ctx->device = dev;
        (void)pthread_mutex_lock(&cu_driver.lock);
        ctx->next = cu_driver.contexts;
        cu_driver.contexts = ctx;
        (void)pthread_mutex_unlock(&cu_driver.lock);
        context_stack[context_depth++] = ctx;
        *pctx = ctx;
        return CUDA_SUCCESS;
}

CU_API CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
    __attribute__((alias("cuCtxCreate_v2")));

CU_API CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
                               CUdevice dev)
{
        if (params && (params->exec_affinity_param_count > 0 || params->cig_params))
                return CUDA_ERROR_NOT_SUPPORTED;
        return cuCtxCreate_v2(pctx, flags, dev);
}

static void forget_on_this_thread(const struct cu_context *ctx)
{
        int kept = 0;

        for (int i = 0; i < context_depth; i++)
                if (context_stack[i] != ctx)
                        context_stack[kept++] = context_stack[i];
        context_depth = kept;
}

CU_API CUresult cuCtxDestroy_v2(CUcontext ctx)
{
        struct cu_context **link;
        struct cu_alloc **a;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!ctx)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        for (link = &cu_driver.contexts; *link && *link != ctx; link = &(*link)->next)
                ;
        if (!*link) {
                (void)pthread_mutex_unlock(&cu_driver.lock);
                return CUDA_ERROR_INVALID_CONTEXT;
        }
        {
                struct cu_device *device = &cu_driver.devices[ctx->device];

                (void)pthread_mutex_unlock(&cu_driver.lock);
                cu_timeline_drain(device);
                (void)pthread_mutex_lock(&cu_driver.lock);
        }
        for (link = &cu_driver.contexts; *link && *link != ctx; link = &(*link)->next)
                ;
        if (!*link) {
                (void)pthread_mutex_unlock(&cu_driver.lock);
                return CUDA_ERROR_INVALID_CONTEXT;
        }
        *link = ctx->next;
        for (a = &cu_driver.allocs; *a;) {
                struct cu_alloc *alloc = *a;

                if (alloc->ctx != ctx) {
                        a = &alloc->next;
                        continue;
                }
                *a = alloc->next;
                cu_driver.devices[ctx->device].allocated -= alloc->size;
                (void)munmap((void *)(uintptr_t)alloc->base, alloc->size);
                free(alloc);
        }
        cu_modules_free_locked(ctx);
        (void)pthread_mutex_unlock(&cu_driver.lock);
        forget_on_this_thread(ctx);
        free(ctx);
        return CUDA_SUCCESS;
}

CU_API CUresult cuCtxDestroy(CUcontext ctx) __attribute__((alias("cuCtxDestroy_v2")));

CU_API CUresult cuCtxGetCurrent(CUcontext *pctx)
{
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!pctx)
                return CUDA_ERROR_INVALID_VALUE;
        *pctx = context_depth ? context_stack[context_depth - 1] : NULL;
        return CUDA_SUCCESS;
}

static CUresult check_live(CUcontext ctx)
{
        bool live;

        (void)pthread_mutex_lock(&cu_driver.lock);
        live = cu_context_is_live_locked(ctx);
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return live ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

/* Replaces the top of the stack; NULL pops it. */
CU_API CUresult cuCtxSetCurrent(CUcontext ctx)
{
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!ctx) {
                if (context_depth > 0)
                        context_depth--;
                return CUDA_SUCCESS;
        }
        r = check_live(ctx);
        if (r != CUDA_SUCCESS)
                return r;
        if (context_depth == 0)
                context_depth = 1;
        context_stack[context_depth - 1] = ctx;
        return CUDA_SUCCESS;
}

CU_API CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!ctx)
                return CUDA_ERROR_INVALID_VALUE;
        r = check_live(ctx);
        if (r != CUDA_SUCCESS)
                return r;
        if (context_depth == CONTEXT_STACK_MAX)
                return CUDA_ERROR_OUT_OF_MEMORY;
        context_stack[context_depth++] = ctx;
        return CUDA_SUCCESS;
}

CU_API CUresult cuCtxPushCurrent(CUcontext ctx) __attribute__((alias("cuCtxPushCurrent_v2")));

CU_API CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (context_depth == 0)
                return CUDA_ERROR_INVALID_CONTEXT;
        context_depth--;
        if (pctx)
                *pctx = context_stack[context_depth];
        return CUDA_SUCCESS;
}

CU_API CUresult cuCtxPopCurrent(CUcontext *pctx) __attribute__((alias("cuCtxPopCurrent_v2")));

CU_API CUresult cuCtxGetDevice(CUdevice *device)
{
        struct cu_context *ctx;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!device)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        r = cu_current_context_locked(&ctx);
        if (r == CUDA_SUCCESS)
                *device = ctx->device;
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

/* The current context's device, to wait for its booked kernels (NULL when there is no context).
 * Lock held. */
static struct cu_device *current_device_locked(void)
{
        struct cu_context *ctx;

        return cu_current_context_locked(&ctx) == CUDA_SUCCESS ? &cu_driver.devices[ctx->device]
                                                               : NULL;
}

/* Kernels run at launch: synchronizing waits out their simulated time and reports what a kernel
 * left behind. */
CU_API CUresult cuCtxSynchronize(void)
{
        struct cu_context *ctx;
        struct cu_device *device = NULL;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        (void)pthread_mutex_lock(&cu_driver.lock);
        r = cu_current_context_locked(&ctx);
        if (r == CUDA_SUCCESS)
                device = &cu_driver.devices[ctx->device];
        (void)pthread_mutex_unlock(&cu_driver.lock);
        if (device)
                cu_timeline_drain(device);
        return r;
}

/* Fails with OUT_OF_MEMORY once this process's allocations on the device would pass the device's
 * memory or the effective MPS pinned-memory limit. */
CU_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
        struct cu_context *ctx;
        struct cu_device *d;
        struct cu_alloc *alloc;
        unsigned long long limit;
        void *mapping;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!dptr || bytesize == 0)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        r = cu_current_context_locked(&ctx);
        if (r != CUDA_SUCCESS)
                goto out;
        d = &cu_driver.devices[ctx->device];
        limit = d->total_bytes;
        if (d->pinned_limit && d->pinned_limit < limit)
                limit = d->pinned_limit;
        if (d->allocated > limit || bytesize > limit - d->allocated) {
                r = CUDA_ERROR_OUT_OF_MEMORY;
                goto out;
        }
        alloc = calloc(1, sizeof(*alloc));
        /* NORESERVE: untouched pages cost nothing, so a simulated 3 GiB buffer is cheap */
        mapping = alloc ? mmap(NULL, bytesize, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                        : MAP_FAILED;
        if (mapping == MAP_FAILED) {
                free(alloc);
                r = CUDA_ERROR_OUT_OF_MEMORY;
                goto out;
        }
        alloc->base = (CUdeviceptr)(uintptr_t)mapping;
        alloc->size = bytesize;
        alloc->ctx = ctx;
        alloc->next = cu_driver.allocs;
        cu_driver.allocs = alloc;
        d->allocated += bytesize;
        *dptr = alloc->base;
out:
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

CU_API CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytesize)
    __attribute__((alias("cuMemAlloc_v2")));

CU_API CUresult cuMemFree_v2(CUdeviceptr dptr)
{
        struct cu_context *ctx;
        struct cu_device *device;
        struct cu_alloc **a;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        (void)pthread_mutex_lock(&cu_driver.lock);
        device = current_device_locked();
        (void)pthread_mutex_unlock(&cu_driver.lock);
        if (device)
                cu_timeline_drain(device);
        (void)pthread_mutex_lock(&cu_driver.lock);
        r = cu_current_context_locked(&ctx);
        if (r != CUDA_SUCCESS || dptr == 0)
                goto out;
        for (a = &cu_driver.allocs; *a && (*a)->base != dptr; a = &(*a)->next)
                ;
        if (!*a) {
                r = CUDA_ERROR_INVALID_VALUE;
                goto out;
        }
        {
                struct cu_alloc *alloc = *a;

                *a = alloc->next;
                cu_driver.devices[alloc->ctx->device].allocated -= alloc->size;
                (void)munmap((void *)(uintptr_t)alloc->base, alloc->size);
                free(alloc);
        }
out:
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

CU_API CUresult cuMemFree(CUdeviceptr dptr) __attribute__((alias("cuMemFree_v2")));

/* Finds the host address of a device range for a copy; INVALID_VALUE when it is not inside one
 * allocation. */
static CUresult copy_target(CUdeviceptr device, size_t bytes, void **ret_host)
{
        struct cu_context *ctx;
        struct cu_alloc *alloc;
        CUresult r = cu_current_context_locked(&ctx);

        if (r != CUDA_SUCCESS || bytes == 0)
                return r;
        alloc = cu_alloc_find_locked(NULL, device, bytes);
        if (!alloc)
                return CUDA_ERROR_INVALID_VALUE;
        *ret_host = (void *)(uintptr_t)device;
        return CUDA_SUCCESS;
}

CU_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes)
{
        struct cu_device *device;
        void *host = NULL;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!src && bytes > 0)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        device = current_device_locked();
        (void)pthread_mutex_unlock(&cu_driver.lock);
        if (device)
                cu_timeline_drain(device);
        (void)pthread_mutex_lock(&cu_driver.lock);
        r = copy_target(dst, bytes, &host);
        if (r == CUDA_SUCCESS && bytes > 0)
                memcpy(host, src, bytes);
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

CU_API CUresult cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes)
    __attribute__((alias("cuMemcpyHtoD_v2")));

CU_API CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes)
{
        struct cu_device *device;
        void *host = NULL;
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (!dst && bytes > 0)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        device = current_device_locked();
        (void)pthread_mutex_unlock(&cu_driver.lock);
        if (device)
                cu_timeline_drain(device);
        (void)pthread_mutex_lock(&cu_driver.lock);
        r = copy_target(src, bytes, &host);
        if (r == CUDA_SUCCESS && bytes > 0)
                memcpy(dst, host, bytes);
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

CU_API CUresult cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t bytes)
    __attribute__((alias("cuMemcpyDtoH_v2")));
