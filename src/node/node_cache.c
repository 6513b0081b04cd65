/* node.json: the node model written as JSON (jansson) and read back with every bound checked, in
 * a file of the runtime folder replaced whole by rename. */
#define _GNU_SOURCE
#include "node/node_cache.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/safe_fs.h"

#define NODE_CACHE_SCHEMA 1
#define NODE_CACHE_MODE   0644

static json_t *gpu_json(const struct gpu *gpu)
{
        json_t *item = json_pack(
            "{s:I, s:s, s:s, s:i, s:i, s:I, s:I, s:i, s:I, s:I, s:s}", "index",
            (json_int_t)gpu->index, "uuid", gpu->uuid, "name", gpu->name, "mig_current",
            (int)gpu->mig_current, "mig_pending", (int)gpu->mig_pending, "memory_bytes",
            (json_int_t)gpu->memory_bytes, "sm_count", (json_int_t)gpu->sm_count, "compute_mode",
            (int)gpu->compute_mode, "first_mig_device", (json_int_t)gpu->first_mig_device,
            "mig_device_count", (json_int_t)gpu->mig_device_count, "pci_bus_id", gpu->pci_bus_id);
        /* Only node_cache_format_with_lost gets here with a lost GPU. */
        if (item && gpu->lost &&
            (json_object_set_new(item, "lost", json_true()) < 0 ||
             json_object_set_new(item, "lost_reason", json_string(gpu->lost_reason)) < 0)) {
                json_decref(item);
                return NULL;
        }
        return item;
}

static json_t *mig_json(const struct mig_device *mig)
{
        return json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:I}", "gpu_index",
                         (json_int_t)mig->gpu_index, "device_index", (json_int_t)mig->device_index,
                         "gpu_instance_id", (json_int_t)mig->gpu_instance_id, "compute_instance_id",
                         (json_int_t)mig->compute_instance_id, "uuid", mig->uuid, "profile",
                         mig->profile, "sm_count", (json_int_t)mig->sm_count, "memory_bytes",
                         (json_int_t)mig->memory_bytes);
}

static int format_node(const struct node *node, char **ret_text)
{
        json_auto_t *gpus = json_array();
        json_auto_t *migs = json_array();
        if (!gpus || !migs)
                return -ENOMEM;
        for (size_t i = 0; i < node->gpu_count; i++)
                if (json_array_append_new(gpus, gpu_json(&node->gpus[i])) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < node->mig_device_count; i++)
                if (json_array_append_new(migs, mig_json(&node->mig_devices[i])) < 0)
                        return -ENOMEM;
        json_auto_t *root = json_pack("{s:i, s:s, s:i, s:O, s:O}", "schema", NODE_CACHE_SCHEMA,
                                      "driver_version", node->driver_version, "cuda_driver_version",
                                      node->cuda_driver_version, "gpus", gpus, "mig_devices", migs);
        if (!root)
                return -ENOMEM;
        _cleanup_free_ char *line = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        if (!line)
                return -ENOMEM;
        char *text = NULL;
        if (asprintf(&text, "%s\n", line) < 0)
                return -ENOMEM;
        *ret_text = text;
        return 0;
}

int node_cache_format(const struct node *node, char **ret_text)
{
        if (node->lost_gpu_count > 0)
                return -EINVAL;
        return format_node(node, ret_text);
}

int node_cache_format_with_lost(const struct node *node, char **ret_text)
{
        return format_node(node, ret_text);
}

/* Copies a JSON string into a fixed buffer; false when it does not fit (never truncated). */
static bool copy_string(char *buffer, size_t size, const char *text)
{
        size_t length = strlen(text);
        if (length >= size)
                return false;
        memcpy(buffer, text, length + 1);
        return true;
}

static bool in_range(json_int_t value, json_int_t low, json_int_t high)
{
        return value >= low && value <= high;
}

static bool parse_gpu(json_t *item, size_t position, bool with_lost, struct gpu *gpu)
{
        json_int_t index, memory, sms, first, count;
        int mig_current, mig_pending, compute_mode, lost = 0;
        const char *uuid, *name, *bus_id = "", *lost_reason = "";
        if (json_unpack(item, "{s:I, s:s, s:s, s:i, s:i, s:I, s:I, s:i, s:I, s:I, s?s, s?b, s?s}",
                        "index", &index, "uuid", &uuid, "name", &name, "mig_current", &mig_current,
                        "mig_pending", &mig_pending, "memory_bytes", &memory, "sm_count", &sms,
                        "compute_mode", &compute_mode, "first_mig_device", &first,
                        "mig_device_count", &count, "pci_bus_id", &bus_id, "lost", &lost,
                        "lost_reason", &lost_reason) < 0)
                return false;
        /* A lost GPU is never trusted from the file: only the NVML child's answer carries one. */
        if (lost && (!with_lost || count != 0))
                return false;
        if (!copy_string(gpu->pci_bus_id, sizeof(gpu->pci_bus_id), bus_id) ||
            !copy_string(gpu->lost_reason, sizeof(gpu->lost_reason), lost_reason))
                return false;
        gpu->lost = lost;
        if (index != (json_int_t)position || !in_range(mig_current, -1, 1) ||
            !in_range(mig_pending, -1, 1) || !in_range(compute_mode, -1, 3) || memory < 0 ||
            !in_range(sms, 0, 0xffffffffLL) || first < 0 || count < 0 ||
            !copy_string(gpu->uuid, sizeof(gpu->uuid), uuid) ||
            !copy_string(gpu->name, sizeof(gpu->name), name))
                return false;
        gpu->index = (unsigned)index;
        gpu->mig_current = (enum mig_mode)mig_current;
        gpu->mig_pending = (enum mig_mode)mig_pending;
        gpu->compute_mode = (enum compute_mode)compute_mode;
        gpu->memory_bytes = (unsigned long long)memory;
        gpu->sm_count = (unsigned)sms;
        gpu->first_mig_device = (size_t)first;
        gpu->mig_device_count = (size_t)count;
        return true;
}

static bool parse_mig(json_t *item, struct mig_device *mig)
{
        json_int_t gpu, device, gi, ci, sms, memory;
        const char *uuid, *profile;
        if (json_unpack(item, "{s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:I}", "gpu_index", &gpu,
                        "device_index", &device, "gpu_instance_id", &gi, "compute_instance_id", &ci,
                        "uuid", &uuid, "profile", &profile, "sm_count", &sms, "memory_bytes",
                        &memory) < 0)
                return false;
        if (!in_range(gpu, 0, 0xffffffffLL) || !in_range(device, 0, 0xffffffffLL) ||
            !in_range(gi, 0, 0xffffffffLL) || !in_range(ci, 0, 0xffffffffLL) ||
            !in_range(sms, 0, 0xffffffffLL) || memory < 0 ||
            !copy_string(mig->uuid, sizeof(mig->uuid), uuid) ||
            !copy_string(mig->profile, sizeof(mig->profile), profile))
                return false;
        mig->gpu_index = (unsigned)gpu;
        mig->device_index = (unsigned)device;
        mig->gpu_instance_id = (unsigned)gi;
        mig->compute_instance_id = (unsigned)ci;
        mig->sm_count = (unsigned)sms;
        mig->memory_bytes = (unsigned long long)memory;
        return true;
}

/* Every GPU's MIG devices follow the previous GPU's, name it as their parent, and the ranges
 * cover the array exactly: what node_targets() and target_resolve() index by. */
static bool ranges_fit(const struct node *node)
{
        size_t next = 0;
        for (size_t g = 0; g < node->gpu_count; g++) {
                const struct gpu *gpu = &node->gpus[g];
                if (gpu->first_mig_device != next ||
                    gpu->mig_device_count > node->mig_device_count - next)
                        return false;
                for (size_t m = 0; m < gpu->mig_device_count; m++)
                        if (node->mig_devices[next + m].gpu_index != gpu->index)
                                return false;
                next += gpu->mig_device_count;
        }
        return next == node->mig_device_count;
}

static int parse_node(const char *text, size_t size, bool with_lost, struct node **ret_node)
{
        json_error_t json_error;
        json_auto_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &json_error);
        int schema, cuda_version;
        const char *driver;
        json_t *gpus, *migs;
        if (!root ||
            json_unpack(root, "{s:i, s:s, s:i, s:o, s:o}", "schema", &schema, "driver_version",
                        &driver, "cuda_driver_version", &cuda_version, "gpus", &gpus, "mig_devices",
                        &migs) < 0 ||
            schema != NODE_CACHE_SCHEMA || !json_is_array(gpus) || !json_is_array(migs))
                return -EBADMSG;

        _cleanup_node_ struct node *node = calloc(1, sizeof(*node));
        if (!node)
                return -ENOMEM;
        if (!copy_string(node->driver_version, sizeof(node->driver_version), driver))
                return -EBADMSG;
        node->cuda_driver_version = cuda_version;
        size_t gpu_count = json_array_size(gpus), mig_count = json_array_size(migs);
        if (gpu_count > 0 && !(node->gpus = calloc(gpu_count, sizeof(*node->gpus))))
                return -ENOMEM;
        node->gpu_count = gpu_count;
        if (mig_count > 0 && !(node->mig_devices = calloc(mig_count, sizeof(*node->mig_devices))))
                return -ENOMEM;
        node->mig_device_count = mig_count;
        for (size_t i = 0; i < gpu_count; i++)
                if (!parse_gpu(json_array_get(gpus, i), i, with_lost, &node->gpus[i]))
                        return -EBADMSG;
                else
                        node->lost_gpu_count += node->gpus[i].lost;
        for (size_t i = 0; i < mig_count; i++)
                if (!parse_mig(json_array_get(migs, i), &node->mig_devices[i]))
                        return -EBADMSG;
        if (!ranges_fit(node))
                return -EBADMSG;
        *ret_node = TAKE_PTR(node);
        return 0;
}

int node_cache_parse(const char *text, size_t size, struct node **ret_node)
{
        return parse_node(text, size, false, ret_node);
}

int node_cache_parse_with_lost(const char *text, size_t size, struct node **ret_node)
{
        return parse_node(text, size, true, ret_node);
}

int node_cache_read(int runtime_fd, struct node **ret_node)
{
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = safe_fs_read_trusted_file(runtime_fd, NODE_CACHE_FILE, NODE_CACHE_MAX_BYTES, &text,
                                          &size);
        if (r < 0)
                return r;
        return node_cache_parse(text, size, ret_node);
}

int node_cache_write(int runtime_fd, const char *runtime_dir, const struct node *node,
                     struct error *err)
{
        _cleanup_free_ char *text = NULL;
        /* A node with a lost GPU is no node to start ahead from: the next start reads NVML
         * first, and only NVML says when the GPU is back. */
        if (node->lost_gpu_count > 0) {
                int r = safe_fs_unlink(runtime_fd, NODE_CACHE_FILE);
                if (r < 0)
                        return error_set(err, r, "cannot remove the node cache %s/%s: %s",
                                         runtime_dir, NODE_CACHE_FILE, strerror(-r));
                return 0;
        }
        int r = node_cache_format(node, &text);
        if (r < 0)
                return error_set(err, r, "cannot write the node cache: %s", strerror(-r));
        size_t size = strlen(text);

        _cleanup_free_ char *old = NULL;
        size_t old_size;
        if (safe_fs_read_trusted_file(runtime_fd, NODE_CACHE_FILE, NODE_CACHE_MAX_BYTES, &old,
                                      &old_size) == 0 &&
            old_size == size && memcmp(old, text, size) == 0)
                return 0;
        r = safe_fs_replace_file(runtime_fd, NODE_CACHE_FILE, text, size, NODE_CACHE_MODE);
        if (r < 0)
                return error_set(err, r, "cannot write the node cache %s/%s: %s", runtime_dir,
                                 NODE_CACHE_FILE, strerror(-r));
        return 0;
}
