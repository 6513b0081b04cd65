/* Device queries of simgpu's libcuda: count, handles, names, UUIDs, memory and the common
 * attributes, answered from the devices cuInit chose (their SM count already reduced by an MPS
 * active thread percentage). */
#include "cuda_sim.h"

#include <stdio.h>
#include <string.h>

/* CUdevice_attribute values, as in cuda.h. */
enum {
        ATTR_MAX_THREADS_PER_BLOCK = 1,
        ATTR_MAX_BLOCK_DIM_X = 2,
        ATTR_MAX_BLOCK_DIM_Y = 3,
        ATTR_MAX_BLOCK_DIM_Z = 4,
        ATTR_MAX_GRID_DIM_X = 5,
        ATTR_MAX_GRID_DIM_Y = 6,
        ATTR_MAX_GRID_DIM_Z = 7,
        ATTR_MAX_SHARED_MEMORY_PER_BLOCK = 8,
        ATTR_TOTAL_CONSTANT_MEMORY = 9,
        ATTR_WARP_SIZE = 10,
        ATTR_MAX_REGISTERS_PER_BLOCK = 12,
        ATTR_CLOCK_RATE = 13,
        ATTR_MULTIPROCESSOR_COUNT = 16,
        ATTR_KERNEL_EXEC_TIMEOUT = 17,
        ATTR_INTEGRATED = 18,
        ATTR_CAN_MAP_HOST_MEMORY = 19,
        ATTR_COMPUTE_MODE = 20,
        ATTR_CONCURRENT_KERNELS = 31,
        ATTR_ECC_ENABLED = 32,
        ATTR_PCI_BUS_ID = 33,
        ATTR_PCI_DEVICE_ID = 34,
        ATTR_TCC_DRIVER = 35,
        ATTR_MAX_THREADS_PER_MULTIPROCESSOR = 39,
        ATTR_UNIFIED_ADDRESSING = 41,
        ATTR_PCI_DOMAIN_ID = 50,
        ATTR_COMPUTE_CAPABILITY_MAJOR = 75,
        ATTR_COMPUTE_CAPABILITY_MINOR = 76,
        ATTR_MAX_REGISTERS_PER_MULTIPROCESSOR = 82,
        ATTR_MANAGED_MEMORY = 83,
        ATTR_MULTI_GPU_BOARD = 84,
        ATTR_COOPERATIVE_LAUNCH = 95,
};

CUresult cu_get_device(CUdevice dev, struct cu_device **ret)
{
        CUresult r = cu_check_init();

        if (r != CUDA_SUCCESS)
                return r;
        if (dev < 0 || dev >= cu_driver.device_count)
                return CUDA_ERROR_INVALID_DEVICE;
        *ret = &cu_driver.devices[dev];
        return CUDA_SUCCESS;
}

CU_API CUresult cuDeviceGetCount(int *count)
{
        CUresult r;

        if (!count)
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_check_init();
        if (r != CUDA_SUCCESS)
                return r;
        *count = cu_driver.device_count;
        return CUDA_SUCCESS;
}

CU_API CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
        struct cu_device *d;
        CUresult r;

        if (!device)
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_get_device(ordinal, &d);
        if (r != CUDA_SUCCESS)
                return r;
        *device = ordinal;
        return CUDA_SUCCESS;
}

CU_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
        struct cu_device *d;
        CUresult r;

        if (!name || len <= 0)
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_get_device(dev, &d);
        if (r != CUDA_SUCCESS)
                return r;
        (void)snprintf(name, (size_t)len, "%s", d->name);
        return CUDA_SUCCESS;
}

/* Since CUDA 11.4 (_v2) a MIG device answers its own MIG UUID; the older entry point answers
 * the UUID of the GPU that holds it. */
CU_API CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
        struct cu_device *d;
        CUresult r;

        if (!uuid)
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_get_device(dev, &d);
        if (r != CUDA_SUCCESS)
                return r;
        memcpy(uuid->bytes, d->uuid, sizeof(uuid->bytes));
        return CUDA_SUCCESS;
}

CU_API CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
        struct cu_device *d;
        CUresult r;

        if (!uuid)
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_get_device(dev, &d);
        if (r != CUDA_SUCCESS)
                return r;
        memcpy(uuid->bytes, d->gpu_uuid, sizeof(uuid->bytes));
        return CUDA_SUCCESS;
}

CU_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
        struct cu_device *d;
        CUresult r;

        if (!bytes)
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_get_device(dev, &d);
        if (r != CUDA_SUCCESS)
                return r;
        *bytes = (size_t)d->total_bytes;
        return CUDA_SUCCESS;
}

/* The plain name shares the _v2 entry point (see docs/probe.md on the 32-bit CUDA 3.1 ABI). */
CU_API CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev)
    __attribute__((alias("cuDeviceTotalMem_v2")));

int cu_threads_per_multiprocessor(const struct cu_device *d)
{
        if (d->cc_major == 8 && d->cc_minor > 0)
                return 1536;
        if (d->cc_major == 7 && d->cc_minor == 5)
                return 1024;
        return 2048;
}

CU_API CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice dev)
{
        struct cu_device *d;
        CUresult r;
        int v;

        if (!value)
                return CUDA_ERROR_INVALID_VALUE;
        r = cu_get_device(dev, &d);
        if (r != CUDA_SUCCESS)
                return r;
        switch (attribute) {
        case ATTR_MAX_THREADS_PER_BLOCK:
        case ATTR_MAX_BLOCK_DIM_X:
        case ATTR_MAX_BLOCK_DIM_Y:
                v = 1024;
                break;
        case ATTR_MAX_BLOCK_DIM_Z:
                v = 64;
                break;
        case ATTR_MAX_GRID_DIM_X:
                v = 2147483647;
                break;
        case ATTR_MAX_GRID_DIM_Y:
        case ATTR_MAX_GRID_DIM_Z:
                v = 65535;
                break;
        case ATTR_MAX_SHARED_MEMORY_PER_BLOCK:
                v = 49152;
                break;
        case ATTR_TOTAL_CONSTANT_MEMORY:
                v = 65536;
                break;
        case ATTR_WARP_SIZE:
                v = 32;
                break;
        case ATTR_MAX_REGISTERS_PER_BLOCK:
        case ATTR_MAX_REGISTERS_PER_MULTIPROCESSOR:
                v = 65536;
                break;
        case ATTR_CLOCK_RATE:
                v = (int)d->clock_khz;
                break;
        case ATTR_MULTIPROCESSOR_COUNT:
                v = (int)d->sm_count;
                break;
        case ATTR_KERNEL_EXEC_TIMEOUT:
        case ATTR_INTEGRATED:
        case ATTR_TCC_DRIVER:
        case ATTR_MULTI_GPU_BOARD:
                v = 0;
                break;
        case ATTR_CAN_MAP_HOST_MEMORY:
        case ATTR_CONCURRENT_KERNELS:
        case ATTR_ECC_ENABLED:
        case ATTR_UNIFIED_ADDRESSING:
        case ATTR_MANAGED_MEMORY:
        case ATTR_COOPERATIVE_LAUNCH:
                v = 1;
                break;
        case ATTR_COMPUTE_MODE:
                v = (int)d->compute_mode;
                break;
        case ATTR_PCI_BUS_ID:
                v = (int)d->pci_bus;
                break;
        case ATTR_PCI_DEVICE_ID:
                v = (int)d->pci_device;
                break;
        case ATTR_PCI_DOMAIN_ID:
                v = (int)d->pci_domain;
                break;
        case ATTR_MAX_THREADS_PER_MULTIPROCESSOR:
                v = cu_threads_per_multiprocessor(d);
                break;
        case ATTR_COMPUTE_CAPABILITY_MAJOR:
                v = d->cc_major;
                break;
        case ATTR_COMPUTE_CAPABILITY_MINOR:
                v = d->cc_minor;
                break;
        default:
                /* attributes simgpu does not model */
                return CUDA_ERROR_INVALID_VALUE;
        }
        *value = v;
        return CUDA_SUCCESS;
}
