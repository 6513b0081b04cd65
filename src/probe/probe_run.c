/* What mpsmig-probe does on each device: reads its name, UUID, SM count and memory, creates a
 * context, runs a kernel from embedded PTX that adds 1 to each element of an array and checks
 * the result on the host, and tries the one allocation --alloc asks for. */
#include "probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* PTX ISA 7.0 for sm_50: any driver since CUDA 11.0 JITs it for any GPU from Maxwell on.
 * out[i] += 1 for i < n, one thread per element. */
static const char add_one_ptx[] = ".version 7.0\n"
                                  ".target sm_50\n"
                                  ".address_size 64\n"
                                  "\n"
                                  ".visible .entry mpsmig_add_one(\n"
                                  "\t.param .u64 mpsmig_add_one_param_0,\n"
                                  "\t.param .u32 mpsmig_add_one_param_1\n"
                                  ")\n"
                                  "{\n"
                                  "\t.reg .pred \t%p<2>;\n"
                                  "\t.reg .b32 \t%r<7>;\n"
                                  "\t.reg .b64 \t%rd<5>;\n"
                                  "\n"
                                  "\tld.param.u64 \t%rd1, [mpsmig_add_one_param_0];\n"
                                  "\tld.param.u32 \t%r2, [mpsmig_add_one_param_1];\n"
                                  "\tmov.u32 \t%r3, %ctaid.x;\n"
                                  "\tmov.u32 \t%r4, %ntid.x;\n"
                                  "\tmov.u32 \t%r5, %tid.x;\n"
                                  "\tmad.lo.s32 \t%r1, %r3, %r4, %r5;\n"
                                  "\tsetp.ge.u32 \t%p1, %r1, %r2;\n"
                                  "\t@%p1 bra \t$L__BB0_2;\n"
                                  "\tcvta.to.global.u64 \t%rd2, %rd1;\n"
                                  "\tmul.wide.u32 \t%rd3, %r1, 4;\n"
                                  "\tadd.s64 \t%rd4, %rd2, %rd3;\n"
                                  "\tld.global.u32 \t%r6, [%rd4];\n"
                                  "\tadd.s32 \t%r6, %r6, 1;\n"
                                  "\tst.global.u32 \t[%rd4], %r6;\n"
                                  "$L__BB0_2:\n"
                                  "\tret;\n"
                                  "}\n";

#define KERNEL_NAME "mpsmig_add_one"
/* Not a multiple of the block size, so the bounds check in the kernel matters. */
#define KERNEL_ELEMENTS 1000u
#define KERNEL_BLOCK    128u

/* CUjit_option values for the JIT's error log. */
#define CU_JIT_ERROR_LOG_BUFFER            5
#define CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6

/* Records the first failure; later ones only follow from it. */
bool probe_failed_call(const struct cuda_api *api, struct probe_report *report, enum cuda_call call,
                       CUresult r, const char *detail)
{
        char text[512];

        if (r == CUDA_SUCCESS)
                return false;
        if (!report->failed) {
                cuda_describe(api, r, text, sizeof(text));
                (void)snprintf(report->error, sizeof(report->error), "%s failed: %s%s%s",
                               api->names[call], text, detail && *detail ? "\n" : "",
                               detail ? detail : "");
        }
        report->failed = true;
        return true;
}

static void format_uuid(const CUuuid *uuid, bool mig, char *buf, size_t size)
{
        const unsigned char *b = uuid->bytes;

        (void)snprintf(buf, size,
                       "%s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                       mig ? "MIG" : "GPU", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
                       b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static bool query_device(const struct cuda_api *api, struct probe_report *report,
                         struct probe_device *d)
{
        CUdevice dev;
        CUuuid uuid;
        size_t bytes = 0;

        if (probe_failed_call(api, report, CALL_DEVICE_GET, api->device_get(&dev, d->ordinal),
                              NULL) ||
            probe_failed_call(api, report, CALL_DEVICE_GET_NAME,
                              api->device_get_name(d->name, (int)sizeof(d->name), dev), NULL) ||
            probe_failed_call(api, report, CALL_DEVICE_GET_UUID, api->device_get_uuid(&uuid, dev),
                              NULL) ||
            probe_failed_call(api, report, CALL_DEVICE_GET_ATTRIBUTE,
                              api->device_get_attribute(
                                  &d->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev),
                              NULL) ||
            probe_failed_call(api, report, CALL_DEVICE_TOTAL_MEM,
                              api->device_total_mem(&bytes, dev), NULL))
                return false;
        /* a MIG device is named "<GPU> MIG <profile>"; its UUID prints as nvidia-smi -L shows */
        format_uuid(&uuid, strstr(d->name, " MIG ") != NULL, d->uuid, sizeof(d->uuid));
        d->total_memory = bytes;
        d->queried = true;
        return !probe_failed_call(api, report, CALL_CTX_CREATE,
                                  api->ctx_create(&d->context, 0, dev), NULL);
}

/* Copies the array in, runs the kernel, copies it back and checks every element. */
static bool run_kernel_on(const struct cuda_api *api, struct probe_report *report,
                          struct probe_device *d, CUfunction function, unsigned *host)
{
        unsigned n = KERNEL_ELEMENTS;
        CUdeviceptr buffer = 0;
        void *params[] = {&buffer, &n};
        bool ok;

        for (unsigned i = 0; i < n; i++)
                host[i] = i * 3u;
        if (probe_failed_call(api, report, CALL_MEM_ALLOC,
                              api->mem_alloc(&buffer, n * sizeof(*host)), NULL))
                return false;
        ok = !probe_failed_call(api, report, CALL_MEMCPY_HTOD,
                                api->memcpy_htod(buffer, host, n * sizeof(*host)), NULL) &&
             !probe_failed_call(api, report, CALL_LAUNCH_KERNEL,
                                api->launch_kernel(function, (n + KERNEL_BLOCK - 1) / KERNEL_BLOCK,
                                                   1, 1, KERNEL_BLOCK, 1, 1, 0, NULL, params, NULL),
                                NULL) &&
             !probe_failed_call(api, report, CALL_CTX_SYNCHRONIZE, api->ctx_synchronize(), NULL) &&
             !probe_failed_call(api, report, CALL_MEMCPY_DTOH,
                                api->memcpy_dtoh(host, buffer, n * sizeof(*host)), NULL);
        (void)probe_failed_call(api, report, CALL_MEM_FREE, api->mem_free(buffer), NULL);
        if (!ok || report->failed)
                return false;
        if (report->first_kernel_done == 0)
                report->first_kernel_done = probe_now();
        d->kernel = "ok";
        for (unsigned i = 0; i < n; i++)
                if (host[i] != i * 3u + 1u) {
                        d->kernel = "wrong";
                        (void)snprintf(report->error, sizeof(report->error),
                                       "the kernel gave wrong results on device %d: element %u "
                                       "is %u, expected %u",
                                       d->ordinal, i, host[i], i * 3u + 1u);
                        report->failed = true;
                        return false;
                }
        return true;
}

static bool run_kernel(const struct cuda_api *api, struct probe_report *report,
                       struct probe_device *d)
{
        char jit_log[4096] = "";
        int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
        void *values[] = {jit_log, (void *)(size_t)sizeof(jit_log)};
        CUmodule module = NULL;
        CUfunction function = NULL;
        unsigned *host;
        bool ok;

        if (probe_failed_call(api, report, CALL_MODULE_LOAD_DATA_EX,
                              api->module_load_data_ex(&module, add_one_ptx, 2, options, values),
                              jit_log))
                return false;
        host = calloc(KERNEL_ELEMENTS, sizeof(*host));
        ok = host &&
             !probe_failed_call(api, report, CALL_MODULE_GET_FUNCTION,
                                api->module_get_function(&function, module, KERNEL_NAME), NULL) &&
             run_kernel_on(api, report, d, function, host);
        if (!host && !report->failed) {
                (void)snprintf(report->error, sizeof(report->error), "out of host memory");
                report->failed = true;
        }
        free(host);
        (void)probe_failed_call(api, report, CALL_MODULE_UNLOAD, api->module_unload(module), NULL);
        return ok && !report->failed;
}

/* The one allocation --alloc asks for: OUT_OF_MEMORY is a refusal (a limit at work), any other
 * error a failure. */
static void try_alloc(const struct cuda_api *api, const struct probe_options *options,
                      struct probe_report *report, struct probe_device *d)
{
        CUdeviceptr ptr = 0;
        CUresult r = api->mem_alloc(&ptr, (size_t)options->alloc_bytes);

        d->alloc_tried = true;
        if (r == CUDA_SUCCESS) {
                d->alloc_result = "ok";
                (void)probe_failed_call(api, report, CALL_MEM_FREE, api->mem_free(ptr), NULL);
                return;
        }
        d->alloc_result = cuda_error_name(api, r);
        if (r == CUDA_ERROR_OUT_OF_MEMORY)
                report->alloc_refused = true;
        else
                (void)probe_failed_call(api, report, CALL_MEM_ALLOC, r, NULL);
}

void probe_run(const struct cuda_api *api, const struct probe_options *options,
               struct probe_report *report)
{
        int first, last;

        report->pid = (int)getpid();
        report->driver_version = -1; /* -1: not read */
        report->device_count = -1;
        report->timings_simulated = api->simgpu_timing_model != NULL;
        report->init_begin = probe_now();
        if (probe_failed_call(api, report, CALL_DRIVER_GET_VERSION,
                              api->driver_get_version(&report->driver_version), NULL) ||
            probe_failed_call(api, report, CALL_INIT, api->init(0), NULL) ||
            probe_failed_call(api, report, CALL_DEVICE_GET_COUNT,
                              api->device_get_count(&report->device_count), NULL))
                return;
        first = options->device >= 0 ? options->device : 0;
        last = options->device >= 0 ? options->device : report->device_count - 1;
        if (last < first)
                return;
        report->devices = calloc((size_t)(last - first + 1), sizeof(*report->devices));
        if (!report->devices) {
                (void)snprintf(report->error, sizeof(report->error), "out of host memory");
                report->failed = true;
                return;
        }
        for (int ordinal = first; ordinal <= last && !report->failed; ordinal++) {
                struct probe_device *d = &report->devices[report->probed++];

                d->ordinal = ordinal;
                if (!query_device(api, report, d) || !run_kernel(api, report, d))
                        break;
                /* the work runs once, on the first device probed, while its context is current */
                if (options->work_kernels && !report->work.done &&
                    !probe_run_work(api, options, report, d))
                        break;
                if (options->alloc)
                        try_alloc(api, options, report, d);
        }
}

double probe_now(void)
{
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void probe_release(const struct cuda_api *api, struct probe_report *report)
{
        for (size_t i = 0; i < report->probed; i++) {
                struct probe_device *d = &report->devices[i];

                if (d->context)
                        (void)probe_failed_call(api, report, CALL_CTX_DESTROY,
                                                api->ctx_destroy(d->context), NULL);
                d->context = NULL;
        }
        free(report->devices);
        report->devices = NULL;
        report->probed = 0;
}
