/* Reads a simgpu topology (JSON, format in docs/simgpu.md) into struct sim_topology, checking
 * every field; a bad file gives one "FILE:LINE:COLUMN: field: what is wrong" line (through
 * json_check.c, which finds the position of a bad value again in the raw text). */
#define _GNU_SOURCE
#include "topology.h"

#include "json_check.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GPUS        64
#define MAX_MIG_DEVICES 64
#define MAX_PROFILES    32
#define MAX_PROCESSES   64
#define MAX_FILE_BYTES  (16u << 20)
/* Driver 580 answers INVALID_ARGUMENT from profile index 0x11 on, although nvml.h's
 * NVML_GPU_INSTANCE_PROFILE_COUNT is 0x12 (docs/driver-facts-mig-profiles.md, H200). */
#define NVML_PROFILE_MAX 0x11

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "<prefix>" then 8-4-4-4-12 lower-case hex digits, as the driver prints UUIDs. */
static bool valid_uuid(const char *uuid, const char *prefix)
{
        static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
        size_t plen = strlen(prefix);
        if (strncmp(uuid, prefix, plen) != 0 || strlen(uuid + plen) != sizeof(shape) - 1)
                return false;
        for (size_t i = 0; shape[i]; i++) {
                char c = uuid[plen + i];
                if (shape[i] == '-' ? c != '-' : !(is_hex(c) && !(c >= 'A' && c <= 'F')))
                        return false;
        }
        return true;
}

/* "00000000:17:00.0": domain, bus, device, function in hex. */
static bool valid_bus_id(const char *id)
{
        static const char shape[] = "xxxxxxxx:xx:xx.x";
        if (strlen(id) != sizeof(shape) - 1)
                return false;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'x' ? !is_hex(id[i]) : id[i] != shape[i])
                        return false;
        return true;
}

/* ---- the document ---- */

/* "1c.2g.12gb" -> 1 compute slice, 2 GPU-instance slices, GPU-instance profile "2g.12gb";
 * "3g.20gb" -> 3, 3, "3g.20gb". */
static int split_profile(const char *name, unsigned *ret_ci, unsigned *ret_gi,
                         const char **ret_gi_name)
{
        unsigned ci = 0, gi;
        const char *rest = name;
        char *end;
        /* strtoul alone would take leading blanks and signs */
        if (*rest < '1' || *rest > '8')
                return -EINVAL;
        unsigned long n = strtoul(rest, &end, 10);
        if (n > 8)
                return -EINVAL;
        if (*end == 'c' && end[1] == '.') {
                ci = (unsigned)n;
                rest = end + 2;
                if (*rest < '1' || *rest > '8')
                        return -EINVAL;
                n = strtoul(rest, &end, 10);
                if (n > 8)
                        return -EINVAL;
        }
        if (*end != 'g' || end[1] != '.')
                return -EINVAL;
        gi = (unsigned)n;
        if (ci > gi)
                return -EINVAL;
        *ret_ci = ci ? ci : gi;
        *ret_gi = gi;
        *ret_gi_name = rest;
        return 0;
}

static int parse_profile(struct sim_json_check *p, json_t *object, struct sim_profile *ret)
{
        static const char *const keys[] = {
            "index",      "id",       "name",           "slices",     "max_instances",
            "memory_mib", "sm_count", "copy_engines",   "decoders",   "encoders",
            "jpegs",      "ofas",     "placement_size", "placements", NULL};
        struct sim_profile profile = {0};
        int r;
        if (!json_is_object(object))
                return sim_json_fail(p, "expected an object");
        if ((r = sim_json_check_keys(p, object, keys)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "index", true, NVML_PROFILE_MAX - 1,
                                        &profile.index)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "id", true, 0xffff, &profile.id)) < 0 ||
            (r = sim_json_read_string(p, object, "name", true, profile.name,
                                      sizeof(profile.name))) < 0 ||
            (r = sim_json_read_unsigned(p, object, "slices", true, 8, &profile.slices)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "max_instances", true, 8,
                                        &profile.max_instances)) < 0 ||
            (r = sim_json_read_uint(p, object, "memory_mib", true, 1ull << 32,
                                    &profile.memory_mib)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "sm_count", true, 1024, &profile.sm_count)) <
                0 ||
            (r = sim_json_read_unsigned(p, object, "copy_engines", true, 64,
                                        &profile.copy_engines)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "decoders", false, 64, &profile.decoders)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "encoders", false, 64, &profile.encoders)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "jpegs", false, 64, &profile.jpegs)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "ofas", false, 64, &profile.ofas)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "placement_size", false, 8,
                                        &profile.placement_size)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "placements", false, 8, &profile.placements)) <
                0)
                return r;
        /* the name carries the slice count too ("2g.20gb"): both must agree */
        unsigned ci, gi;
        const char *gi_name;
        sim_json_push_key(p, "name");
        if (split_profile(profile.name, &ci, &gi, &gi_name) < 0 || gi_name != profile.name)
                r = sim_json_fail(p, "\"%s\" is not a GPU-instance profile like \"2g.20gb\"",
                                  profile.name);
        else if (gi != profile.slices)
                r = sim_json_fail(p, "\"%s\" has %u slices, \"slices\" says %u", profile.name, gi,
                                  profile.slices);
        sim_json_pop(p);
        if (r < 0)
                return r;
        if (profile.placement_size && profile.placement_size < profile.slices) {
                sim_json_push_key(p, "placement_size");
                r = sim_json_fail(p, "%u is below the %u slices", profile.placement_size,
                                  profile.slices);
                sim_json_pop(p);
                return r;
        }
        if (!profile.placement_size)
                for (profile.placement_size = 1; profile.placement_size < profile.slices;)
                        profile.placement_size *= 2;
        if (profile.placements * profile.placement_size > 8) {
                sim_json_push_key(p, "placements");
                r = sim_json_fail(p, "%u placements %u slices wide do not fit in 8 slices",
                                  profile.placements, profile.placement_size);
                sim_json_pop(p);
                return r;
        }
        /* by default as many as it may have instances, as far as they fit */
        if (!profile.placements)
                while (profile.placements < profile.max_instances &&
                       (profile.placements + 1) * profile.placement_size <= 8)
                        profile.placements++;
        *ret = profile;
        return 0;
}

static int parse_process(struct sim_json_check *p, json_t *object, struct sim_process *ret)
{
        static const char *const keys[] = {"pid", "used_memory_mib", NULL};
        struct sim_process process = {0};
        int r;
        if (!json_is_object(object))
                return sim_json_fail(p, "expected an object");
        if ((r = sim_json_check_keys(p, object, keys)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "pid", true, 0x3fffffff, &process.pid)) < 0 ||
            (r = sim_json_read_uint(p, object, "used_memory_mib", true, 1ull << 32,
                                    &process.used_memory_mib)) < 0)
                return r;
        if (process.pid == 0)
                return sim_json_fail(p, "pid must be above 0");
        *ret = process;
        return 0;
}

/* The optional "processes" array of a GPU or MIG device. */
static int parse_processes(struct sim_json_check *p, json_t *object, struct sim_process **ret,
                           size_t *ret_count)
{
        json_t *array = json_object_get(object, "processes");
        int r = 0;
        if (!array)
                return 0;
        sim_json_push_key(p, "processes");
        if (!json_is_array(array))
                r = sim_json_fail(p, "expected an array");
        else if (json_array_size(array) > MAX_PROCESSES)
                r = sim_json_fail(p, "more than %d processes", MAX_PROCESSES);
        else if (!(*ret = calloc(json_array_size(array) + 1, sizeof(**ret))))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < json_array_size(array); i++) {
                sim_json_push_index(p, i);
                r = parse_process(p, json_array_get(array, i), &(*ret)[i]);
                sim_json_pop(p);
                if (r == 0)
                        (*ret_count)++;
        }
        sim_json_pop(p);
        return r;
}

static int parse_mig_device(struct sim_json_check *p, json_t *object, const struct sim_gpu *gpu,
                            struct sim_mig_device *ret)
{
        static const char *const keys[] = {"slot",       "gpu_instance_id", "compute_instance_id",
                                           "uuid",       "profile",         "sm_count",
                                           "memory_mib", "processes",       NULL};
        struct sim_mig_device mig = {0};
        const char *gi_name;
        int r;
        if (!json_is_object(object))
                return sim_json_fail(p, "expected an object");
        if ((r = sim_json_check_keys(p, object, keys)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "slot", true, MAX_MIG_DEVICES - 1, &mig.slot)) <
                0 ||
            (r = sim_json_read_unsigned(p, object, "gpu_instance_id", true, 0xffff,
                                        &mig.gpu_instance_id)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "compute_instance_id", true, 0xffff,
                                        &mig.compute_instance_id)) < 0 ||
            (r = sim_json_read_string(p, object, "uuid", true, mig.uuid, sizeof(mig.uuid))) < 0 ||
            (r = sim_json_read_string(p, object, "profile", true, mig.profile,
                                      sizeof(mig.profile))) < 0 ||
            (r = sim_json_read_unsigned(p, object, "sm_count", true, 1024, &mig.sm_count)) < 0 ||
            (r = sim_json_read_uint(p, object, "memory_mib", true, 1ull << 32, &mig.memory_mib)) <
                0)
                return r;

        sim_json_push_key(p, "uuid");
        if (!valid_uuid(mig.uuid, "MIG-"))
                r = sim_json_fail(
                    p, "\"%s\" is not a MIG UUID (MIG-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                    mig.uuid);
        sim_json_pop(p);
        if (r < 0)
                return r;

        sim_json_push_key(p, "profile");
        if (split_profile(mig.profile, &mig.compute_instance_slices, &mig.gpu_instance_slices,
                          &gi_name) < 0) {
                r = sim_json_fail(p,
                                  "\"%s\" is not a MIG profile like \"1c.2g.12gb\" or \"3g.20gb\"",
                                  mig.profile);
        } else {
                for (size_t i = 0; i < gpu->profile_count; i++)
                        if (strcmp(gpu->profiles[i].name, gi_name) == 0)
                                mig.gpu_instance_profile = &gpu->profiles[i];
                if (!mig.gpu_instance_profile)
                        r = sim_json_fail(
                            p, "no GPU-instance profile \"%s\" in this GPU's mig.profiles",
                            gi_name);
        }
        sim_json_pop(p);
        if (r < 0)
                return r;
        if (mig.sm_count == 0 || mig.memory_mib == 0)
                return sim_json_fail(p, "sm_count and memory_mib must be above 0");
        /* stored first so that the caller frees the processes even when they fail */
        *ret = mig;
        return parse_processes(p, object, &ret->processes, &ret->process_count);
}

static int parse_profiles(struct sim_json_check *p, json_t *array, struct sim_gpu *gpu)
{
        if (!json_is_array(array))
                return sim_json_fail(p, "expected an array");
        if (json_array_size(array) > MAX_PROFILES)
                return sim_json_fail(p, "more than %d profiles", MAX_PROFILES);
        gpu->profiles = calloc(json_array_size(array) + 1, sizeof(*gpu->profiles));
        if (!gpu->profiles)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(array); i++) {
                struct sim_profile *profile = &gpu->profiles[i];
                sim_json_push_index(p, i);
                int r = parse_profile(p, json_array_get(array, i), profile);
                for (size_t j = 0; r == 0 && j < i; j++)
                        if (gpu->profiles[j].index == profile->index ||
                            gpu->profiles[j].id == profile->id ||
                            strcmp(gpu->profiles[j].name, profile->name) == 0)
                                r = sim_json_fail(p, "same index, id or name as profiles[%zu]", j);
                sim_json_pop(p);
                if (r < 0)
                        return r;
                gpu->profile_count++;
        }
        return 0;
}

/* No profile has more GPU instances than its max_instances (NVML callers size buffers by it). */
static int check_instance_counts(struct sim_json_check *p, const struct sim_gpu *gpu)
{
        for (size_t f = 0; f < gpu->profile_count; f++) {
                const struct sim_profile *profile = &gpu->profiles[f];
                unsigned instances = 0;
                for (size_t i = 0; i < gpu->mig_device_count; i++) {
                        const struct sim_mig_device *mig = &gpu->mig_devices[i];
                        bool counted = false;
                        if (mig->gpu_instance_profile != profile)
                                continue;
                        for (size_t j = 0; j < i; j++)
                                counted = counted || gpu->mig_devices[j].gpu_instance_id ==
                                                         mig->gpu_instance_id;
                        if (counted || ++instances <= profile->max_instances)
                                continue;
                        sim_json_push_index(p, i);
                        int r = sim_json_fail(
                            p,
                            "GPU instance %u is instance %u of profile %s, above its "
                            "max_instances %u",
                            mig->gpu_instance_id, instances, profile->name, profile->max_instances);
                        sim_json_pop(p);
                        return r;
                }
        }
        return 0;
}

static int parse_mig_devices(struct sim_json_check *p, json_t *array, struct sim_gpu *gpu)
{
        if (!json_is_array(array))
                return sim_json_fail(p, "expected an array");
        if (json_array_size(array) > MAX_MIG_DEVICES)
                return sim_json_fail(p, "more than %d MIG devices", MAX_MIG_DEVICES);
        gpu->mig_devices = calloc(json_array_size(array) + 1, sizeof(*gpu->mig_devices));
        if (!gpu->mig_devices)
                return -ENOMEM;
        for (size_t i = 0; i < json_array_size(array); i++) {
                struct sim_mig_device *mig = &gpu->mig_devices[i];
                sim_json_push_index(p, i);
                int r = parse_mig_device(p, json_array_get(array, i), gpu, mig);
                if (mig->processes)
                        gpu->mig_device_count = i + 1; /* so that sim_topology_free sees them */
                if (r == 0 && i > 0 && mig->slot <= mig[-1].slot)
                        r = sim_json_fail(p, "slot %u is not above the previous device's slot %u",
                                          mig->slot, mig[-1].slot);
                if (r == 0 && mig->slot >= gpu->max_mig_devices)
                        r = sim_json_fail(p, "slot %u is not below mig.max_devices %u", mig->slot,
                                          gpu->max_mig_devices);
                for (size_t j = 0; r == 0 && j < i; j++) {
                        const struct sim_mig_device *other = &gpu->mig_devices[j];
                        if (other->gpu_instance_id != mig->gpu_instance_id)
                                continue;
                        if (other->compute_instance_id == mig->compute_instance_id)
                                r = sim_json_fail(p,
                                                  "GPU instance %u already has compute instance %u",
                                                  mig->gpu_instance_id, mig->compute_instance_id);
                        else if (other->gpu_instance_profile != mig->gpu_instance_profile)
                                r = sim_json_fail(
                                    p, "GPU instance %u has another profile in devices[%zu]",
                                    mig->gpu_instance_id, j);
                }
                sim_json_pop(p);
                if (r < 0)
                        return r;
                gpu->mig_device_count = i + 1;
        }
        return check_instance_counts(p, gpu);
}

static int parse_mig(struct sim_json_check *p, json_t *object, struct sim_gpu *gpu)
{
        static const char *const keys[] = {"current",  "pending", "max_devices",
                                           "profiles", "devices", NULL};
        json_t *profiles = NULL, *devices = NULL;
        unsigned max_devices = 0;
        int r;
        if (!json_is_object(object))
                return sim_json_fail(p, "expected an object");
        gpu->mig_supported = true;
        if ((r = sim_json_check_keys(p, object, keys)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "current", true, 1, &gpu->mig_current)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "pending", true, 1, &gpu->mig_pending)) < 0 ||
            (r = sim_json_member(p, object, "profiles", true, &profiles)) < 0 ||
            (r = sim_json_member(p, object, "devices", false, &devices)) < 0)
                return r;
        /* The driver answers GetMaxMigDeviceCount only while MIG is on (0 otherwise). */
        if (gpu->mig_current) {
                if ((r = sim_json_read_unsigned(p, object, "max_devices", true, MAX_MIG_DEVICES,
                                                &max_devices)) < 0)
                        return r;
        } else if (json_object_get(object, "max_devices") || devices) {
                sim_json_push_key(p, devices ? "devices" : "max_devices");
                r = sim_json_fail(p, "only allowed while MIG is enabled (\"current\": 1)");
                sim_json_pop(p);
                return r;
        }
        gpu->max_mig_devices = max_devices;

        sim_json_push_key(p, "profiles");
        r = parse_profiles(p, profiles, gpu);
        sim_json_pop(p);
        if (r < 0 || !devices)
                return r;
        sim_json_push_key(p, "devices");
        r = parse_mig_devices(p, devices, gpu);
        sim_json_pop(p);
        return r;
}

static int parse_compute_mode(struct sim_json_check *p, json_t *object, unsigned *ret)
{
        /* nvidia-smi's spellings, indexed by the NVML constant */
        static const char *const modes[] = {"Default", "Exclusive_Thread", "Prohibited",
                                            "Exclusive_Process"};
        char text[32];
        int r = sim_json_read_string(p, object, "compute_mode", true, text, sizeof(text));
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 4; i++)
                if (strcmp(text, modes[i]) == 0) {
                        *ret = i;
                        return 0;
                }
        sim_json_push_key(p, "compute_mode");
        r = sim_json_fail(
            p, "\"%s\" is not Default, Exclusive_Process, Prohibited or Exclusive_Thread", text);
        sim_json_pop(p);
        return r;
}

static int parse_gpu(struct sim_json_check *p, json_t *object, size_t index, struct sim_gpu *gpu)
{
        static const char *const keys[] = {"name",
                                           "uuid",
                                           "pci_bus_id",
                                           "pci_device_id",
                                           "pci_subsystem_id",
                                           "minor",
                                           "memory_mib",
                                           "sm_count",
                                           "compute_mode",
                                           "persistence_mode",
                                           "lost",
                                           "mig",
                                           "processes",
                                           "reserved_bytes",
                                           "serial",
                                           "vbios_version",
                                           "temperature_c",
                                           "power_usage_mw",
                                           "power_limit_mw",
                                           NULL};
        json_t *mig = NULL;
        int r;
        if (!json_is_object(object))
                return sim_json_fail(p, "expected an object");
        gpu->index = (unsigned)index;
        gpu->minor = (unsigned)index;
        if ((r = sim_json_check_keys(p, object, keys)) < 0 ||
            (r = sim_json_read_string(p, object, "name", true, gpu->name, sizeof(gpu->name))) < 0 ||
            (r = sim_json_read_string(p, object, "uuid", true, gpu->uuid, sizeof(gpu->uuid))) < 0 ||
            (r = sim_json_read_string(p, object, "pci_bus_id", true, gpu->pci_bus_id,
                                      sizeof(gpu->pci_bus_id))) < 0 ||
            (r = sim_json_read_hex(p, object, "pci_device_id", &gpu->pci_device_id)) < 0 ||
            (r = sim_json_read_hex(p, object, "pci_subsystem_id", &gpu->pci_subsystem_id)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "minor", false, 255, &gpu->minor)) < 0 ||
            (r = sim_json_read_uint(p, object, "memory_mib", true, 1ull << 32, &gpu->memory_mib)) <
                0 ||
            (r = sim_json_read_unsigned(p, object, "sm_count", true, 1024, &gpu->sm_count)) < 0 ||
            (r = parse_compute_mode(p, object, &gpu->compute_mode)) < 0 ||
            (r = sim_json_read_bool(p, object, "persistence_mode", true, &gpu->persistence_mode)) <
                0 ||
            (r = sim_json_read_bool(p, object, "lost", false, &gpu->lost)) < 0 ||
            (r = sim_json_read_uint(p, object, "reserved_bytes", false,
                                    gpu->memory_mib * 1048576ull, &gpu->reserved_bytes)) < 0 ||
            (r = sim_json_read_string(p, object, "serial", false, gpu->serial,
                                      sizeof(gpu->serial))) < 0 ||
            (r = sim_json_read_string(p, object, "vbios_version", false, gpu->vbios_version,
                                      sizeof(gpu->vbios_version))) < 0 ||
            (r = sim_json_read_unsigned(p, object, "temperature_c", false, 120,
                                        &gpu->temperature_c)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "power_usage_mw", false, 10000000,
                                        &gpu->power_usage_mw)) < 0 ||
            (r = sim_json_read_unsigned(p, object, "power_limit_mw", false, 10000000,
                                        &gpu->power_limit_mw)) < 0 ||
            (r = sim_json_member(p, object, "mig", false, &mig)) < 0)
                return r;
        sim_json_push_key(p, "uuid");
        if (!valid_uuid(gpu->uuid, "GPU-"))
                r = sim_json_fail(
                    p, "\"%s\" is not a GPU UUID (GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                    gpu->uuid);
        sim_json_pop(p);
        if (r < 0)
                return r;
        sim_json_push_key(p, "pci_bus_id");
        if (!valid_bus_id(gpu->pci_bus_id))
                r = sim_json_fail(p, "\"%s\" is not a PCI bus id like \"00000000:17:00.0\"",
                                  gpu->pci_bus_id);
        sim_json_pop(p);
        if (r < 0 || (r = parse_processes(p, object, &gpu->processes, &gpu->process_count)) < 0 ||
            !mig)
                return r;
        sim_json_push_key(p, "mig");
        r = parse_mig(p, mig, gpu);
        sim_json_pop(p);
        if (r == 0 && gpu->mig_current && gpu->process_count) {
                sim_json_push_key(p, "processes");
                r = sim_json_fail(p, "with MIG enabled, processes belong to the MIG devices");
                sim_json_pop(p);
        }
        return r;
}

/* Every GPU and MIG UUID, bus id and minor number names one thing only. */
static int check_unique(struct sim_json_check *p, struct sim_topology *topology)
{
        for (size_t g = 0; g < topology->gpu_count; g++) {
                const struct sim_gpu *gpu = &topology->gpus[g];
                int r = 0;
                sim_json_push_key(p, "gpus");
                sim_json_push_index(p, g);
                for (size_t h = 0; r == 0 && h < g; h++) {
                        const struct sim_gpu *other = &topology->gpus[h];
                        if (strcmp(other->pci_bus_id, gpu->pci_bus_id) == 0)
                                r = sim_json_fail(p, "same pci_bus_id as gpus[%zu]", h);
                        else if (other->minor == gpu->minor)
                                r = sim_json_fail(p, "same minor number as gpus[%zu]", h);
                }
                for (size_t m = 0; r == 0 && m < gpu->mig_device_count; m++) {
                        const char *uuid = gpu->mig_devices[m].uuid;
                        const struct sim_gpu *owner;
                        const struct sim_mig_device *mig;
                        if (sim_topology_find_uuid(topology, uuid, &owner, &mig) == 0 &&
                            mig != &gpu->mig_devices[m]) {
                                sim_json_push_key(p, "mig");
                                sim_json_push_key(p, "devices");
                                sim_json_push_index(p, m);
                                sim_json_push_key(p, "uuid");
                                r = sim_json_fail(p, "duplicate UUID %s (also used by GPU %u)",
                                                  uuid, owner->index);
                                for (int i = 0; i < 4; i++)
                                        sim_json_pop(p);
                        }
                }
                const struct sim_gpu *owner;
                const struct sim_mig_device *mig;
                if (r == 0 && sim_topology_find_uuid(topology, gpu->uuid, &owner, &mig) == 0 &&
                    (owner != gpu || mig)) {
                        sim_json_push_key(p, "uuid");
                        r = sim_json_fail(p, "duplicate UUID %s (also used by GPU %u)", gpu->uuid,
                                          owner->index);
                        sim_json_pop(p);
                }
                sim_json_pop(p);
                sim_json_pop(p);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_driver(struct sim_json_check *p, json_t *object, struct sim_topology *topology)
{
        static const char *const keys[] = {"loaded", "version", "cuda_version", NULL};
        unsigned cuda = 0;
        int r;
        if (!json_is_object(object))
                return sim_json_fail(p, "expected an object");
        if ((r = sim_json_check_keys(p, object, keys)) < 0 ||
            (r = sim_json_read_bool(p, object, "loaded", true, &topology->driver_loaded)) < 0 ||
            (r = sim_json_read_string(p, object, "version", topology->driver_loaded,
                                      topology->driver_version, sizeof(topology->driver_version))) <
                0 ||
            (r = sim_json_read_unsigned(p, object, "cuda_version", topology->driver_loaded, 99990,
                                        &cuda)) < 0)
                return r;
        topology->cuda_driver_version = (int)cuda;
        return 0;
}

static int parse_document(struct sim_json_check *p, json_t *root, struct sim_topology *topology)
{
        static const char *const keys[] = {"driver", "gpus", NULL};
        json_t *driver = NULL, *gpus = NULL;
        int r;
        if (!json_is_object(root))
                return sim_json_fail(p, "expected an object with \"driver\" and \"gpus\"");
        if ((r = sim_json_check_keys(p, root, keys)) < 0 ||
            (r = sim_json_member(p, root, "driver", true, &driver)) < 0 ||
            (r = sim_json_member(p, root, "gpus", true, &gpus)) < 0)
                return r;
        sim_json_push_key(p, "driver");
        r = parse_driver(p, driver, topology);
        sim_json_pop(p);
        if (r < 0)
                return r;

        sim_json_push_key(p, "gpus");
        if (!json_is_array(gpus))
                r = sim_json_fail(p, "expected an array");
        else if (json_array_size(gpus) > MAX_GPUS)
                r = sim_json_fail(p, "more than %d GPUs", MAX_GPUS);
        else if (!(topology->gpus = calloc(json_array_size(gpus) + 1, sizeof(*topology->gpus))))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < json_array_size(gpus); i++) {
                sim_json_push_index(p, i);
                r = parse_gpu(p, json_array_get(gpus, i), i, &topology->gpus[i]);
                sim_json_pop(p);
                /* counted even on failure so that sim_topology_free frees its arrays */
                topology->gpu_count++;
        }
        sim_json_pop(p);
        if (r < 0)
                return r;
        return check_unique(p, topology);
}

int sim_topology_parse(const char *text, size_t len, const char *name, struct sim_topology **ret,
                       char *errbuf, size_t errlen)
{
        struct sim_json_check p = {
            .text = text, .len = len, .name = name, .errbuf = errbuf, .errlen = errlen};
        json_error_t error;
        json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
        if (!root) {
                if (errbuf && errlen) {
                        snprintf(errbuf, errlen, "%s:%d:%d: %s", name, error.line, error.column,
                                 error.text);
                        sim_json_make_printable(errbuf);
                }
                return -EINVAL;
        }
        struct sim_topology *topology = calloc(1, sizeof(*topology));
        if (!topology) {
                json_decref(root);
                return -ENOMEM;
        }
        snprintf(topology->path, sizeof(topology->path), "%s", name);
        int r = parse_document(&p, root, topology);
        json_decref(root);
        if (r < 0) {
                if (r == -ENOMEM && errbuf && errlen)
                        snprintf(errbuf, errlen, "%s: out of memory", name);
                sim_topology_free(topology);
                return r;
        }
        *ret = topology;
        return 0;
}

int sim_topology_load(const char *path, struct sim_topology **ret, char *errbuf, size_t errlen)
{
        FILE *f = fopen(path, "rbe");
        if (!f) {
                int r = -errno;
                if (errbuf && errlen)
                        snprintf(errbuf, errlen, "%s: %s", path, strerror(-r));
                return r;
        }
        size_t capacity = 8192, size = 0, n;
        char *text = malloc(capacity);
        int r = text ? 0 : -ENOMEM;
        while (r == 0 && (n = fread(text + size, 1, capacity - size, f)) > 0) {
                size += n;
                if (size > MAX_FILE_BYTES) {
                        r = -EFBIG;
                } else if (size == capacity) {
                        char *bigger = realloc(text, capacity * 2);
                        if (bigger) {
                                text = bigger;
                                capacity *= 2;
                        } else {
                                r = -ENOMEM;
                        }
                }
        }
        if (r == 0 && ferror(f))
                r = -EIO;
        fclose(f);
        if (r < 0) {
                if (errbuf && errlen)
                        snprintf(errbuf, errlen, "%s: %s", path,
                                 r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
                free(text);
                return r;
        }
        r = sim_topology_parse(text, size, path, ret, errbuf, errlen);
        free(text);
        return r;
}

int sim_topology_load_env(struct sim_topology **ret, char *errbuf, size_t errlen)
{
        const char *path = getenv(SIM_TOPOLOGY_ENV);
        if (!path || !*path) {
                if (errbuf && errlen)
                        snprintf(errbuf, errlen,
                                 "%s is not set: run the program under simgpu/run TOPOLOGY -- "
                                 "COMMAND",
                                 SIM_TOPOLOGY_ENV);
                return -ENOENT;
        }
        return sim_topology_load(path, ret, errbuf, errlen);
}

void sim_topology_free(struct sim_topology *topology)
{
        if (!topology)
                return;
        for (size_t i = 0; i < topology->gpu_count; i++) {
                struct sim_gpu *gpu = &topology->gpus[i];
                for (size_t m = 0; m < gpu->mig_device_count; m++)
                        free(gpu->mig_devices[m].processes);
                free(gpu->processes);
                free(gpu->profiles);
                free(gpu->mig_devices);
        }
        free(topology->gpus);
        free(topology);
}

int sim_topology_find_uuid(const struct sim_topology *topology, const char *uuid,
                           const struct sim_gpu **ret_gpu, const struct sim_mig_device **ret_mig)
{
        for (size_t g = 0; g < topology->gpu_count; g++) {
                const struct sim_gpu *gpu = &topology->gpus[g];
                if (strcmp(gpu->uuid, uuid) == 0) {
                        if (ret_gpu)
                                *ret_gpu = gpu;
                        if (ret_mig)
                                *ret_mig = NULL;
                        return 0;
                }
                for (size_t m = 0; m < gpu->mig_device_count; m++)
                        if (strcmp(gpu->mig_devices[m].uuid, uuid) == 0) {
                                if (ret_gpu)
                                        *ret_gpu = gpu;
                                if (ret_mig)
                                        *ret_mig = &gpu->mig_devices[m];
                                return 0;
                        }
        }
        return -ENOENT;
}
