/* The configuration over one node: which sections name devices of it, which targets the file
 * includes and excludes, and the limits each target gets, the most specific section winning key
 * by key (instance UUID, then profile, then GPU, then [global]). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops/config.h"

#define MIB (1024ULL * 1024ULL)

bool target_limits_any(const struct target_limits *limits)
{
        return limits->threads > 0 || limits->pinned_bytes > 0 || limits->priority >= 0 ||
               limits->server;
}

bool config_shapes_daemons(const struct config *config)
{
        if (!config)
                return false;
        if (config->user.set || config->group.set || config->multiuser)
                return true;
        for (size_t i = 0; i < config->section_count; i++) {
                const struct config_limits *limits = &config->sections[i].limits;
                if (limits->threads > 0 || limits->pinned.set || limits->priority >= 0 ||
                    limits->server.set)
                        return true;
        }
        return false;
}

bool config_section_matches(const struct config_section *section, const struct target *target)
{
        switch (section->scope) {
        case CONFIG_SCOPE_GLOBAL:
                return true;
        case CONFIG_SCOPE_GPU:
                if (!target->gpu)
                        return false;
                if (section->gpu_by_index)
                        return target->gpu->index == section->gpu_index;
                return strcasecmp(target->gpu->uuid, section->argument) == 0;
        case CONFIG_SCOPE_PROFILE:
                return target->mig_device &&
                       strcmp(target->mig_device->profile, section->argument) == 0;
        case CONFIG_SCOPE_INSTANCE:
                return target->uuid && strcasecmp(target->uuid, section->argument) == 0;
        case CONFIG_SCOPE_NONE:
        case CONFIG_SCOPE_COMMAND_LINE:
                break;
        }
        return false;
}

static const struct gpu *gpu_named(const struct node *node, const struct config_section *section)
{
        for (size_t i = 0; i < node->gpu_count; i++) {
                const struct gpu *gpu = &node->gpus[i];
                if (section->gpu_by_index ? gpu->index == section->gpu_index
                                          : strcasecmp(gpu->uuid, section->argument) == 0)
                        return gpu;
        }
        return NULL;
}

static const struct mig_device *mig_named(const struct node *node, const char *uuid)
{
        for (size_t i = 0; i < node->mig_device_count; i++)
                if (strcasecmp(node->mig_devices[i].uuid, uuid) == 0)
                        return &node->mig_devices[i];
        return NULL;
}

static bool profile_present(const struct node *node, const char *profile)
{
        for (size_t i = 0; i < node->mig_device_count; i++)
                if (strcmp(node->mig_devices[i].profile, profile) == 0)
                        return true;
        return false;
}

/* The device an [instance] or [gpu] section names, as one pointer to compare sections by. */
static const void *device_of(const struct node *node, const struct config_section *section)
{
        if (section->scope == CONFIG_SCOPE_GPU)
                return gpu_named(node, section);
        if (section->scope != CONFIG_SCOPE_INSTANCE)
                return NULL;
        const struct mig_device *mig = mig_named(node, section->argument);
        if (mig)
                return mig;
        struct config_section as_gpu = {.scope = CONFIG_SCOPE_GPU};
        (void)snprintf(as_gpu.argument, sizeof(as_gpu.argument), "%s", section->argument);
        return gpu_named(node, &as_gpu);
}

static int check_section(const struct config *config, const struct node *node,
                         const struct config_section *section, struct error *err)
{
        const char *path = config->path;
        if (section->scope == CONFIG_SCOPE_GPU && !gpu_named(node, section))
                return ini_error_at(err, -EINVAL, path, section->line,
                                    "[gpu %s]: this node has no such GPU (%zu GPU%s; nvidia-smi "
                                    "-L lists them)",
                                    section->argument, node->gpu_count,
                                    node->gpu_count == 1 ? "" : "s");
        if (section->scope != CONFIG_SCOPE_INSTANCE || mig_named(node, section->argument))
                return 0;
        struct config_section as_gpu = {.scope = CONFIG_SCOPE_GPU};
        (void)snprintf(as_gpu.argument, sizeof(as_gpu.argument), "%s", section->argument);
        const struct gpu *gpu = gpu_named(node, &as_gpu);
        if (!gpu)
                return ini_error_at(err, -EINVAL, path, section->line,
                                    "[instance %s]: no MIG device or GPU of this node has this "
                                    "UUID (nvidia-smi -L lists them)",
                                    section->argument);
        if (!gpu_is_whole_target(gpu))
                return ini_error_at(err, -EINVAL, path, section->line,
                                    "[instance %s]: GPU %u is in MIG mode, so it is no target "
                                    "itself: name one of its MIG devices, or use [gpu %s] for all "
                                    "of them",
                                    section->argument, gpu->index, section->argument);
        return 0;
}

int config_check_node(const struct config *config, const struct node *node,
                      size_t *ret_unused_profiles, struct error *err)
{
        size_t unused = 0;
        for (size_t s = 0; s < config->section_count; s++) {
                const struct config_section *section = &config->sections[s];
                int r = check_section(config, node, section, err);
                if (r < 0)
                        return r;
                if (section->scope == CONFIG_SCOPE_PROFILE &&
                    !profile_present(node, section->argument))
                        unused++;
                /* [gpu 0] and [gpu GPU-...] of the same GPU: which would win is not clear. */
                const void *device = device_of(node, section);
                for (size_t t = 0; device && t < s; t++) {
                        const struct config_section *earlier = &config->sections[t];
                        if (earlier->scope == section->scope && device_of(node, earlier) == device)
                                return ini_error_at(err, -EINVAL, config->path, section->line,
                                                    "[%s %s] names the same device as [%s %s] "
                                                    "at line %u: put their keys in one section",
                                                    config_scope_name(section->scope),
                                                    section->argument,
                                                    config_scope_name(earlier->scope),
                                                    earlier->argument, earlier->line);
                }
        }
        if (ret_unused_profiles)
                *ret_unused_profiles = unused;
        return 0;
}

static void take(const struct config_section *section, struct target_limits *limits)
{
        const struct config_limits *from = &section->limits;
        struct config_origin origin = {.scope = section->scope};
        if (from->threads > 0) {
                limits->threads = from->threads;
                limits->threads_from = origin;
                limits->threads_from.line = from->threads_line;
        }
        if (from->pinned.set) {
                limits->pinned_bytes = from->pinned.bytes;
                limits->pinned_percent = from->pinned.percent;
                limits->pinned_from = origin;
                limits->pinned_from.line = from->pinned.line;
        }
        if (from->priority >= 0) {
                limits->priority = from->priority;
                limits->priority_from = origin;
                limits->priority_from.line = from->priority_line;
        }
        if (from->server.set) {
                limits->server = true;
                limits->server_uid = from->server.id;
                (void)snprintf(limits->server_user, sizeof(limits->server_user), "%s",
                               from->server.name);
                limits->server_from = origin;
                limits->server_from.line = from->server.line;
        }
}

int config_limits_for(const struct config *config, const struct target *target,
                      struct target_limits *ret_limits, struct error *err)
{
        static const enum config_scope order[] = {CONFIG_SCOPE_GLOBAL, CONFIG_SCOPE_GPU,
                                                  CONFIG_SCOPE_PROFILE, CONFIG_SCOPE_INSTANCE};
        struct target_limits limits = {.priority = -1};
        for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
                for (size_t s = 0; s < config->section_count; s++) {
                        const struct config_section *section = &config->sections[s];
                        if (section->scope == order[o] && config_section_matches(section, target))
                                take(section, &limits);
                }
        if (limits.pinned_percent > 0) {
                unsigned long long memory = target->mig_device ? target->mig_device->memory_bytes
                                            : target->gpu      ? target->gpu->memory_bytes
                                                               : 0;
                unsigned long long bytes = memory / MIB * limits.pinned_percent / 100 * MIB;
                if (bytes == 0)
                        return ini_error_at(err, -EINVAL, config->path, limits.pinned_from.line,
                                            "pinned_mem = %u%%: the memory of %s is not known "
                                            "(NVML did not give it), so a share of it cannot be "
                                            "worked out: give a size such as 4G",
                                            limits.pinned_percent,
                                            target->uuid ? target->uuid : "this target");
                limits.pinned_bytes = bytes;
        }
        *ret_limits = limits;
        return 0;
}

/* ---- include and exclude ---- */

/* What a word of include/exclude names. */
static bool word_matches(const char *word, const struct target *target)
{
        unsigned gpu, gi, ci;
        char tail;
        if (strncasecmp(word, "MIG-", 4) == 0 || strncasecmp(word, "GPU-", 4) == 0)
                return (target->uuid && strcasecmp(target->uuid, word) == 0) ||
                       (target->gpu && strcasecmp(target->gpu->uuid, word) == 0);
        if (strspn(word, "0123456789") == strlen(word))
                return target->gpu && target->gpu->index == strtoul(word, NULL, 10);
        if (sscanf(word, "%u:%u:%u%c", &gpu, &gi, &ci, &tail) == 3)
                return target->mig_device && target->mig_device->gpu_index == gpu &&
                       target->mig_device->gpu_instance_id == gi &&
                       target->mig_device->compute_instance_id == ci;
        return target->mig_device && strcmp(target->mig_device->profile, word) == 0;
}

static bool is_profile_word(const char *word)
{
        unsigned a, b, c;
        char tail;
        return strncasecmp(word, "MIG-", 4) != 0 && strncasecmp(word, "GPU-", 4) != 0 &&
               strspn(word, "0123456789") != strlen(word) &&
               sscanf(word, "%u:%u:%u%c", &a, &b, &c, &tail) != 3;
}

/* A word that is no profile must name something on the node. */
static int check_words(const struct config *config, const struct node *node,
                       const struct config_names *names, const char *key, struct error *err)
{
        struct target *all = NULL;
        size_t all_count = 0;
        if (node_targets(node, true, &all, &all_count) < 0)
                return error_set(err, -ENOMEM, "out of memory");
        int r = 0;
        for (size_t w = 0; r == 0 && w < names->count; w++) {
                const char *word = names->names[w];
                bool found = is_profile_word(word);
                for (size_t i = 0; !found && i < all_count; i++)
                        found = word_matches(word, &all[i]);
                /* a GPU in MIG mode without instances, named by UUID or index */
                for (size_t g = 0; !found && g < node->gpu_count; g++)
                        found = strcasecmp(node->gpus[g].uuid, word) == 0 ||
                                (strspn(word, "0123456789") == strlen(word) &&
                                 node->gpus[g].index == strtoul(word, NULL, 10));
                if (!found)
                        r = ini_error_at(err, -EINVAL, config->path, names->line,
                                         "%s: '%s' names nothing on this node (give a UUID, a "
                                         "GPU index, GPU:GI:CI or a profile, as mpsmig list "
                                         "shows them)",
                                         key, word);
        }
        free(all);
        return r;
}

static bool named_by(const struct config_names *names, const struct target *target)
{
        for (size_t w = 0; w < names->count; w++)
                if (word_matches(names->names[w], target))
                        return true;
        return false;
}

int config_select(const struct config *config, const struct node *node, bool strict,
                  struct target *targets, size_t *count, struct error *err)
{
        if (strict) {
                int r = check_words(config, node, &config->include, "include", err);
                if (r == 0)
                        r = check_words(config, node, &config->exclude, "exclude", err);
                if (r < 0)
                        return r;
        }
        size_t kept = 0;
        for (size_t i = 0; i < *count; i++) {
                bool in = config->include.count == 0 || named_by(&config->include, &targets[i]);
                if (in && !named_by(&config->exclude, &targets[i]))
                        targets[kept++] = targets[i];
        }
        *count = kept;
        return 0;
}
