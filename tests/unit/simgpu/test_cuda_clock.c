/* Tests simgpu's simulated time in-process (libcuda.so.1 loaded with dlopen): a kernel that waits
 * on %clock64 waits exactly the cycles asked, without iterating them, and takes their time at the
 * product's clock; a loop that counts is run iteration by iteration, not skipped; a wait that
 * never ends is an endless loop; %globaltimer follows the cycles; the clock rate attribute and
 * the marker that says timings are simulated. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUmodule, *CUfunction;

#define MIG0            "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0"
#define A30_CLOCK_KHZ   1440000
#define CLOCK_RATE_ATTR 13
#define LAUNCH_TIMEOUT  702

static void *lib;
static char state_dir[] = "/tmp/mpsmig-clock-test.XXXXXX";
#define FN(name, ...) static CUresult (*name)(__VA_ARGS__)
FN(cuInit, unsigned);
FN(cuDeviceGetAttribute, int *, int, int);
FN(cuCtxCreate_v2, CUcontext *, unsigned, int);
FN(cuCtxDestroy_v2, CUcontext);
FN(cuCtxSynchronize, void);
FN(cuMemAlloc_v2, CUdeviceptr *, size_t);
FN(cuMemFree_v2, CUdeviceptr);
FN(cuMemcpyDtoH_v2, void *, CUdeviceptr, size_t);
FN(cuModuleLoadData, CUmodule *, const void *);
FN(cuModuleGetFunction, CUfunction *, CUmodule, const char *);
FN(cuModuleUnload, CUmodule);
FN(cuLaunchKernel, CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
   void *, void **, void **);
static CUcontext ctx;

/* out[0] = cycles waited (>= n), out[1] = %globaltimer's advance meanwhile. */
static const char spin[] =
    ".version 7.0\n.target sm_50\n.address_size 64\n"
    ".visible .entry spin(.param .u64 out, .param .u64 n)\n{\n"
    "  .reg .pred %p<2>;\n  .reg .b64 %rd<10>;\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u64 %rd2, [n];\n"
    "  mov.u64 %rd3, %clock64;\n  mov.u64 %rd7, %globaltimer;\n"
    "LOOP:\n  mov.u64 %rd4, %clock64;\n  sub.s64 %rd5, %rd4, %rd3;\n"
    "  setp.lt.s64 %p1, %rd5, %rd2;\n  @%p1 bra LOOP;\n"
    "  mov.u64 %rd8, %globaltimer;\n  sub.s64 %rd9, %rd8, %rd7;\n"
    "  cvta.to.global.u64 %rd6, %rd1;\n  st.global.u64 [%rd6], %rd5;\n"
    "  st.global.u64 [%rd6+8], %rd9;\n  ret;\n}\n"
    /* counts to n while reading the clock: a register carried between iterations */
    ".visible .entry count(.param .u64 out, .param .u64 n)\n{\n"
    "  .reg .pred %p<2>;\n  .reg .b64 %rd<8>;\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u64 %rd2, [n];\n  mov.u64 %rd3, 0;\n"
    "LOOP:\n  mov.u64 %rd4, %clock64;\n  add.s64 %rd3, %rd3, 1;\n"
    "  setp.lt.u64 %p1, %rd3, %rd2;\n  @%p1 bra LOOP;\n"
    "  cvta.to.global.u64 %rd6, %rd1;\n  st.global.u64 [%rd6], %rd3;\n  ret;\n}\n"
    /* waits for a clock that goes backwards: never */
    ".visible .entry forever(.param .u64 out)\n{\n"
    "  .reg .pred %p<2>;\n  .reg .b64 %rd<6>;\n"
    "  mov.u64 %rd3, %clock64;\n"
    "LOOP:\n  mov.u64 %rd4, %clock64;\n  setp.ge.u64 %p1, %rd4, %rd3;\n  @%p1 bra LOOP;\n"
    "  ret;\n}\n";

static void *must_sym(const char *name)
{
        void *fn = dlsym(lib, name);
        if (!fn)
                fail_msg("libcuda.so.1 has no %s", name);
        return fn;
}

#define LOAD(name) (*(void **)&name = must_sym(#name))

static int setup(void **state)
{
        const char *build = getenv("MPSMIG_BUILD"), *source = getenv("MPSMIG_SOURCE");
        char path[4096];
        (void)state;
        if (!build || !source || !mkdtemp(state_dir))
                return -1;
        snprintf(path, sizeof(path), "%s/simgpu/topologies/a30-seed.json", source);
        setenv("SIMGPU_TOPOLOGY", path, 1);
        setenv("SIMGPU_STATE_DIR", state_dir, 1);
        setenv("CUDA_VISIBLE_DEVICES", MIG0, 1);
        setenv("CUDA_MPS_PIPE_DIRECTORY", "/nonexistent/mpsmig-test", 1);
        snprintf(path, sizeof(path), "%s/simgpu/lib/libcuda.so.1", build);
        lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!lib)
                return -1;
        LOAD(cuInit);
        LOAD(cuDeviceGetAttribute);
        LOAD(cuCtxCreate_v2);
        LOAD(cuCtxDestroy_v2);
        LOAD(cuCtxSynchronize);
        LOAD(cuMemAlloc_v2);
        LOAD(cuMemFree_v2);
        LOAD(cuMemcpyDtoH_v2);
        LOAD(cuModuleLoadData);
        LOAD(cuModuleGetFunction);
        LOAD(cuModuleUnload);
        LOAD(cuLaunchKernel);
        return 0;
}

static int teardown(void **state)
{
        char path[4096];
        (void)state;
        dlclose(lib);
        snprintf(path, sizeof(path), "%s/simgpu-timeline-%s", state_dir, MIG0);
        (void)unlink(path);
        return rmdir(state_dir);
}

static double seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Launches `name` once, 8 blocks of 128 threads, with (out, n); returns the launch's result and
 * the two values it stored. */
static CUresult run(const char *name, unsigned long long n, unsigned long long got[2])
{
        CUmodule module;
        CUfunction function;
        CUdeviceptr out;
        assert_int_equal(cuModuleLoadData(&module, spin), 0);
        assert_int_equal(cuModuleGetFunction(&function, module, name), 0);
        assert_int_equal(cuMemAlloc_v2(&out, 16), 0);
        void *params[] = {&out, &n};
        CUresult r = cuLaunchKernel(function, 8, 1, 1, 128, 1, 1, 0, NULL, params, NULL);
        if (r == 0)
                r = cuCtxSynchronize();
        if (r == 0)
                assert_int_equal(cuMemcpyDtoH_v2(got, out, 16), 0);
        (void)cuMemFree_v2(out);
        (void)cuModuleUnload(module);
        return r;
}

static void test_init(void **state)
{
        (void)state;
        int khz = 0;
        assert_int_equal(cuInit(0), 0);
        assert_int_equal(cuDeviceGetAttribute(&khz, CLOCK_RATE_ATTR, 0), 0);
        assert_int_equal(khz, A30_CLOCK_KHZ);
        assert_int_equal(cuCtxCreate_v2(&ctx, 0, 0), 0);
        const char *(*model)(void) = (const char *(*)(void))must_sym("simgpu_timing_model");
        assert_non_null(strstr(model(), "simulated"));
}

static void test_spin(void **state)
{
        (void)state;
        unsigned long long got[2] = {0}, n = 14400000; /* 10 ms at 1440 MHz */
        double begin = seconds();
        assert_int_equal(run("spin", n, got), 0);
        double took = seconds() - begin;
        /* the first iteration that reaches n: at most one loop's length (4 cycles) more */
        assert_true(got[0] >= n && got[0] < n + 4);
        /* %globaltimer advanced by the cycles at 1440 MHz: 10 ms, within a few nanoseconds */
        assert_true(got[1] >= 9999990 && got[1] <= 10000020);
        /* the launch took the kernel's simulated time, but not the CPU of 1.4e7 iterations */
        assert_true(took >= 0.0099);
        assert_true(took < 2.0);
}

static void test_counting_loop_not_skipped(void **state)
{
        (void)state;
        unsigned long long got[2] = {0};
        assert_int_equal(run("count", 1000, got), 0);
        assert_int_equal(got[0], 1000);
}

static void test_endless_wait(void **state)
{
        (void)state;
        unsigned long long got[2] = {0};
        assert_int_equal(run("forever", 0, got), LAUNCH_TIMEOUT);
        assert_int_equal(cuCtxDestroy_v2(ctx), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_init),
            cmocka_unit_test(test_spin),
            cmocka_unit_test(test_counting_loop_not_skipped),
            cmocka_unit_test(test_endless_wait),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
