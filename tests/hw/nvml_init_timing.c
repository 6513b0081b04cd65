/* Times what mpsmig's start pays for NVML on a real node: dlopen, nvmlInit_v2 versus
 * nvmlInitWithFlags(NO_ATTACH), and the first device queries after each. Read-only.
 * Build: cc -O2 -o nvml_init_timing tests/hw/nvml_init_timing.c -ldl
 * Usage: nvml_init_timing plain|noattach */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct nvml_device *nvml_device;

static double now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
        int noattach = argc > 1 && strcmp(argv[1], "noattach") == 0;
        double t0 = now_ms();
        void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
        if (!lib) {
                fprintf(stderr, "%s\n", dlerror());
                return 2;
        }
        int (*init)(void) = (int (*)(void))dlsym(lib, "nvmlInit_v2");
        int (*init_flags)(unsigned) = (int (*)(unsigned))dlsym(lib, "nvmlInitWithFlags");
        int (*count)(unsigned *) = (int (*)(unsigned *))dlsym(lib, "nvmlDeviceGetCount_v2");
        int (*by_index)(unsigned, nvml_device *) =
            (int (*)(unsigned, nvml_device *))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
        int (*uuid)(nvml_device, char *, unsigned) =
            (int (*)(nvml_device, char *, unsigned))dlsym(lib, "nvmlDeviceGetUUID");
        int (*mig)(nvml_device, unsigned *, unsigned *) =
            (int (*)(nvml_device, unsigned *, unsigned *))dlsym(lib, "nvmlDeviceGetMigMode");
        int (*shutdown)(void) = (int (*)(void))dlsym(lib, "nvmlShutdown");
        double t1 = now_ms();
        int r = noattach ? init_flags(2) : init();
        double t2 = now_ms();
        unsigned n = 0;
        int rc = count(&n);
        nvml_device device = NULL;
        int rh = n ? by_index(0, &device) : -1;
        char text[96] = "";
        int ru = device ? uuid(device, text, sizeof(text)) : -1;
        unsigned current = 9, pending = 9;
        int rm = device ? mig(device, &current, &pending) : -1;
        double t3 = now_ms();
        shutdown();
        double t4 = now_ms();
        printf("%s: dlopen %.2f ms, init %.2f ms (r=%d), queries %.2f ms (count r=%d n=%u, handle "
               "r=%d, uuid r=%d %s, mig r=%d %u/%u), shutdown %.2f ms\n",
               noattach ? "noattach" : "plain", t1 - t0, t2 - t1, r, t3 - t2, rc, n, rh, ru, text,
               rm, current, pending, t4 - t3);
        return 0;
}
