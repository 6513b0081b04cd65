/* Which targets the agent serves, and with which limits: the targets of the node (every MIG
 * device, and every whole GPU with --whole-gpus or the file's whole_gpus) that the configuration
 * file's include and exclude choose, each with what its sections give it (docs/config.md). */
#pragma once

#include <stddef.h>

#include "agent/agent.h"
#include "base/error.h"
#include "node/node.h"
#include "ops/config.h"

struct desired_target {
        struct target target; /* its pointers point into the node */
        struct target_limits limits;
};

/* The desired targets of `node` (its lost GPUs never among them), in nvidia-smi order, chosen and
 * limited by `config` (may be NULL: every target, no limits). -EINVAL with FILE:LINE
 * for a share of memory NVML did not give. *ret_desired is malloc'd. */
int agent_desired_targets(const struct node *node, const struct agent_options *options,
                          const struct config *config, struct desired_target **ret_desired,
                          size_t *ret_count, struct error *err);
