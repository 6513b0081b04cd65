/* Loads NVML at run time (dlopen, never linked), resolves its functions newest version first, and
 * keeps the one table that turns NVML return codes into errnos and messages. No global state:
 * everything lives in the struct nvml the caller holds. */
#include "driver/nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

/* dlsym hands out object pointers; POSIX guarantees they hold function pointers too. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers fit in void *");

struct nvml_symbol {
        size_t offset; /* of the function pointer in struct nvml */
        bool required;
        const char *names[3]; /* tried in order: newest version first, NULL-terminated */
};

/* clang-format off */
#define SYMBOL(field, is_required, ...) \
        {.offset = offsetof(struct nvml, field), .required = is_required, \
         .names = {__VA_ARGS__, NULL}}
/* clang-format on */

/* Plain names are fallbacks only where the older version has the same signature: the plain
 * nvmlDeviceGetAttributes fills a smaller, differently laid out struct, so it is not one. */
static const struct nvml_symbol nvml_symbols[] = {
    SYMBOL(Init, true, "nvmlInit_v2", "nvmlInit"),
    SYMBOL(Shutdown, true, "nvmlShutdown"),
    SYMBOL(ErrorString, true, "nvmlErrorString"),
    SYMBOL(SystemGetDriverVersion, true, "nvmlSystemGetDriverVersion"),
    SYMBOL(DeviceGetCount, true, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"),
    SYMBOL(DeviceGetHandleByIndex, true, "nvmlDeviceGetHandleByIndex_v2",
           "nvmlDeviceGetHandleByIndex"),
    SYMBOL(DeviceGetName, true, "nvmlDeviceGetName"),
    SYMBOL(DeviceGetUUID, true, "nvmlDeviceGetUUID"),
    SYMBOL(DeviceGetMemoryInfo, true, "nvmlDeviceGetMemoryInfo"),
    SYMBOL(SystemGetCudaDriverVersion, false, "nvmlSystemGetCudaDriverVersion_v2",
           "nvmlSystemGetCudaDriverVersion"),
    SYMBOL(DeviceGetHandleByUUID, false, "nvmlDeviceGetHandleByUUID"),
    SYMBOL(DeviceGetComputeMode, false, "nvmlDeviceGetComputeMode"),
    SYMBOL(DeviceGetMigMode, false, "nvmlDeviceGetMigMode"),
    SYMBOL(DeviceGetMaxMigDeviceCount, false, "nvmlDeviceGetMaxMigDeviceCount"),
    SYMBOL(DeviceGetMigDeviceHandleByIndex, false, "nvmlDeviceGetMigDeviceHandleByIndex"),
    SYMBOL(DeviceGetGpuInstanceId, false, "nvmlDeviceGetGpuInstanceId"),
    SYMBOL(DeviceGetComputeInstanceId, false, "nvmlDeviceGetComputeInstanceId"),
    SYMBOL(DeviceGetAttributes, false, "nvmlDeviceGetAttributes_v2"),
    SYMBOL(DeviceGetGpuInstanceProfileInfo, false, "nvmlDeviceGetGpuInstanceProfileInfo"),
    /* _v2 fills the same struct; the plain one stops before busId. */
    SYMBOL(DeviceGetPciInfo, false, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2"),
};

struct nvml_code {
        nvmlReturn_t code;
        int errno_value;
        const char *name;
};

/* clang-format off */
#define CODE(constant, errno_code) {.code = constant, .errno_value = errno_code, .name = #constant}
/* clang-format on */

/* The one map from NVML return codes to errnos. */
static const struct nvml_code nvml_codes[] = {
    CODE(NVML_SUCCESS, 0),
    CODE(NVML_ERROR_UNINITIALIZED, EBADFD),
    CODE(NVML_ERROR_INVALID_ARGUMENT, EINVAL),
    CODE(NVML_ERROR_NOT_SUPPORTED, EOPNOTSUPP),
    CODE(NVML_ERROR_NO_PERMISSION, EPERM),
    CODE(NVML_ERROR_ALREADY_INITIALIZED, EALREADY),
    CODE(NVML_ERROR_NOT_FOUND, ENOENT),
    CODE(NVML_ERROR_INSUFFICIENT_SIZE, ENOBUFS),
    CODE(NVML_ERROR_INSUFFICIENT_POWER, EIO),
    CODE(NVML_ERROR_DRIVER_NOT_LOADED, ENODEV),
    CODE(NVML_ERROR_TIMEOUT, ETIMEDOUT),
    CODE(NVML_ERROR_IRQ_ISSUE, EIO),
    CODE(NVML_ERROR_LIBRARY_NOT_FOUND, ELIBACC),
    CODE(NVML_ERROR_FUNCTION_NOT_FOUND, ENOSYS),
    CODE(NVML_ERROR_CORRUPTED_INFOROM, EIO),
    CODE(NVML_ERROR_GPU_IS_LOST, ENXIO),
    CODE(NVML_ERROR_RESET_REQUIRED, EIO),
    CODE(NVML_ERROR_OPERATING_SYSTEM, EIO),
    CODE(NVML_ERROR_LIB_RM_VERSION_MISMATCH, ELIBBAD),
    CODE(NVML_ERROR_IN_USE, EBUSY),
    CODE(NVML_ERROR_MEMORY, ENOMEM),
    CODE(NVML_ERROR_NO_DATA, ENODATA),
    CODE(NVML_ERROR_VGPU_ECC_NOT_SUPPORTED, EOPNOTSUPP),
    CODE(NVML_ERROR_INSUFFICIENT_RESOURCES, ENOSPC),
    CODE(NVML_ERROR_FREQ_NOT_SUPPORTED, EOPNOTSUPP),
    CODE(NVML_ERROR_ARGUMENT_VERSION_MISMATCH, EPROTO),
    CODE(NVML_ERROR_DEPRECATED, EOPNOTSUPP),
    CODE(NVML_ERROR_NOT_READY, EAGAIN),
    CODE(NVML_ERROR_GPU_NOT_FOUND, ENODEV),
    CODE(NVML_ERROR_INVALID_STATE, EINVAL),
    CODE(NVML_ERROR_RESET_TYPE_NOT_SUPPORTED, EOPNOTSUPP),
    CODE(NVML_ERROR_UNKNOWN, EIO),
};

static const struct nvml_code *nvml_code_find(nvmlReturn_t code)
{
        for (size_t i = 0; i < ELEMENTSOF(nvml_codes); i++)
                if (nvml_codes[i].code == code)
                        return &nvml_codes[i];
        return NULL;
}

int nvml_errno(nvmlReturn_t code)
{
        const struct nvml_code *entry = nvml_code_find(code);
        return entry ? -entry->errno_value : -EIO;
}

const char *nvml_code_name(nvmlReturn_t code)
{
        const struct nvml_code *entry = nvml_code_find(code);
        return entry ? entry->name : "unknown NVML return code";
}

const char *nvml_strerror(const struct nvml *nvml, nvmlReturn_t code)
{
        const char *text = nvml && nvml->ErrorString ? nvml->ErrorString(code) : NULL;
        return text && text[0] ? text : nvml_code_name(code);
}

int nvml_error(const struct nvml *nvml, struct error *err, nvmlReturn_t code,
               const char *call_format, ...)
{
        char call[256];
        va_list ap;
        va_start(ap, call_format);
        (void)vsnprintf(call, sizeof(call), call_format, ap);
        va_end(ap);
        return error_set(err, nvml_errno(code), "%s: %s", call, nvml_strerror(nvml, code));
}

/* A hint for the codes nvmlInit gives when the driver itself is not usable. */
static const char *init_hint(nvmlReturn_t code)
{
        switch (code) {
        case NVML_ERROR_DRIVER_NOT_LOADED:
                return " (is the NVIDIA kernel module loaded?)";
        case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
                return " (the library and the kernel module are from different driver versions: "
                       "reload the module or reboot)";
        case NVML_ERROR_NO_PERMISSION:
                return " (check the permissions of /dev/nvidia*)";
        default:
                return "";
        }
}

static int nvml_resolve(struct nvml *nvml, struct error *err)
{
        for (size_t i = 0; i < ELEMENTSOF(nvml_symbols); i++) {
                const struct nvml_symbol *symbol = &nvml_symbols[i];
                void *address = NULL;
                for (size_t n = 0; !address && symbol->names[n]; n++)
                        address = dlsym(nvml->library, symbol->names[n]);
                if (!address && symbol->required)
                        return error_set(err, -ENOSYS,
                                         "cannot use %s: it has no %s (is it NVIDIA's NVML, from "
                                         "driver 450 or newer?)",
                                         nvml->path, symbol->names[0]);
                memcpy((char *)nvml + symbol->offset, &address, sizeof(address));
        }
        return 0;
}

int nvml_open(struct nvml **ret_nvml, struct error *err)
{
        const char *override = getenv(NVML_LIBRARY_ENV);
        bool overridden = override && override[0];
        _cleanup_free_ struct nvml *nvml = calloc(1, sizeof(*nvml));
        if (!nvml)
                return error_set(err, -ENOMEM, "cannot load NVML: out of memory");
        (void)snprintf(nvml->path, sizeof(nvml->path), "%s",
                       overridden ? override : NVML_DEFAULT_LIBRARY);

        nvml->library = dlopen(nvml->path, RTLD_NOW | RTLD_LOCAL);
        if (!nvml->library) {
                const char *why = dlerror();
                return error_set(err, -ENOENT, "cannot load %s: %s (%s)", nvml->path,
                                 why ? why : "unknown dlopen error",
                                 overridden ? "named by " NVML_LIBRARY_ENV
                                            : "is the NVIDIA driver installed?");
        }

        int r = nvml_resolve(nvml, err);
        if (r >= 0) {
                nvmlReturn_t code = nvml->Init();
                if (code == NVML_SUCCESS)
                        nvml->initialized = true;
                else
                        r = error_set(err, nvml_errno(code),
                                      "cannot initialize NVML: nvmlInit: %s%s",
                                      nvml_strerror(nvml, code), init_hint(code));
        }
        if (r < 0) {
                (void)dlclose(nvml->library);
                return r;
        }
        *ret_nvml = TAKE_PTR(nvml);
        return 0;
}

void nvml_close(struct nvml *nvml)
{
        if (!nvml)
                return;
        if (nvml->initialized)
                (void)nvml->Shutdown();
        if (nvml->library)
                (void)dlclose(nvml->library);
        free(nvml);
}
