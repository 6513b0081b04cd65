/* The desired targets of a node; see desired.h. */
#include "agent/desired.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

int agent_desired_targets(const struct node *node, const struct agent_options *options,
                          struct desired_target **ret_desired, size_t *ret_count, struct error *err)
{
        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        int r = node_targets(node, options->whole_gpus, &targets, &count);
        if (r < 0)
                return error_set(err, r, "cannot list the targets of this node: %s", strerror(-r));
        struct desired_target *desired = calloc(count + 1, sizeof(*desired));
        if (!desired)
                return error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++)
                desired[i] =
                    (struct desired_target){.target = targets[i], .limits = {.priority = -1}};
        *ret_desired = desired;
        *ret_count = count;
        return 0;
}
