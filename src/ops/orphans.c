/* Devices that still have folders (and perhaps a daemon) of the layout although NVML no longer
 * lists them — a destroyed MIG instance, a lost GPU's devices — found from the folders, so that
 * `status` shows them and `stop` ends them; and the lost GPUs' own rows for `status`. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/safe_fs.h"
#include "node/node_cache.h"
#include "node/target_name.h"
#include "ops/ops.h"

typedef char uuid_text[NODE_UUID_MAX];

/* "MIG-..." or "GPU-...", letters, digits and '-' only: what layout_paths() accepts. */
static bool looks_like_uuid(const char *name)
{
        size_t length = strlen(name);
        if (length <= 4 || length >= NODE_UUID_MAX ||
            (strncmp(name, "MIG-", 4) != 0 && strncmp(name, "GPU-", 4) != 0))
                return false;
        for (size_t i = 0; i < length; i++)
                if (!isalnum((unsigned char)name[i]) && name[i] != '-')
                        return false;
        return true;
}

/* Whether NVML lists `uuid` on a GPU that answers. */
static bool node_lists(const struct node *node, const char *uuid)
{
        for (size_t i = 0; i < node->gpu_count; i++)
                if (!node->gpus[i].lost && strcmp(node->gpus[i].uuid, uuid) == 0)
                        return true;
        for (size_t i = 0; i < node->mig_device_count; i++)
                if (strcmp(node->mig_devices[i].uuid, uuid) == 0)
                        return true;
        return false;
}

struct orphan_list {
        uuid_text *uuids;
        size_t count;
        size_t capacity;
};

static int list_add(struct orphan_list *list, const struct node *node, const char *uuid)
{
        if (!looks_like_uuid(uuid) || node_lists(node, uuid))
                return 0;
        for (size_t i = 0; i < list->count; i++)
                if (strcmp(list->uuids[i], uuid) == 0)
                        return 0;
        if (list->count == list->capacity) {
                size_t bigger = list->capacity ? list->capacity * 2 : 8;
                uuid_text *grown = reallocarray(list->uuids, bigger, sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                list->uuids = grown;
                list->capacity = bigger;
        }
        (void)snprintf(list->uuids[list->count++], sizeof(uuid_text), "%s", uuid);
        return 0;
}

/* Default layout: every <UUID> folder of the runtime folder that mpsmig made (its marker) for a
 * device NVML does not list. The runtime folder is this layout's alone, so whatever is there was
 * started by mpsmig on this node. */
static int scan_runtime_dir(const struct ops_context *context, int runtime_fd,
                            struct orphan_list *list)
{
        int listing = openat(runtime_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (listing < 0)
                return -errno;
        _cleanup_closedir_ DIR *dir = fdopendir(listing);
        if (!dir) {
                (void)close(listing);
                return -errno;
        }
        struct dirent *entry;
        while ((entry = readdir(dir))) {
                if (!looks_like_uuid(entry->d_name))
                        continue;
                _cleanup_close_ int fd = openat(runtime_fd, entry->d_name,
                                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || !safe_fs_is_marked(fd))
                        continue;
                int r = list_add(list, context->node, entry->d_name);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Seed layout: /tmp is shared by everything on the machine (other runtime folders, other
 * simulated nodes in the tests), so a /tmp/mps_<UUID> counts as this node's only for a device
 * that the node cache (what the last `start` saw here) lists and NVML no longer does. */
static int scan_seed_dir(const struct ops_context *context, int runtime_fd,
                         struct orphan_list *list)
{
        _cleanup_node_ struct node *cached = NULL;
        if (node_cache_read(runtime_fd, &cached) < 0)
                return 0;
        size_t total = cached->gpu_count + cached->mig_device_count;
        for (size_t i = 0; i < total; i++) {
                const char *uuid = i < cached->gpu_count
                                       ? cached->gpus[i].uuid
                                       : cached->mig_devices[i - cached->gpu_count].uuid;
                if (!looks_like_uuid(uuid))
                        continue;
                char pipe[NODE_UUID_MAX + 64], log[NODE_UUID_MAX + 64];
                (void)snprintf(pipe, sizeof(pipe), "%s/%s%s", LAYOUT_SEED_DIR,
                               LAYOUT_SEED_PIPE_PREFIX, uuid);
                (void)snprintf(log, sizeof(log), "%s/%s%s", LAYOUT_SEED_DIR, LAYOUT_SEED_LOG_PREFIX,
                               uuid);
                struct stat st;
                if (lstat(pipe, &st) < 0 && lstat(log, &st) < 0)
                        continue;
                int r = list_add(list, context->node, uuid);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int compare_uuids(const void *a, const void *b)
{
        return strcmp(a, b);
}

/* The orphans of the context's layout, sorted, into context->orphan_uuids. A runtime folder that
 * cannot be read adds none: the verb goes on, and each target's row reports the folder. */
static int find_orphans(struct ops_context *context, struct error *err)
{
        _cleanup_close_ int runtime_fd = -1;
        struct error ignored = {0};
        if (layout_open_runtime_dir(&context->layout, false, &runtime_fd, &ignored) < 0)
                return 0;
        struct orphan_list list = {0};
        int r = context->layout.kind == LAYOUT_SEED ? scan_seed_dir(context, runtime_fd, &list)
                                                    : scan_runtime_dir(context, runtime_fd, &list);
        if (r == -ENOMEM) {
                free(list.uuids);
                return error_set(err, r,
                                 "cannot look for the folders of vanished devices: out "
                                 "of memory");
        }
        if (list.count > 1)
                qsort(list.uuids, list.count, sizeof(*list.uuids), compare_uuids);
        free(context->orphan_uuids);
        context->orphan_uuids = list.uuids;
        context->orphan_count = list.count;
        return 0;
}

static int append_targets(struct ops_context *context, const struct target *more, size_t count)
{
        if (count == 0)
                return 0;
        struct target *grown =
            reallocarray(context->targets, context->target_count + count, sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        memcpy(grown + context->target_count, more, count * sizeof(*more));
        context->targets = grown;
        context->target_count += count;
        return 0;
}

int ops_resolve_with_orphans(struct ops_context *context, struct error *err)
{
        const struct ops_options *options = &context->options;
        int r = find_orphans(context, err);
        if (r < 0)
                return r;
        _cleanup_free_ bool *chosen = calloc(context->orphan_count + 1, sizeof(*chosen));
        _cleanup_free_ char **rest = calloc(options->name_count + 1, sizeof(*rest));
        if (!chosen || !rest)
                return error_set(err, -ENOMEM, "out of memory");

        /* A name that is the whole UUID of a vanished device names it; the others are NVML's. */
        size_t rest_count = 0;
        for (size_t n = 0; n < options->name_count; n++) {
                size_t o = 0;
                while (o < context->orphan_count &&
                       strcasecmp(context->orphan_uuids[o], options->names[n]) != 0)
                        o++;
                if (o < context->orphan_count)
                        chosen[o] = true;
                else
                        rest[rest_count++] = options->names[n];
        }
        if (options->name_count == 0 || rest_count > 0) {
                r = target_resolve(context->node, rest, rest_count, options->whole_gpus, false,
                                   &context->targets, &context->target_count, err);
                if (r == 0)
                        r = ops_context_select(context, err);
                if (r < 0)
                        return r;
        }
        for (size_t o = 0; o < context->orphan_count; o++) {
                if (options->name_count > 0 && !chosen[o])
                        continue;
                struct target orphan = {.kind = TARGET_ORPHAN, .uuid = context->orphan_uuids[o]};
                if (append_targets(context, &orphan, 1) < 0)
                        return error_set(err, -ENOMEM, "out of memory");
        }
        return (int)context->target_count;
}

int ops_context_add_lost_gpus(struct ops_context *context)
{
        if (context->options.name_count > 0 || !context->node)
                return 0;
        for (size_t i = 0; i < context->node->gpu_count; i++) {
                const struct gpu *gpu = &context->node->gpus[i];
                if (!gpu->lost)
                        continue;
                struct target lost = {.kind = TARGET_LOST_GPU, .uuid = gpu->uuid, .gpu = gpu};
                int r = append_targets(context, &lost, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}
