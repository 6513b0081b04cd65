/* The desired targets of a node and their limits; see desired.h. */
#include "agent/desired.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

int agent_desired_targets(const struct node *node, const struct agent_options *options,
                          const struct config *config, struct desired_target **ret_desired,
                          size_t *ret_count, struct error *err)
{
        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        bool whole_gpus = options->whole_gpus || (config && config->whole_gpus);
        int r = node_targets(node, whole_gpus, &targets, &count);
        if (r < 0)
                return error_set(err, r, "cannot list the targets of this node: %s", strerror(-r));
        if (config) {
                /* Not strict, and its sections not checked against this node (that is done when
                 * the file is read): a device the file names may have vanished meanwhile. */
                r = config_select(config, node, false, targets, &count, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ struct desired_target *desired = calloc(count + 1, sizeof(*desired));
        if (!desired)
                return error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
                desired[i].target = targets[i];
                desired[i].limits = (struct target_limits){.priority = -1};
                if (config) {
                        r = config_limits_for(config, &targets[i], &desired[i].limits, err);
                        if (r < 0)
                                return r;
                }
        }
        *ret_desired = TAKE_PTR(desired);
        *ret_count = count;
        return 0;
}
