/* Fuzz target for target names as users type them: the input, cut at newlines into up to eight
 * names, is resolved on a fixed node shaped like the seed A30 (a GPU in MIG mode with four compute
 * instances, and a whole GPU); what the resolver accepts must be targets of that node, in node
 * order, without duplicates, and what it refuses must say why. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/target_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 8

static void check(bool ok)
{
        if (!ok)
                abort();
}

static struct mig_device migs[] = {
    {.gpu_index = 0,
     .device_index = 0,
     .gpu_instance_id = 1,
     .compute_instance_id = 0,
     .uuid = "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0",
     .profile = "1c.2g.12gb"},
    {.gpu_index = 0,
     .device_index = 1,
     .gpu_instance_id = 1,
     .compute_instance_id = 1,
     .uuid = "MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9",
     .profile = "1c.2g.12gb"},
    {.gpu_index = 0,
     .device_index = 2,
     .gpu_instance_id = 2,
     .compute_instance_id = 0,
     .uuid = "MIG-22f0c05f-0000-5ea2-8297-789695656dc0",
     .profile = "2g.12gb"},
    {.gpu_index = 0,
     .device_index = 3,
     .gpu_instance_id = 3,
     .compute_instance_id = 0,
     .uuid = "MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733",
     .profile = "1g.6gb"},
};

static struct gpu gpus[] = {
    {.index = 0,
     .uuid = "GPU-8f8bff94-112e-9541-43da-cfd453333404",
     .name = "NVIDIA A30",
     .mig_current = MIG_MODE_ENABLED,
     .mig_pending = MIG_MODE_ENABLED,
     .first_mig_device = 0,
     .mig_device_count = 4},
    {.index = 1,
     .uuid = "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38",
     .name = "NVIDIA A30",
     .mig_current = MIG_MODE_DISABLED,
     .mig_pending = MIG_MODE_DISABLED},
    {.index = 2,
     .uuid = "GPU-46d1eefe-dfc8-2f00-16a9-95c08e019d47",
     .name = "NVIDIA H100",
     .mig_current = MIG_MODE_ENABLED,
     .mig_pending = MIG_MODE_DISABLED},
};

static const struct node node = {
    .driver_version = "545.23.08",
    .gpus = gpus,
    .gpu_count = 3,
    .mig_devices = migs,
    .mig_device_count = 4,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        /* first byte: the flags; the rest: names separated by newlines */
        bool whole_gpus = data[0] & 1, allow_auto = data[0] & 2;
        char *text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        char *names[MAX_NAMES];
        size_t count = 0;
        for (char *p = text; count < MAX_NAMES;) {
                names[count++] = p;
                char *newline = strchr(p, '\n');
                if (!newline)
                        break;
                *newline = '\0';
                p = newline + 1;
        }

        struct target *all = NULL;
        size_t all_count = 0;
        check(node_targets(&node, true, &all, &all_count) >= 0);

        struct target *targets = (struct target *)&node; /* poison: must survive a failure */
        size_t target_count = 999;
        struct error err = {0};
        int r = target_resolve(&node, names, count, whole_gpus, allow_auto, &targets, &target_count,
                               &err);
        if (r < 0) {
                check(r == -ENOENT || r == -EINVAL || r == -ENXIO);
                check(err.code == r && err.message[0] != '\0');
                check(memchr(err.message, '\0', sizeof(err.message)) != NULL);
                check(targets == (struct target *)&node && target_count == 999);
        } else {
                check(target_count >= 1 && target_count <= all_count);
                /* each a target of the node, strictly in node order (so no duplicates) */
                size_t at = 0;
                for (size_t i = 0; i < target_count; i++) {
                        while (at < all_count && all[at].uuid != targets[i].uuid)
                                at++;
                        check(at < all_count);
                        check(targets[i].kind == all[at].kind && targets[i].gpu == all[at].gpu &&
                              targets[i].mig_device == all[at].mig_device);
                        at++;
                        char short_name[32];
                        check(target_short_name(&targets[i], short_name, sizeof(short_name)) == 0);
                }
                free(targets);
        }
        free(all);
        free(text);
        return 0;
}
