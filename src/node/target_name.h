/* Naming targets on the command line: a full UUID, a unique UUID prefix, GPU:GI:CI indexes,
 * a GPU index for a whole GPU, a profile name (every instance of it), or `auto`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "node/node.h"

/*
 * Resolves `names` (as typed by the user) into targets of `node`, in nvidia-smi -L order, without
 * duplicates. No names: every target (node_targets(node, whole_gpus)). A name that matches
 * nothing, or a UUID prefix / index that matches more than one thing, fails with -ENOENT /
 * -EINVAL and a message that lists the candidates. `auto` is not resolved here (it needs daemon
 * state): it fails with -EINVAL unless `allow_auto`, in which case it yields every target and the
 * caller picks. A GPU index (`1`) names a whole GPU and is only valid when that GPU's MIG mode is
 * disabled or unsupported. The array is malloc'd; its entries point into `node`.
 */
int target_resolve(const struct node *node, char *const *names, size_t name_count, bool whole_gpus,
                   bool allow_auto, struct target **ret_targets, size_t *ret_count,
                   struct error *err);

/* "0:1:0" for a MIG device, "1" for a whole GPU (or a lost one), "-" for an orphan: the short
 * name list and status print. */
int target_short_name(const struct target *target, char *buffer, size_t size);

/* "mig_device", "gpu", "orphan" or "lost_gpu": the `kind` of a target in every JSON document
 * (docs/json.md). */
const char *target_kind_string(enum target_kind kind);
