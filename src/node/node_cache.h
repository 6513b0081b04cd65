/* The node as NVML last showed it, kept as node.json in the runtime folder so that `start` can
 * begin the daemons it expects while NVML is still loading. Never trusted: start checks every
 * target against NVML before it reports, and stops what NVML no longer lists. */
#pragma once

#include <stddef.h>

#include "base/error.h"
#include "node/node.h"

#define NODE_CACHE_FILE      "node.json"
#define NODE_CACHE_MAX_BYTES (1024 * 1024) /* 56 MIG devices take about 10 KiB */

/* `node` as the cache's text (one line of JSON, keys sorted, ends in '\n'), malloc'd in *ret_text.
 * Lost GPUs have no place in it: -EINVAL for a node that has one. */
int node_cache_format(const struct node *node, char **ret_text);

/* Like node_cache_format, with lost GPUs marked ("lost": true, their reason, no MIG devices): how
 * start's NVML child hands the node over. Never written to the runtime folder. */
int node_cache_format_with_lost(const struct node *node, char **ret_text);

/* The node in a cache's text. -EBADMSG for anything that is not a well-formed cache of this
 * schema: bad JSON, a missing or mistyped field, a string too long for the node's buffers, MIG
 * device ranges that do not fit. */
int node_cache_parse(const char *text, size_t size, struct node **ret_node);

/* Like node_cache_parse, but a lost GPU (node_cache_format_with_lost) is accepted. The file in
 * the runtime folder is read with node_cache_parse only: a cache never names a lost GPU. */
int node_cache_parse_with_lost(const char *text, size_t size, struct node **ret_node);

/* Reads the cache in the runtime folder `runtime_fd`. Only a regular file (never a link) owned by
 * root or by us and writable by nobody else is read. -ENOENT when there is none, -EPERM for a
 * file that is not trusted, -EFBIG past NODE_CACHE_MAX_BYTES, -EBADMSG (node_cache_parse). */
int node_cache_read(int runtime_fd, struct node **ret_node);

/* Makes `node` the cache in `runtime_fd` unless it already is (a node with a lost GPU removes the
 * cache instead), mode 0644, replaced whole
 * (safe_fs_replace_file: a reader sees the old or the new one; a link planted under the name is
 * replaced, not followed). Callers hold the node lock. The message names `runtime_dir`. */
int node_cache_write(int runtime_fd, const char *runtime_dir, const struct node *node,
                     struct error *err);
