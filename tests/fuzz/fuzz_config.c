/* Fuzz target for the configuration file: the input is read as mpsmig.conf (base/ini.c, then
 * ops/config.c) and, when it parses, checked against a fixed node shaped like an H200 cut into
 * MIG instances plus a whole GPU, every target's limits resolved and include/exclude applied.
 * A refusal must be one `FILE:LINE: message` (or a size or memory error); what is accepted must
 * give limits in range, from sections of the file, and a selection that only drops targets. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIB  (1024ULL * 1024ULL)
#define PATH "fuzz.conf"

static void check(bool ok)
{
        if (!ok)
                abort();
}

static struct mig_device migs[] = {
    {.gpu_index = 0,
     .gpu_instance_id = 9,
     .uuid = "MIG-aaaaaaaa-0000-5000-8000-000000000000",
     .profile = "1g.18gb",
     .memory_bytes = 16384 * MIB},
    {.gpu_index = 0,
     .device_index = 1,
     .gpu_instance_id = 3,
     .uuid = "MIG-aaaaaaaa-0000-5000-8000-000000000001",
     .profile = "2g.35gb",
     .memory_bytes = 0}, /* NVML did not tell: a percentage must be refused */
};

static struct gpu gpus[] = {
    {.index = 0,
     .uuid = "GPU-11111111-0000-5000-8000-000000000000",
     .mig_current = MIG_MODE_ENABLED,
     .mig_pending = MIG_MODE_ENABLED,
     .memory_bytes = 143771 * MIB,
     .first_mig_device = 0,
     .mig_device_count = 2},
    {.index = 1,
     .uuid = "GPU-22222222-0000-5000-8000-000000000000",
     .mig_current = MIG_MODE_DISABLED,
     .mig_pending = MIG_MODE_DISABLED,
     .memory_bytes = 143771 * MIB},
};

static const struct node node = {
    .gpus = gpus, .gpu_count = 2, .mig_devices = migs, .mig_device_count = 2};

/* A refusal is one line that names the file, and for a bad line, the line. */
static void check_refusal(int r, const struct error *err)
{
        check(r == -EINVAL || r == -EFBIG || r == -ENOMEM);
        check(err->code == r && err->message[0] != '\0');
        check(memchr(err->message, '\0', sizeof(err->message)) != NULL);
        check(strchr(err->message, '\n') == NULL);
        if (r == -EINVAL) {
                unsigned line = 0;
                check(sscanf(err->message, PATH ":%u: ", &line) == 1 && line >= 1);
        }
}

static void check_origin(const struct config *config, const struct config_origin *origin)
{
        check(origin->scope >= CONFIG_SCOPE_GLOBAL && origin->scope <= CONFIG_SCOPE_INSTANCE);
        bool found = false;
        for (size_t s = 0; s < config->section_count; s++)
                found |= config->sections[s].scope == origin->scope &&
                         config->sections[s].line < origin->line;
        check(found);
}

static void check_limits(const struct config *config, const struct target *target)
{
        struct target_limits limits;
        struct error err = {0};
        int r = config_limits_for(config, target, &limits, &err);
        if (r < 0) {
                check_refusal(r, &err);
                return;
        }
        if (limits.threads) {
                check(limits.threads <= 100);
                check_origin(config, &limits.threads_from);
        }
        if (limits.pinned_bytes) {
                check(limits.pinned_bytes % MIB == 0);
                check_origin(config, &limits.pinned_from);
                unsigned long long memory = target->mig_device ? target->mig_device->memory_bytes
                                                               : target->gpu->memory_bytes;
                if (limits.pinned_percent)
                        check(limits.pinned_bytes <= memory);
        }
        check(limits.priority >= -1 && limits.priority <= 1);
        if (limits.priority >= 0)
                check_origin(config, &limits.priority_from);
        if (limits.server)
                check_origin(config, &limits.server_from);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct config *config = (struct config *)&node; /* poison: must survive a failure */
        struct error err = {0};
        int r = config_parse(PATH, (const char *)data, size, &config, &err);
        if (r < 0) {
                check_refusal(r, &err);
                check(config == (struct config *)&node);
                return 0;
        }
        check(strcmp(config->path, PATH) == 0);
        for (size_t s = 0; s < config->section_count; s++)
                check(config->sections[s].line >= 1 &&
                      (s == 0 || config->sections[s].line > config->sections[s - 1].line));
        check(!config->group.set || config->user.set);

        struct target targets[] = {
            {.kind = TARGET_MIG_DEVICE,
             .uuid = migs[0].uuid,
             .gpu = &gpus[0],
             .mig_device = &migs[0]},
            {.kind = TARGET_MIG_DEVICE,
             .uuid = migs[1].uuid,
             .gpu = &gpus[0],
             .mig_device = &migs[1]},
            {.kind = TARGET_WHOLE_GPU, .uuid = gpus[1].uuid, .gpu = &gpus[1]},
        };
        size_t unused = 0;
        r = config_check_node(config, &node, &unused, &err);
        if (r < 0)
                check_refusal(r, &err);
        else
                for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
                        check_limits(config, &targets[t]);
        size_t count = sizeof(targets) / sizeof(targets[0]);
        const char *before[3] = {targets[0].uuid, targets[1].uuid, targets[2].uuid};
        r = config_select(config, &node, true, targets, &count, &err);
        if (r < 0) {
                check_refusal(r, &err);
        } else {
                /* only drops, in order */
                check(count <= 3);
                for (size_t i = 0, at = 0; i < count; i++, at++) {
                        while (at < 3 && before[at] != targets[i].uuid)
                                at++;
                        check(at < 3);
                }
        }
        config_free(config);
        return 0;
}
