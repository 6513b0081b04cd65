/* Tests simgpu's libcuda.so.1 in-process, loaded with dlopen as a real client loads the driver:
 * result codes and their names, cuGetProcAddress, devices and UUIDs, contexts, memory, PTX
 * loading with the JIT's error log, and kernels run by the PTX interpreter (results and faults). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUmodule, *CUfunction;

static void *lib;
#define FN(name, ...) static CUresult (*name)(__VA_ARGS__)
FN(cuInit, unsigned);
FN(cuDriverGetVersion, int *);
FN(cuGetErrorName, CUresult, const char **);
FN(cuGetErrorString, CUresult, const char **);
FN(cuGetProcAddress_v2, const char *, void **, int, unsigned long long, int *);
FN(cuGetProcAddress, const char *, void **, int, unsigned long long);
FN(cuDeviceGetCount, int *);
FN(cuDeviceGetName, char *, int, int);
FN(cuDeviceGetUuid, unsigned char *, int);
FN(cuDeviceGetUuid_v2, unsigned char *, int);
FN(cuDeviceGetAttribute, int *, int, int);
FN(cuDeviceTotalMem_v2, size_t *, int);
FN(cuCtxCreate_v2, CUcontext *, unsigned, int);
FN(cuCtxDestroy_v2, CUcontext);
FN(cuCtxGetCurrent, CUcontext *);
FN(cuCtxPushCurrent_v2, CUcontext);
FN(cuCtxPopCurrent_v2, CUcontext *);
FN(cuCtxSynchronize, void);
FN(cuMemAlloc_v2, CUdeviceptr *, size_t);
FN(cuMemFree_v2, CUdeviceptr);
FN(cuMemcpyHtoD_v2, CUdeviceptr, const void *, size_t);
FN(cuMemcpyDtoH_v2, void *, CUdeviceptr, size_t);
FN(cuModuleLoadData, CUmodule *, const void *);
FN(cuModuleLoadDataEx, CUmodule *, const void *, unsigned, int *, void **);
FN(cuModuleGetFunction, CUfunction *, CUmodule, const char *);
FN(cuModuleUnload, CUmodule);
FN(cuLaunchKernel, CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
   void *, void **, void **);

#define MIG0 "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0"
#define GPU1 "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38"

static const char add_one[] =
    ".version 7.0\n.target sm_50\n.address_size 64\n"
    ".visible .entry add_one(.param .u64 p, .param .u32 n)\n{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<7>;\n  .reg .b64 %rd<5>;\n"
    "  ld.param.u64 %rd1, [p];\n  ld.param.u32 %r2, [n];\n"
    "  mov.u32 %r3, %ctaid.x;\n  mov.u32 %r4, %ntid.x;\n  mov.u32 %r5, %tid.x;\n"
    "  mad.lo.s32 %r1, %r3, %r4, %r5;\n  setp.ge.u32 %p1, %r1, %r2;\n  @%p1 bra DONE;\n"
    "  cvta.to.global.u64 %rd2, %rd1;\n  mul.wide.u32 %rd3, %r1, 4;\n"
    "  add.s64 %rd4, %rd2, %rd3;\n  ld.global.u32 %r6, [%rd4];\n"
    "  add.s32 %r6, %r6, 1;\n  st.global.u32 [%rd4], %r6;\n"
    "DONE:\n  ret;\n}\n";

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

        if (!build || !source)
                return -1;
        snprintf(path, sizeof(path), "%s/simgpu/topologies/a30-seed.json", source);
        setenv("SIMGPU_TOPOLOGY", path, 1);
        setenv("CUDA_VISIBLE_DEVICES", MIG0 "," GPU1, 1);
        setenv("CUDA_MPS_PIPE_DIRECTORY", "/nonexistent/mpsmig-test", 1);
        snprintf(path, sizeof(path), "%s/simgpu/lib/libcuda.so.1", build);
        lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!lib)
                return -1;
        LOAD(cuInit);
        LOAD(cuDriverGetVersion);
        LOAD(cuGetErrorName);
        LOAD(cuGetErrorString);
        LOAD(cuGetProcAddress_v2);
        LOAD(cuGetProcAddress);
        LOAD(cuDeviceGetCount);
        LOAD(cuDeviceGetName);
        LOAD(cuDeviceGetUuid);
        LOAD(cuDeviceGetUuid_v2);
        LOAD(cuDeviceGetAttribute);
        LOAD(cuDeviceTotalMem_v2);
        LOAD(cuCtxCreate_v2);
        LOAD(cuCtxDestroy_v2);
        LOAD(cuCtxGetCurrent);
        LOAD(cuCtxPushCurrent_v2);
        LOAD(cuCtxPopCurrent_v2);
        LOAD(cuCtxSynchronize);
        LOAD(cuMemAlloc_v2);
        LOAD(cuMemFree_v2);
        LOAD(cuMemcpyHtoD_v2);
        LOAD(cuMemcpyDtoH_v2);
        LOAD(cuModuleLoadData);
        LOAD(cuModuleLoadDataEx);
        LOAD(cuModuleGetFunction);
        LOAD(cuModuleUnload);
        LOAD(cuLaunchKernel);
        return 0;
}

static int teardown(void **state)
{
        dlclose(lib);
        return 0;
}

/* Runs first: what works before cuInit, and what does not. */
static void test_before_init(void **state)
{
        const char *s = NULL;
        int n = -1, version = 0;

        assert_int_equal(cuDeviceGetCount(&n), 3); /* NOT_INITIALIZED */
        assert_int_equal(cuDriverGetVersion(&version), 0);
        assert_int_equal(version, 12030);
        assert_int_equal(cuGetErrorName(2, &s), 0);
        assert_string_equal(s, "CUDA_ERROR_OUT_OF_MEMORY");
        assert_int_equal(cuGetErrorString(218, &s), 0);
        assert_string_equal(s, "a PTX JIT compilation failed");
        assert_int_equal(cuGetErrorString(100, &s), 0);
        assert_string_equal(s, "no CUDA-capable device is detected");
        assert_int_equal(cuGetErrorName(12345, &s), 1);
        assert_null(s);
        assert_int_equal(cuInit(1), 1);
        assert_int_equal(cuInit(0), 0);
        assert_int_equal(cuInit(0), 0);
        assert_int_equal(cuDeviceGetCount(&n), 0);
        assert_int_equal(n, 2);
}

static void test_proc_address(void **state)
{
        void *fn = NULL;
        int status = -1;

        assert_int_equal(cuGetProcAddress_v2("cuMemAlloc", &fn, 12000, 0, &status), 0);
        assert_int_equal(status, 0);
        assert_ptr_equal(fn, must_sym("cuMemAlloc_v2"));
        assert_int_equal(cuGetProcAddress_v2("cuDeviceGetUuid", &fn, 11000, 0, NULL), 0);
        assert_ptr_equal(fn, must_sym("cuDeviceGetUuid"));
        assert_int_equal(cuGetProcAddress_v2("cuDeviceGetUuid", &fn, 12000, 0, NULL), 0);
        assert_ptr_equal(fn, must_sym("cuDeviceGetUuid_v2"));
        assert_int_equal(cuGetProcAddress_v2("cuCtxCreate", &fn, 13000, 0, NULL), 0);
        assert_ptr_equal(fn, must_sym("cuCtxCreate_v4"));
        assert_int_equal(cuGetProcAddress_v2("cuGetProcAddress", &fn, 12000, 0, NULL), 0);
        assert_ptr_equal(fn, must_sym("cuGetProcAddress_v2"));
        assert_int_equal(cuGetProcAddress_v2("cuNoSuchThing", &fn, 13000, 0, &status), 500);
        assert_int_equal(status, 1);
        assert_null(fn);
        assert_int_equal(cuGetProcAddress_v2("cuLaunchKernel", &fn, 3020, 0, &status), 500);
        assert_int_equal(status, 2);
        assert_int_equal(cuGetProcAddress_v2("cuInit", &fn, 13000, 8, NULL), 1);
        assert_int_equal(cuGetProcAddress("cuInit", &fn, 11030, 0), 0);
        assert_ptr_equal(fn, must_sym("cuInit"));
        /* the plain names share the _v2 entry points */
        assert_ptr_equal(must_sym("cuMemAlloc"), must_sym("cuMemAlloc_v2"));
}

static void test_devices(void **state)
{
        static const unsigned char mig[16] = {0x22, 0xf0, 0xc0, 0x5f, 0x5c, 0xf2, 0x5e, 0xa2,
                                              0x82, 0x97, 0x78, 0x96, 0x95, 0x65, 0x6d, 0xc0};
        static const unsigned char parent[16] = {0x8f, 0x8b, 0xff, 0x94, 0x11, 0x2e, 0x95, 0x41,
                                                 0x43, 0xda, 0xcf, 0xd4, 0x53, 0x33, 0x34, 0x04};
        unsigned char uuid[16];
        char name[64];
        size_t bytes = 0;
        int v = 0;

        assert_int_equal(cuDeviceGetName(name, sizeof(name), 0), 0);
        assert_string_equal(name, "NVIDIA A30 MIG 1c.2g.12gb");
        assert_int_equal(cuDeviceGetName(name, 7, 1), 0);
        assert_string_equal(name, "NVIDIA");
        assert_int_equal(cuDeviceGetUuid_v2(uuid, 0), 0);
        assert_memory_equal(uuid, mig, 16);
        assert_int_equal(cuDeviceGetUuid(uuid, 0), 0);
        assert_memory_equal(uuid, parent, 16);
        assert_int_equal(cuDeviceGetAttribute(&v, 16, 0), 0);
        assert_int_equal(v, 14);
        assert_int_equal(cuDeviceGetAttribute(&v, 16, 1), 0);
        assert_int_equal(v, 56);
        assert_int_equal(cuDeviceGetAttribute(&v, 75, 0), 0);
        assert_int_equal(v, 8);
        assert_int_equal(cuDeviceGetAttribute(&v, 10, 0), 0);
        assert_int_equal(v, 32);
        assert_int_equal(cuDeviceGetAttribute(&v, 33, 1), 0);
        assert_int_equal(v, 0x65);
        assert_int_equal(cuDeviceGetAttribute(&v, 9999, 0), 1);
        assert_int_equal(cuDeviceGetAttribute(&v, 16, 2), 101);
        assert_int_equal(cuDeviceTotalMem_v2(&bytes, 0), 0);
        assert_int_equal(bytes, 11968ull << 20);
}

static void test_contexts_and_memory(void **state)
{
        CUcontext a = NULL, b = NULL, current = NULL;
        CUdeviceptr p = 0;
        char buf[16] = "0123456789abcde", back[16];

        assert_int_equal(cuMemAlloc_v2(&p, 16), 201); /* INVALID_CONTEXT */
        assert_int_equal(cuCtxCreate_v2(&a, 0, 0), 0);
        assert_int_equal(cuCtxCreate_v2(&b, 0x100, 0), 1);
        assert_int_equal(cuCtxCreate_v2(&b, 0, 5), 101);
        assert_int_equal(cuCtxGetCurrent(&current), 0);
        assert_ptr_equal(current, a);
        assert_int_equal(cuMemAlloc_v2(&p, 0), 1);
        assert_int_equal(cuMemAlloc_v2(&p, 12ull << 30), 2); /* more than the 11968 MiB */
        assert_int_equal(cuMemAlloc_v2(&p, 16), 0);
        assert_int_equal(cuMemcpyHtoD_v2(p, buf, 16), 0);
        assert_int_equal(cuMemcpyHtoD_v2(p + 8, buf, 16), 1); /* past the allocation */
        assert_int_equal(cuMemcpyDtoH_v2(back, p, 16), 0);
        assert_memory_equal(back, buf, 16);
        assert_int_equal(cuMemFree_v2(p + 1), 1);
        assert_int_equal(cuMemFree_v2(p), 0);
        assert_int_equal(cuMemFree_v2(p), 1);

        assert_int_equal(cuCtxCreate_v2(&b, 0, 1), 0);
        assert_int_equal(cuCtxPopCurrent_v2(&current), 0);
        assert_ptr_equal(current, b);
        assert_int_equal(cuCtxGetCurrent(&current), 0);
        assert_ptr_equal(current, a);
        assert_int_equal(cuCtxPushCurrent_v2(b), 0);
        assert_int_equal(cuCtxDestroy_v2(b), 0);
        assert_int_equal(cuCtxDestroy_v2(b), 201);
        assert_int_equal(cuCtxGetCurrent(&current), 0);
        assert_ptr_equal(current, a);
        /* allocations die with their context */
        assert_int_equal(cuMemAlloc_v2(&p, 11ull << 30), 0);
        assert_int_equal(cuCtxDestroy_v2(a), 0);
        assert_int_equal(cuCtxGetCurrent(&current), 0);
        assert_null(current);
        assert_int_equal(cuCtxCreate_v2(&a, 0, 0), 0);
        assert_int_equal(cuMemAlloc_v2(&p, 11ull << 30), 0);
        assert_int_equal(cuCtxDestroy_v2(a), 0);
}

/* Loads PTX and returns the CUresult; the JIT error log in `log`. */
static CUresult load(const char *ptx, CUmodule *module, char *log, size_t size)
{
        int options[] = {5, 6};
        void *values[] = {log, (void *)size};

        log[0] = '\0';
        return cuModuleLoadDataEx(module, ptx, 2, options, values);
}

static void test_ptx_loading(void **state)
{
        CUcontext ctx = NULL;
        CUmodule module = NULL;
        CUfunction f = NULL;
        char log[1024], ptx[2048];

        assert_int_equal(cuModuleLoadData(&module, add_one), 201);
        assert_int_equal(cuCtxCreate_v2(&ctx, 0, 0), 0);
        assert_int_equal(load(add_one, &module, log, sizeof(log)), 0);
        assert_string_equal(log, "");
        assert_int_equal(cuModuleGetFunction(&f, module, "add_one"), 0);
        assert_int_equal(cuModuleGetFunction(&f, module, "nope"), 500);
        assert_int_equal(cuModuleUnload(module), 0);
        assert_int_equal(cuModuleUnload(module), 400);

        assert_int_equal(load(add_one + strlen(".version 7.0\n"), &module, log, sizeof(log)), 218);
        assert_non_null(strstr(log, "Missing .version"));
        snprintf(ptx, sizeof(ptx), "%s", add_one);
        memcpy(strstr(ptx, "%r6, %r6, 1"), "%r9", 3);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 218);
        assert_non_null(strstr(log, "line 21; error   : Unknown symbol '%r9'"));
        snprintf(ptx, sizeof(ptx), "%s", add_one);
        memcpy(strstr(ptx, "bra DONE"), "bra NOPE", 8);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 218);
        assert_non_null(strstr(log, "Unknown symbol 'NOPE'"));
        snprintf(ptx, sizeof(ptx), "%s", add_one);
        memcpy(strstr(ptx, "mad.lo"), "mda.lo", 6);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 218);
        assert_non_null(strstr(log, "Unknown instruction 'mda.lo.s32'"));
        snprintf(ptx, sizeof(ptx), "%s", add_one);
        memcpy(strstr(ptx, "ld.param.u64 %rd1"), "ld.param.u64 %r1 ", 17);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 218);
        assert_non_null(strstr(log, "Arguments mismatch"));
        /* the driver of CUDA 12.3 JITs PTX up to ISA 8.3 */
        snprintf(ptx, sizeof(ptx), "%s", add_one);
        memcpy(ptx, ".version 8.4", 12);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 222);
        memcpy(ptx, ".version 8.3", 12);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 0);
        assert_int_equal(cuModuleUnload(module), 0);
        /* sm_90 on the A30 (sm_80) */
        snprintf(ptx, sizeof(ptx), "%s", add_one);
        memcpy(strstr(ptx, ".version 7.0"), ".version 7.8", 12);
        memcpy(strstr(ptx, "sm_50"), "sm_90", 5);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 218);
        assert_int_equal(cuModuleLoadData(&module, "\177ELF\2\1\1"), 200);
        assert_int_equal(cuCtxDestroy_v2(ctx), 0);
}

/* Runs add_one over n elements of an allocation of `elements` ints; returns the sync result. */
static CUresult run_add_one(CUfunction f, unsigned elements, unsigned n, unsigned *host)
{
        CUdeviceptr p = 0;
        void *params[] = {&p, &n};
        CUresult r;

        for (unsigned i = 0; i < elements; i++)
                host[i] = i * 7;
        assert_int_equal(cuMemAlloc_v2(&p, elements * 4), 0);
        assert_int_equal(cuMemcpyHtoD_v2(p, host, elements * 4), 0);
        assert_int_equal(cuLaunchKernel(f, (n + 63) / 64, 1, 1, 64, 1, 1, 0, NULL, params, NULL),
                         0);
        r = cuCtxSynchronize();
        if (r == 0)
                assert_int_equal(cuMemcpyDtoH_v2(host, p, elements * 4), 0);
        else
                assert_int_equal(cuMemcpyDtoH_v2(host, p, elements * 4), r); /* sticky */
        return r;
}

static void test_launches(void **state)
{
        CUcontext ctx = NULL;
        CUmodule module = NULL;
        CUfunction f = NULL;
        unsigned host[300];
        CUdeviceptr p = 0;
        unsigned n = 4;
        void *params[] = {&p, &n};
        char log[512], buf[16];
        size_t size = 12;
        void *extra[] = {(void *)1, buf, (void *)2, &size, (void *)0};

        assert_int_equal(cuCtxCreate_v2(&ctx, 0, 0), 0);
        assert_int_equal(load(add_one, &module, log, sizeof(log)), 0);
        assert_int_equal(cuModuleGetFunction(&f, module, "add_one"), 0);
        assert_int_equal(run_add_one(f, 300, 300, host), 0);
        for (unsigned i = 0; i < 300; i++)
                assert_int_equal(host[i], i * 7 + 1);
        assert_int_equal(run_add_one(f, 300, 250, host), 0);
        assert_int_equal(host[249], 249 * 7 + 1);
        assert_int_equal(host[250], 250 * 7);

        assert_int_equal(cuLaunchKernel(f, 0, 1, 1, 64, 1, 1, 0, NULL, params, NULL), 1);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, NULL, params, NULL), 1);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 32, 32, 2, 0, NULL, params, NULL), 1);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 65536, NULL, params, NULL), 1);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, NULL, NULL, NULL), 1);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, (void *)0x1234, params, NULL),
                         400);
        assert_int_equal(cuLaunchKernel((CUfunction)host, 1, 1, 1, 64, 1, 1, 0, NULL, params, NULL),
                         400);
        /* the parameter buffer form: n = 0, so nothing is touched */
        memset(buf, 0, sizeof(buf));
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, NULL, NULL, extra), 0);
        assert_int_equal(cuCtxSynchronize(), 0);

        /* a stray address poisons the context: the launch succeeds, synchronize reports it */
        assert_int_equal(run_add_one(f, 100, 200, host), 700);
        assert_int_equal(cuCtxSynchronize(), 700);
        assert_int_equal(cuCtxDestroy_v2(ctx), 0);
}

static void test_faults_and_subset(void **state)
{
        static const char spin[] =
            ".version 7.0\n.target sm_50\n.address_size 64\n"
            ".visible .entry spin()\n{\nLOOP:\n  bra.uni LOOP;\n}\n"
            ".visible .entry barrier(.param .u64 p)\n{\n  .reg .b64 %rd<2>;\n"
            "  .reg .b32 %r<2>;\n  ld.param.u64 %rd1, [p];\n  bar.sync 0;\n"
            "  mov.u32 %r1, 5;\n  st.global.u32 [%rd1], %r1;\n  ret;\n}\n"
            ".visible .entry misaligned(.param .u64 p)\n{\n  .reg .b64 %rd<3>;\n"
            "  .reg .b32 %r<2>;\n  ld.param.u64 %rd1, [p];\n  add.s64 %rd2, %rd1, 2;\n"
            "  ld.global.u32 %r1, [%rd2];\n  ret;\n}\n";
        CUcontext ctx = NULL;
        CUmodule module = NULL;
        CUfunction f = NULL;
        CUdeviceptr p = 0;
        void *params[] = {&p};
        unsigned value = 1;
        char log[512];

        assert_int_equal(cuCtxCreate_v2(&ctx, 0, 1), 0);
        assert_int_equal(load(spin, &module, log, sizeof(log)), 0);
        assert_int_equal(cuMemAlloc_v2(&p, 16), 0);
        assert_int_equal(cuMemcpyHtoD_v2(p, &value, 4), 0);
        /* outside the runnable subset (a barrier): the launch does nothing */
        assert_int_equal(cuModuleGetFunction(&f, module, "barrier"), 0);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL), 0);
        assert_int_equal(cuCtxSynchronize(), 0);
        assert_int_equal(cuMemcpyDtoH_v2(&value, p, 4), 0);
        assert_int_equal(value, 1);
        assert_int_equal(cuModuleGetFunction(&f, module, "misaligned"), 0);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL), 0);
        assert_int_equal(cuCtxSynchronize(), 716);
        assert_int_equal(cuCtxDestroy_v2(ctx), 0);

        assert_int_equal(cuCtxCreate_v2(&ctx, 0, 1), 0);
        assert_int_equal(load(spin, &module, log, sizeof(log)), 0);
        assert_int_equal(cuModuleGetFunction(&f, module, "spin"), 0);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL), 0);
        assert_int_equal(cuCtxSynchronize(), 702);
        assert_int_equal(cuCtxDestroy_v2(ctx), 0);
}

/* One thread computes many results of the integer and float subset into out[]. */
static void test_arithmetic(void **state)
{
        static const char ptx[] =
            ".version 7.0\n.target sm_50\n.address_size 64\n"
            ".visible .entry math(.param .u64 out, .param .f32 x, .param .s32 k)\n{\n"
            "  .reg .pred %p<3>;\n  .reg .b32 %r<20>;\n  .reg .f32 %f<6>;\n"
            "  .reg .b64 %rd<4>;\n  .reg .f64 %fd<3>;\n"
            "  ld.param.u64 %rd1, [out];\n  ld.param.f32 %f1, [x];\n"
            "  ld.param.s32 %r1, [k];\n"
            "  div.s32 %r2, %r1, 4;\n  st.global.u32 [%rd1], %r2;\n"
            "  rem.s32 %r3, %r1, 4;\n  st.global.u32 [%rd1+4], %r3;\n"
            "  shr.s32 %r4, %r1, 1;\n  st.global.u32 [%rd1+8], %r4;\n"
            "  shr.u32 %r5, %r1, 28;\n  st.global.u32 [%rd1+12], %r5;\n"
            "  abs.s32 %r6, %r1;\n  min.s32 %r7, %r6, 5;\n  st.global.u32 [%rd1+16], %r7;\n"
            "  max.u32 %r8, %r1, 5;\n  st.global.u32 [%rd1+20], %r8;\n"
            "  fma.rn.f32 %f2, %f1, 0f40000000, 0f3F000000;\n"
            "  cvt.rni.s32.f32 %r9, %f2;\n  st.global.u32 [%rd1+24], %r9;\n"
            "  cvt.rzi.s32.f32 %r10, %f2;\n  st.global.u32 [%rd1+28], %r10;\n"
            "  setp.lt.f32 %p1, %f1, 0f00000000;\n  selp.b32 %r11, 111, 222, %p1;\n"
            "  st.global.u32 [%rd1+32], %r11;\n"
            "  xor.b32 %r12, %r1, -1;\n  st.global.u32 [%rd1+36], %r12;\n"
            "  mul.hi.s32 %r13, %r1, 1073741824;\n  st.global.u32 [%rd1+40], %r13;\n"
            "  cvt.f64.f32 %fd1, %f1;\n  mul.f64 %fd2, %fd1, 0d4008000000000000;\n"
            "  cvt.rzi.s32.f64 %r14, %fd2;\n  st.global.u32 [%rd1+44], %r14;\n"
            "  cvt.u8.u32 %r15, 511;\n  st.global.u32 [%rd1+48], %r15;\n"
            "  cvt.rzi.u32.f32 %r16, 0fC2C80000;\n  st.global.u32 [%rd1+52], %r16;\n"
            "  ret;\n}\n";
        CUcontext ctx = NULL;
        CUmodule module = NULL;
        CUfunction f = NULL;
        CUdeviceptr out = 0;
        float x = -3.125f;
        int k = -13;
        void *params[] = {&out, &x, &k};
        int got[14];
        char log[512];
        const int expected[14] = {-3, -1, -7, 15, 5, -13, -6, -5, 111, 12, -4, -9, 255, 0};

        assert_int_equal(cuCtxCreate_v2(&ctx, 0, 1), 0);
        assert_int_equal(load(ptx, &module, log, sizeof(log)), 0);
        assert_string_equal(log, "");
        assert_int_equal(cuModuleGetFunction(&f, module, "math"), 0);
        assert_int_equal(cuMemAlloc_v2(&out, sizeof(got)), 0);
        assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL), 0);
        assert_int_equal(cuCtxSynchronize(), 0);
        assert_int_equal(cuMemcpyDtoH_v2(got, out, sizeof(got)), 0);
        for (int i = 0; i < 14; i++)
                if (got[i] != expected[i])
                        fail_msg("out[%d] = %d, expected %d", i, got[i], expected[i]);
        assert_int_equal(cuCtxDestroy_v2(ctx), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_before_init),       cmocka_unit_test(test_proc_address),
            cmocka_unit_test(test_devices),           cmocka_unit_test(test_contexts_and_memory),
            cmocka_unit_test(test_ptx_loading),       cmocka_unit_test(test_launches),
            cmocka_unit_test(test_faults_and_subset), cmocka_unit_test(test_arithmetic),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
