/* NVML calls a monitoring client asks that mpsmig does not: identity (serial, VBIOS, compute
 * capability, PCI bus id lookup) derived from the product, and plausible idle readings. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nvml_sim.h"

typedef struct {
        unsigned int gpu;
        unsigned int memory;
} nvmlUtilization_t;

typedef struct {
        unsigned long long bar1Total;
        unsigned long long bar1Free;
        unsigned long long bar1Used;
} nvmlBAR1Memory_t;

_Static_assert(sizeof(nvmlUtilization_t) == 8, "nvmlUtilization_t layout");
_Static_assert(sizeof(nvmlBAR1Memory_t) == 24, "nvmlBAR1Memory_t layout");

/* What the product name implies: compute capability, PCIe generation, board power limit (mW),
 * top graphics, memory and video clocks (MHz), VBIOS version, board part number. The H200 row
 * is as read on the device machine (docs/hardware/2026-12-02/nvml-client-h200.txt); the others
 * are plausible (the H100 shares the H200's chip). Unknown names read as the H100. */
struct product {
        const char *name_part;
        int cc_major, cc_minor;
        unsigned pcie_gen;
        unsigned power_limit_mw;
        unsigned max_graphics_mhz, memory_mhz, max_video_mhz;
        const char *vbios;
        const char *part_number;
};

static const struct product products[] = {
    {"H200", 9, 0, 5, 700000, 1980, 3201, 1545, "96.00.A5.00.1A", "692-2G520-0282-001"},
    {"H100", 9, 0, 5, 700000, 1980, 2619, 1545, "96.00.74.00.0D", "692-2G520-0200-000"},
    {"A100", 8, 0, 4, 400000, 1410, 1593, 1275, "92.00.45.00.03", "692-2G506-0200-003"},
    {"A30", 8, 0, 4, 165000, 1440, 1215, 1305, "92.00.66.00.01", "699-2G529-0200-200"},
};

static const struct product *product_of(const struct sim_gpu *gpu)
{
        for (size_t i = 0; i < sizeof(products) / sizeof(products[0]); i++)
                if (strstr(gpu->name, products[i].name_part))
                        return &products[i];
        return &products[1];
}

static unsigned power_limit_of(const struct sim_gpu *gpu)
{
        return gpu->power_limit_mw ? gpu->power_limit_mw : product_of(gpu)->power_limit_mw;
}

NVML_API nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
        const struct nvml_state *s;
        char text[96];
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        /* "13.580.159.04": the CUDA major version, then the driver's (driver 580, CUDA 13.0) */
        snprintf(text, sizeof(text), "%d.%s", s->topology->cuda_driver_version / 1000,
                 s->topology->driver_version);
        return nvml_leave_with(nvml_copy_string(text, version, length));
}

/* A count this double always answers as 0. */
static nvmlReturn_t answer_none(unsigned int *count)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!count)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *count = 0;
        return nvml_leave_with(NVML_SUCCESS);
}

/* S-class units (the old Quadro Plex enclosures): none on any board this double models. */
NVML_API nvmlReturn_t nvmlUnitGetCount(unsigned int *count)
{
        return answer_none(count);
}

/* GPUs excluded by the kernel module's NVreg_ExcludedGpus: none. */
NVML_API nvmlReturn_t nvmlGetExcludedDeviceCount(unsigned int *count)
{
        return answer_none(count);
}

/* "00000000:17:00.0", "0000:17:00.0" and "17:00.0" name the same function; hex in any case. */
static int parse_bus_id(const char *text, unsigned *domain, unsigned *bus, unsigned *dev,
                        unsigned *fn)
{
        int end = 0;
        if (sscanf(text, "%x:%x:%x.%x%n", domain, bus, dev, fn, &end) == 4 && !text[end])
                return 0;
        *domain = 0;
        end = 0;
        if (sscanf(text, "%x:%x.%x%n", bus, dev, fn, &end) == 3 && !text[end])
                return 0;
        return -1;
}

/* An unknown bus id is INVALID_ARGUMENT on driver 580 (docs/driver-facts-mig-profiles.md). */
NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *bus_id, nvmlDevice_t *device)
{
        const struct nvml_state *s;
        unsigned want[4], have[4];
        nvmlReturn_t r = nvml_enter(&s);
        if (r != NVML_SUCCESS)
                return r;
        if (!bus_id || !device || parse_bus_id(bus_id, &want[0], &want[1], &want[2], &want[3]) < 0)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        for (size_t i = 0; i < s->topology->gpu_count; i++) {
                struct nvmlDevice_st *d = &s->devices[i];
                if (parse_bus_id(d->gpu->pci_bus_id, &have[0], &have[1], &have[2], &have[3]) < 0 ||
                    memcmp(want, have, sizeof(want)) != 0)
                        continue;
                if (d->gpu->lost)
                        return nvml_leave_with(NVML_ERROR_GPU_IS_LOST);
                *device = d;
                return nvml_leave_with(NVML_SUCCESS);
        }
        return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *bus_id, nvmlDevice_t *device)
{
        return nvmlDeviceGetHandleByPciBusId_v2(bus_id, device);
}

/* Enters for a call that reads the board: a MIG handle reads its parent GPU's. Locked only on
 * success, with *ret_gpu set. */
static nvmlReturn_t enter_board(nvmlDevice_t device, const void *out,
                                const struct sim_gpu **ret_gpu)
{
        const struct nvml_state *s;
        nvmlReturn_t r = nvml_enter_device(device, &s);
        if (r != NVML_SUCCESS)
                return r;
        if (!out)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *ret_gpu = device->gpu;
        return NVML_SUCCESS;
}

/* Whole GPUs only: per-board live readings that the driver does not split per MIG device. */
static nvmlReturn_t enter_whole(nvmlDevice_t device, const void *out,
                                const struct sim_gpu **ret_gpu)
{
        nvmlReturn_t r = enter_board(device, out, ret_gpu);
        if (r == NVML_SUCCESS && device->mig)
                return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
        return r;
}

NVML_API nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
        const struct sim_gpu *gpu = NULL;
        char text[32];
        nvmlReturn_t r = enter_board(device, serial, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        /* 13 digits like a real board's, distinct per GPU, unless the topology names one */
        if (gpu->serial[0])
                snprintf(text, sizeof(text), "%s", gpu->serial);
        else
                snprintf(text, sizeof(text), "165402%07u", 3000 + gpu->index);
        return nvml_leave_with(nvml_copy_string(text, serial, length));
}

NVML_API nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version,
                                                unsigned int length)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, version, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        const char *text = gpu->vbios_version[0] ? gpu->vbios_version : product_of(gpu)->vbios;
        return nvml_leave_with(nvml_copy_string(text, version, length));
}

NVML_API nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDevice_t device, char *part,
                                                   unsigned int length)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, part, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        return nvml_leave_with(nvml_copy_string(product_of(gpu)->part_number, part, length));
}

NVML_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major,
                                                         int *minor)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, major, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        if (!minor)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *major = product_of(gpu)->cc_major;
        *minor = product_of(gpu)->cc_minor;
        return nvml_leave_with(NVML_SUCCESS);
}

#define NVML_TEMPERATURE_GPU 0

NVML_API nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int *temp)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_whole(device, temp, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        if (sensor != NVML_TEMPERATURE_GPU)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *temp = gpu->temperature_c ? gpu->temperature_c : 32; /* idle, degrees C */
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_whole(device, power, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        /* idle: a tenth of the limit, mW, unless the topology says */
        *power = gpu->power_usage_mw ? gpu->power_usage_mw : power_limit_of(gpu) / 10;
        return nvml_leave_with(NVML_SUCCESS);
}

static nvmlReturn_t power_limit(nvmlDevice_t device, unsigned int *limit)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_whole(device, limit, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        *limit = power_limit_of(gpu);
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
        return power_limit(device, limit);
}

NVML_API nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device,
                                                               unsigned int *limit)
{
        return power_limit(device, limit);
}

NVML_API nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
        return power_limit(device, limit);
}

enum { NVML_CLOCK_GRAPHICS, NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_CLOCK_VIDEO, NVML_CLOCK_COUNT };

static nvmlReturn_t clock_of(nvmlDevice_t device, int type, unsigned int *clock, bool max)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_whole(device, clock, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        if (type < 0 || type >= NVML_CLOCK_COUNT)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        const struct product *p = product_of(gpu);
        /* idle: graphics and SM clocks parked low, memory at its only speed */
        unsigned graphics = max ? p->max_graphics_mhz : 345;
        unsigned values[NVML_CLOCK_COUNT] = {graphics, graphics, p->memory_mhz,
                                             max ? p->max_video_mhz : 765};
        *clock = values[type];
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
        return clock_of(device, type, clock, false);
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
        return clock_of(device, type, clock, true);
}

/* ECC is on on every data-centre board this double models. */
NVML_API nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current,
                                           nvmlEnableState_t *pending)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, current, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        if (!pending)
                return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
        *current = *pending = 1;
        return nvml_leave_with(NVML_SUCCESS);
}

/* nvml.h: not supported on MIG devices. */
NVML_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                    nvmlUtilization_t *utilization)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_whole(device, utilization, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        *utilization = (nvmlUtilization_t){0, 0};
        return nvml_leave_with(NVML_SUCCESS);
}

/* BAR1 spans the next power of two above the memory (H100 80 GB: 128 GiB, H200: 256 GiB); the
 * driver holds 1.625 MiB of it on an idle H200. */
NVML_API nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t device, nvmlBAR1Memory_t *bar1)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, bar1, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        unsigned long long total = 256;
        while (total < gpu->memory_mib)
                total *= 2;
        bar1->bar1Total = total * MIB;
        bar1->bar1Used = 1703936;
        bar1->bar1Free = bar1->bar1Total - bar1->bar1Used;
        return nvml_leave_with(NVML_SUCCESS);
}

static nvmlReturn_t pcie(nvmlDevice_t device, unsigned int *value, bool generation)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, value, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        *value = generation ? product_of(gpu)->pcie_gen : 16;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *gen)
{
        return pcie(device, gen, true);
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *gen)
{
        return pcie(device, gen, true);
}

NVML_API nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *width)
{
        return pcie(device, width, false);
}

NVML_API nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int *width)
{
        return pcie(device, width, false);
}

/* SXM boards have no fans of their own (driver 580 on the H200: 0 fans). */
NVML_API nvmlReturn_t nvmlDeviceGetNumFans(nvmlDevice_t device, unsigned int *fans)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, fans, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        *fans = 0;
        return nvml_leave_with(NVML_SUCCESS);
}

NVML_API nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)
{
        const struct sim_gpu *gpu = NULL;
        nvmlReturn_t r = enter_board(device, speed, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        return nvml_leave_with(NVML_ERROR_NOT_SUPPORTED);
}

/* Every fan index is past the last of 0 fans: INVALID_ARGUMENT, as 580 answers. */
NVML_API nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned int fan,
                                               unsigned int *speed)
{
        const struct sim_gpu *gpu = NULL;
        (void)fan;
        nvmlReturn_t r = enter_board(device, speed, &gpu);
        if (r != NVML_SUCCESS)
                return r;
        return nvml_leave_with(NVML_ERROR_INVALID_ARGUMENT);
}
