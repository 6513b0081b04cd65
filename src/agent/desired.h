/* Which targets the agent serves, and with which limits: today every MIG device of the node (and
 * every whole GPU with --whole-gpus), without limits of their own. The one place where the
 * configuration file will choose (docs/agent.md, "Configuration"). */
#pragma once

#include <stddef.h>

#include "agent/agent.h"
#include "base/error.h"
#include "node/node.h"

/* A daemon's own limits, applied after each (re)start; 0 (or -1 for priority): not set. */
struct daemon_limits {
        unsigned thread_percentage;      /* set_default_active_thread_percentage, 1-100 */
        unsigned long long pinned_bytes; /* set_default_device_pinned_mem_limit */
        int priority;                    /* set_default_client_priority, 0 or 1 */
};

struct desired_target {
        struct target target; /* its pointers point into the node */
        struct daemon_limits limits;
};

/* The desired targets of `node` (its lost GPUs never among them), in nvidia-smi order.
 * *ret_desired is malloc'd. */
int agent_desired_targets(const struct node *node, const struct agent_options *options,
                          struct desired_target **ret_desired, size_t *ret_count,
                          struct error *err);
