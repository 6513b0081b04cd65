/* mpsmig-probe --work: a fixed amount of GPU work that keeps few SMs busy for a known time, so
 * that clients sharing a device through MPS finish together while time-sliced ones queue: KERNELS
 * launches of 8 blocks of 128 threads, each thread waiting --spin cycles on %clock64, timed from
 * the first launch to the synchronisation after the last. */
#include "probe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* PTX ISA 7.0 for sm_50 (any driver since CUDA 11.0 JITs it for any GPU from Maxwell on). Every
 * thread waits until %clock64 has advanced by `cycles`; thread 0 of each block stores how many
 * cycles it waited into out[block], so that the loop has an effect the JIT must keep and the host
 * can check. */
static const char spin_ptx[] = ".version 7.0\n"
                               ".target sm_50\n"
                               ".address_size 64\n"
                               "\n"
                               ".visible .entry mpsmig_spin(\n"
                               "\t.param .u64 mpsmig_spin_param_0,\n"
                               "\t.param .u64 mpsmig_spin_param_1\n"
                               ")\n"
                               "{\n"
                               "\t.reg .pred \t%p<3>;\n"
                               "\t.reg .b32 \t%r<3>;\n"
                               "\t.reg .b64 \t%rd<9>;\n"
                               "\n"
                               "\tld.param.u64 \t%rd1, [mpsmig_spin_param_0];\n"
                               "\tld.param.u64 \t%rd2, [mpsmig_spin_param_1];\n"
                               "\tmov.u64 \t%rd3, %clock64;\n"
                               "$L__BB0_1:\n"
                               "\tmov.u64 \t%rd4, %clock64;\n"
                               "\tsub.s64 \t%rd5, %rd4, %rd3;\n"
                               "\tsetp.lt.s64 \t%p1, %rd5, %rd2;\n"
                               "\t@%p1 bra \t$L__BB0_1;\n"
                               "\tmov.u32 \t%r1, %tid.x;\n"
                               "\tsetp.ne.s32 \t%p2, %r1, 0;\n"
                               "\t@%p2 bra \t$L__BB0_3;\n"
                               "\tcvta.to.global.u64 \t%rd6, %rd1;\n"
                               "\tmov.u32 \t%r2, %ctaid.x;\n"
                               "\tmul.wide.u32 \t%rd7, %r2, 8;\n"
                               "\tadd.s64 \t%rd8, %rd6, %rd7;\n"
                               "\tst.global.u64 \t[%rd8], %rd5;\n"
                               "$L__BB0_3:\n"
                               "\tret;\n"
                               "}\n";

#define SPIN_KERNEL_NAME "mpsmig_spin"

/* CUjit_option values for the JIT's error log. */
#define CU_JIT_ERROR_LOG_BUFFER            5
#define CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6

/* Sleeps until `at` (CLOCK_MONOTONIC seconds), through signals. */
static void wait_until(double at)
{
        struct timespec deadline = {.tv_sec = (time_t)at,
                                    .tv_nsec = (long)((at - (double)(time_t)at) * 1e9)};

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
                ;
}

/* Launches the kernels, synchronises, copies the blocks' counts back into `waited`. */
static bool launch_all(const struct cuda_api *api, const struct probe_options *options,
                       struct probe_report *report, CUfunction function, CUdeviceptr out,
                       unsigned long long waited[PROBE_WORK_BLOCKS])
{
        unsigned long long cycles = options->spin_cycles;
        void *params[] = {&out, &cycles};

        if (options->start_at >= 0) {
                double now = probe_now();

                if (now < options->start_at)
                        wait_until(options->start_at);
                else
                        report->work.late = now - options->start_at;
        }
        report->work.begin = probe_now();
        for (unsigned k = 0; k < options->work_kernels; k++)
                if (probe_failed_call(api, report, CALL_LAUNCH_KERNEL,
                                      api->launch_kernel(function, PROBE_WORK_BLOCKS, 1, 1,
                                                         PROBE_WORK_THREADS, 1, 1, 0, NULL, params,
                                                         NULL),
                                      NULL))
                        return false;
        if (probe_failed_call(api, report, CALL_CTX_SYNCHRONIZE, api->ctx_synchronize(), NULL))
                return false;
        report->work.end = probe_now();
        return !probe_failed_call(
            api, report, CALL_MEMCPY_DTOH,
            api->memcpy_dtoh(waited, out, PROBE_WORK_BLOCKS * sizeof(waited[0])), NULL);
}

bool probe_run_work(const struct cuda_api *api, const struct probe_options *options,
                    struct probe_report *report, struct probe_device *d)
{
        char jit_log[4096] = "";
        int jit_options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
        void *jit_values[] = {jit_log, (void *)(size_t)sizeof(jit_log)};
        unsigned long long waited[PROBE_WORK_BLOCKS] = {0};
        CUmodule module = NULL;
        CUfunction function = NULL;
        CUdeviceptr out = 0;
        bool ok;

        if (probe_failed_call(
                api, report, CALL_MODULE_LOAD_DATA_EX,
                api->module_load_data_ex(&module, spin_ptx, 2, jit_options, jit_values), jit_log))
                return false;
        ok = !probe_failed_call(api, report, CALL_MODULE_GET_FUNCTION,
                                api->module_get_function(&function, module, SPIN_KERNEL_NAME),
                                NULL) &&
             !probe_failed_call(api, report, CALL_MEM_ALLOC, api->mem_alloc(&out, sizeof(waited)),
                                NULL);
        if (ok) {
                ok = !probe_failed_call(api, report, CALL_MEMCPY_HTOD,
                                        api->memcpy_htod(out, waited, sizeof(waited)), NULL) &&
                     launch_all(api, options, report, function, out, waited);
                (void)probe_failed_call(api, report, CALL_MEM_FREE, api->mem_free(out), NULL);
        }
        (void)probe_failed_call(api, report, CALL_MODULE_UNLOAD, api->module_unload(module), NULL);
        if (!ok || report->failed)
                return false;
        report->work.done = true;
        report->work.fewest_cycles = waited[0];
        for (unsigned b = 1; b < PROBE_WORK_BLOCKS; b++)
                if (waited[b] < report->work.fewest_cycles)
                        report->work.fewest_cycles = waited[b];
        if (report->work.fewest_cycles < options->spin_cycles) {
                d->kernel = "wrong";
                (void)snprintf(report->error, sizeof(report->error),
                               "the work kernel on device %d waited %llu cycles in one block, "
                               "fewer than the %llu asked",
                               d->ordinal, report->work.fewest_cycles, options->spin_cycles);
                report->failed = true;
                return false;
        }
        return true;
}
