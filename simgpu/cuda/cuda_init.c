/* cuInit and cuDriverGetVersion for simgpu's libcuda: loads the topology named by
 * SIMGPU_TOPOLOGY, picks the devices CUDA_VISIBLE_DEVICES lets this process see, as the real
 * driver enumerates them, and attaches to a simulated MPS control daemon when one is live. */
#include "cuda_sim.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "topology.h"

struct cu_driver cu_driver = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .mps_fd = -1,
    .mps_thread_percentage = 100.0,
};

/* Per-architecture attributes that the topology does not carry, chosen by the product name. */
struct architecture {
        const char *name_part;
        int cc_major, cc_minor;
        unsigned clock_mhz; /* top SM clock, where %clock64 ticks under load */
};

/* Longer names first: "A100" must not be taken for "A10". Clocks from NVIDIA's data sheets
 * (H100/H200 1980 MHz as simgpu's NVML answers, A100 1410, A30 1440). */
static const struct architecture architectures[] = {
    {"GH200", 9, 0, 1980},  {"H200", 9, 0, 1980},  {"H100", 9, 0, 1980}, {"H800", 9, 0, 1980},
    {"GB200", 10, 0, 1965}, {"B200", 10, 0, 1965}, {"A100", 8, 0, 1410}, {"A800", 8, 0, 1410},
    {"A30", 8, 0, 1440},    {"A40", 8, 6, 1740},   {"A10", 8, 6, 1695},  {"L40", 8, 9, 2490},
    {"L4", 8, 9, 2040},     {"V100", 7, 0, 1530},  {"T4", 7, 5, 1590},
};

static void parse_uuid_bytes(const char *text, unsigned char bytes[16])
{
        const char *s = strchr(text, '-'); /* after the "GPU-" or "MIG-" prefix */
        size_t n = 0;

        memset(bytes, 0, 16);
        for (s = s ? s + 1 : text; *s && n < 32; s++) {
                int v;

                if (*s == '-')
                        continue;
                if (!isxdigit((unsigned char)*s))
                        break;
                v = isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10;
                bytes[n / 2] |= (unsigned char)(n % 2 ? v : v << 4);
                n++;
        }
}

static void fill_device(struct cu_device *d, const struct sim_gpu *gpu,
                        const struct sim_mig_device *mig)
{
        unsigned long long mib = mig ? mig->memory_mib : gpu->memory_mib;

        memset(d, 0, sizeof(*d));
        if (mig)
                (void)snprintf(d->name, sizeof(d->name), "%s MIG %s", gpu->name, mig->profile);
        else
                (void)snprintf(d->name, sizeof(d->name), "%s", gpu->name);
        (void)snprintf(d->uuid_text, sizeof(d->uuid_text), "%s", mig ? mig->uuid : gpu->uuid);
        parse_uuid_bytes(d->uuid_text, d->uuid);
        parse_uuid_bytes(gpu->uuid, d->gpu_uuid);
        d->is_mig = mig != NULL;
        d->sm_count = mig ? mig->sm_count : gpu->sm_count;
        d->total_bytes = mib * 1024ull * 1024ull;
        d->compute_mode = gpu->compute_mode;
        if (sscanf(gpu->pci_bus_id, "%x:%x:%x", &d->pci_domain, &d->pci_bus, &d->pci_device) != 3)
                d->pci_domain = d->pci_bus = d->pci_device = 0;
        d->full_sm_count = d->sm_count;
        d->timeline_fd = -1;
        d->cc_major = 8;
        d->cc_minor = 0;
        d->clock_khz = 1410000;
        for (size_t i = 0; i < sizeof(architectures) / sizeof(architectures[0]); i++)
                if (strstr(gpu->name, architectures[i].name_part)) {
                        d->cc_major = architectures[i].cc_major;
                        d->cc_minor = architectures[i].cc_minor;
                        d->clock_khz = architectures[i].clock_mhz * 1000;
                        break;
                }
}

/* A UUID entry of CUDA_VISIBLE_DEVICES: the full UUID or a unique prefix of it ("GPU-8f8b"),
 * GPU- entries matching GPUs and MIG- entries MIG devices. The CUDA 11.0 form
 * MIG-GPU-<uuid>/<gi>/<ci> names a MIG device by its parent and instance ids. */
static bool find_uuid_entry(const struct sim_topology *topo, const char *entry,
                            const struct sim_gpu **ret_gpu, const struct sim_mig_device **ret_mig)
{
        const struct sim_gpu *found_gpu = NULL;
        const struct sim_mig_device *found_mig = NULL;
        size_t matches = 0, n = strlen(entry);
        unsigned gi, ci;
        char parent[SIM_UUID_MAX];

        if (strncmp(entry, "MIG-GPU-", 8) == 0) {
                if (sscanf(entry + 4, "%95[^/]/%u/%u", parent, &gi, &ci) != 3)
                        return false;
                for (size_t g = 0; g < topo->gpu_count; g++) {
                        const struct sim_gpu *gpu = &topo->gpus[g];

                        if (strcmp(gpu->uuid, parent) != 0)
                                continue;
                        for (size_t m = 0; m < gpu->mig_device_count; m++)
                                if (gpu->mig_devices[m].gpu_instance_id == gi &&
                                    gpu->mig_devices[m].compute_instance_id == ci) {
                                        *ret_gpu = gpu;
                                        *ret_mig = &gpu->mig_devices[m];
                                        return gpu->mig_current == 1;
                                }
                }
                return false;
        }
        for (size_t g = 0; g < topo->gpu_count; g++) {
                const struct sim_gpu *gpu = &topo->gpus[g];

                if (strncmp(gpu->uuid, entry, n) == 0) {
                        if (strlen(gpu->uuid) == n) {
                                *ret_gpu = gpu;
                                *ret_mig = NULL;
                                return true;
                        }
                        found_gpu = gpu;
                        found_mig = NULL;
                        matches++;
                }
                for (size_t m = 0; gpu->mig_current == 1 && m < gpu->mig_device_count; m++) {
                        const struct sim_mig_device *mig = &gpu->mig_devices[m];

                        if (strncmp(mig->uuid, entry, n) != 0)
                                continue;
                        if (strlen(mig->uuid) == n) {
                                *ret_gpu = gpu;
                                *ret_mig = mig;
                                return true;
                        }
                        found_gpu = gpu;
                        found_mig = mig;
                        matches++;
                }
        }
        if (matches != 1 || n < 5)
                return false;
        *ret_gpu = found_gpu;
        *ret_mig = found_mig;
        return true;
}

static bool usable_gpu(const struct sim_gpu *gpu)
{
        return !gpu->lost && gpu->mig_current == 0;
}

/* The real driver reads CUDA_VISIBLE_DEVICES left to right and stops at the first entry that
 * is invalid, unknown or repeated; the devices before it stay visible. A GPU in MIG mode is no
 * CUDA device itself, and a process enumerates at most one MIG device. */
static CUresult pick_devices(const struct sim_topology *topo, struct cu_device **ret, int *ret_n)
{
        const char *visible = getenv("CUDA_VISIBLE_DEVICES");
        struct cu_device *devices = calloc(topo->gpu_count * 8 + 1, sizeof(*devices));
        const void *seen[64];
        size_t seen_count = 0;
        bool have_mig = false;
        int n = 0;

        if (!devices)
                return CUDA_ERROR_OUT_OF_MEMORY;
        if (!visible) {
                for (size_t g = 0; g < topo->gpu_count; g++)
                        if (usable_gpu(&topo->gpus[g]))
                                fill_device(&devices[n++], &topo->gpus[g], NULL);
        } else {
                char list[4096], *save = NULL;

                (void)snprintf(list, sizeof(list), "%s", visible);
                for (char *entry = strtok_r(list, ",", &save); entry && seen_count < 64;
                     entry = strtok_r(NULL, ",", &save)) {
                        const struct sim_gpu *gpu = NULL;
                        const struct sim_mig_device *mig = NULL;
                        char *end;
                        bool ok;

                        while (isspace((unsigned char)*entry))
                                entry++;
                        end = entry + strlen(entry);
                        while (end > entry && isspace((unsigned char)end[-1]))
                                *--end = '\0';
                        if (*entry && strspn(entry, "0123456789") == strlen(entry)) {
                                unsigned long index = strtoul(entry, NULL, 10);

                                ok = index < topo->gpu_count && usable_gpu(&topo->gpus[index]);
                                gpu = ok ? &topo->gpus[index] : NULL;
                        } else {
                                ok = find_uuid_entry(topo, entry, &gpu, &mig) &&
                                     (mig || usable_gpu(gpu)) && !gpu->lost;
                        }
                        for (size_t i = 0; ok && i < seen_count; i++)
                                if (seen[i] == (mig ? (const void *)mig : (const void *)gpu))
                                        ok = false;
                        if (!ok || (mig && have_mig))
                                break;
                        seen[seen_count++] = mig ? (const void *)mig : (const void *)gpu;
                        have_mig |= mig != NULL;
                        fill_device(&devices[n++], gpu, mig);
                }
        }
        if (n == 0) {
                free(devices);
                return CUDA_ERROR_NO_DEVICE;
        }
        *ret = devices;
        *ret_n = n;
        return CUDA_SUCCESS;
}

static CUresult initialize(void)
{
        struct sim_topology *topo = NULL;
        struct cu_device *devices = NULL;
        char err[512];
        int count = 0;
        CUresult r;

        /* Without a readable topology or with the kernel driver "not loaded" the real library
         * finds no device node to open. */
        if (sim_topology_load_env(&topo, err, sizeof(err)) < 0)
                return CUDA_ERROR_NO_DEVICE;
        if (!topo->driver_loaded) {
                sim_topology_free(topo);
                return CUDA_ERROR_NO_DEVICE;
        }
        cu_driver.driver_version = topo->cuda_driver_version;
        r = pick_devices(topo, &devices, &count);
        sim_topology_free(topo);
        if (r != CUDA_SUCCESS)
                return r;
        r = cu_mps_attach(devices, count);
        if (r != CUDA_SUCCESS) {
                free(devices);
                return r;
        }
        cu_driver.devices = devices;
        cu_driver.device_count = count;
        return CUDA_SUCCESS;
}

CU_API CUresult cuInit(unsigned int flags)
{
        CUresult r;

        if (flags != 0)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        if (!cu_driver.init_done) {
                cu_driver.init_result = initialize();
                cu_driver.init_done = true;
        }
        r = cu_driver.init_result;
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

CUresult cu_check_init(void)
{
        CUresult r;

        (void)pthread_mutex_lock(&cu_driver.lock);
        if (cu_driver.init_result == CUDA_ERROR_DEINITIALIZED)
                r = CUDA_ERROR_DEINITIALIZED;
        else if (cu_driver.init_done && cu_driver.init_result == CUDA_SUCCESS)
                r = CUDA_SUCCESS;
        else
                r = CUDA_ERROR_NOT_INITIALIZED;
        (void)pthread_mutex_unlock(&cu_driver.lock);
        return r;
}

/* At exit or dlclose the driver tears down: what is left is freed, the daemon sees the client
 * leave, and later calls (from other destructors) answer DEINITIALIZED as the real one does. */
__attribute__((destructor)) static void deinitialize(void)
{
        (void)pthread_mutex_lock(&cu_driver.lock);
        while (cu_driver.allocs) {
                struct cu_alloc *alloc = cu_driver.allocs;

                cu_driver.allocs = alloc->next;
                (void)munmap((void *)(uintptr_t)alloc->base, alloc->size);
                free(alloc);
        }
        while (cu_driver.contexts) {
                struct cu_context *ctx = cu_driver.contexts;

                cu_driver.contexts = ctx->next;
                cu_modules_free_locked(ctx);
                free(ctx);
        }
        for (int i = 0; i < cu_driver.device_count; i++)
                if (cu_driver.devices[i].timeline_fd >= 0)
                        (void)close(cu_driver.devices[i].timeline_fd);
        free(cu_driver.devices);
        cu_driver.devices = NULL;
        cu_driver.device_count = 0;
        if (cu_driver.mps_fd >= 0)
                (void)close(cu_driver.mps_fd);
        cu_driver.mps_fd = -1;
        cu_driver.init_done = true;
        cu_driver.init_result = CUDA_ERROR_DEINITIALIZED;
        (void)pthread_mutex_unlock(&cu_driver.lock);
}

/* Answers without cuInit, as the real one does; the version is the topology's CUDA version
 * (13000 for driver 580). */
CU_API CUresult cuDriverGetVersion(int *version)
{
        struct sim_topology *topo = NULL;
        char err[512];
        int v;

        if (!version)
                return CUDA_ERROR_INVALID_VALUE;
        (void)pthread_mutex_lock(&cu_driver.lock);
        v = cu_driver.driver_version;
        (void)pthread_mutex_unlock(&cu_driver.lock);
        if (v == 0) {
                if (sim_topology_load_env(&topo, err, sizeof(err)) < 0)
                        return CUDA_ERROR_UNKNOWN;
                v = topo->cuda_driver_version;
                sim_topology_free(topo);
                (void)pthread_mutex_lock(&cu_driver.lock);
                cu_driver.driver_version = v;
                (void)pthread_mutex_unlock(&cu_driver.lock);
        }
        *version = v;
        return CUDA_SUCCESS;
}

int cu_parse_size(const char *text, unsigned long long *ret)
{
        unsigned long long value, unit = 1;
        char *end;

        if (!text || !isdigit((unsigned char)*text))
                return -EINVAL;
        errno = 0;
        value = strtoull(text, &end, 10);
        if (errno != 0)
                return -EINVAL;
        switch (toupper((unsigned char)*end)) {
        case '\0':
                break;
        case 'K':
                unit = 1ull << 10;
                break;
        case 'M':
                unit = 1ull << 20;
                break;
        case 'G':
                unit = 1ull << 30;
                break;
        case 'T':
                unit = 1ull << 40;
                break;
        default:
                return -EINVAL;
        }
        if (*end) {
                end++;
                if (toupper((unsigned char)*end) == 'B')
                        end++;
        }
        if (*end != '\0' || (value && unit > ~0ull / value))
                return -EINVAL;
        *ret = value * unit;
        return 0;
}
