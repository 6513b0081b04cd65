/* Naming targets on the command line: turns what the user typed (a UUID or a unique UUID prefix,
 * GPU:GI:CI indexes, a GPU index, a profile name, `auto`) into targets of the node, and explains a
 * name that matches nothing or too much by listing the candidates. See target_name.h. */
#include "node/target_name.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "base/cleanup.h"

/* A UUID prefix must give this many characters after "MIG-" / "GPU-": fewer would match by
 * accident on a large node and silently change meaning when instances are recreated. */
#define UUID_PREFIX_MIN 4
/* Characters of a UUID shown in candidate lists after "MIG-" / "GPU-" (the first group). */
#define UUID_SHOWN 8

/* Every target that can be named (MIG devices and every whole-capable GPU), in nvidia-smi -L
 * order, with a flag per entry for "named so far". Marking flags keeps the result in node order
 * and free of duplicates whatever order the names came in. */
struct naming {
        const struct node *node;
        struct target *all;
        size_t count;
        bool *chosen;
};

int target_short_name(const struct target *target, char *buffer, size_t size)
{
        int n;
        if (target->kind == TARGET_MIG_DEVICE)
                n = snprintf(buffer, size, "%u:%u:%u", target->mig_device->gpu_index,
                             target->mig_device->gpu_instance_id,
                             target->mig_device->compute_instance_id);
        else if (target->kind == TARGET_ORPHAN)
                n = snprintf(buffer, size, "-"); /* NVML no longer says where it was */
        else
                n = snprintf(buffer, size, "%u", target->gpu->index);
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        return 0;
}

/* "0:1:0 MIG-22f0c05f-... (1c.2g.12gb)" or "1 GPU-0783f1eb-... (whole NVIDIA A30)"; the whole
 * UUID when `full_uuid` (an ambiguous prefix is only resolved by seeing where they differ). */
static void describe(const struct target *target, bool full_uuid, char *buffer, size_t size)
{
        char short_name[32];
        if (target_short_name(target, short_name, sizeof(short_name)) < 0)
                (void)snprintf(short_name, sizeof(short_name), "?");
        int uuid_len = (int)strlen(target->uuid);
        const char *ellipsis = "";
        if (!full_uuid && uuid_len > 4 + UUID_SHOWN) {
                uuid_len = 4 + UUID_SHOWN;
                ellipsis = "-...";
        }
        if (target->kind == TARGET_MIG_DEVICE)
                (void)snprintf(buffer, size, "%s %.*s%s (%s)", short_name, uuid_len, target->uuid,
                               ellipsis, target->mig_device->profile);
        else
                (void)snprintf(buffer, size, "%s %.*s%s (whole %s)", short_name, uuid_len,
                               target->uuid, ellipsis, target->gpu->name);
}

/* Appends ", "-separated descriptions of the targets of `naming` for which `wanted` says yes,
 * as many as fit in err's message; the rest are counted ("and 40 more: see mpsmig list"). */
static void append_list(struct error *err, const struct naming *naming, bool full_uuid,
                        bool (*wanted)(const struct target *, const void *), const void *context)
{
        if (!err)
                return;
        char *message = err->message;
        size_t size = sizeof(err->message);
        /* keep room for the tail that counts the entries left out */
        const size_t reserve = 48;
        size_t len = strlen(message);
        size_t shown = 0, left_out = 0;
        for (size_t i = 0; i < naming->count; i++) {
                if (!wanted(&naming->all[i], context))
                        continue;
                char entry[256];
                describe(&naming->all[i], full_uuid, entry, sizeof(entry));
                size_t need = strlen(entry) + (shown ? 2 : 0);
                if (left_out || len + need + reserve >= size) {
                        left_out++;
                        continue;
                }
                (void)snprintf(message + len, size - len, "%s%s", shown ? ", " : "", entry);
                len += need;
                shown++;
        }
        if (shown == 0 && left_out == 0)
                (void)snprintf(message + len, size - len, "none");
        else if (left_out)
                (void)snprintf(message + len, size - len, " and %zu more (see mpsmig list)",
                               left_out);
}

static bool any_target(const struct target *target, const void *context)
{
        return true;
}

static bool uuid_has_prefix(const struct target *target, const void *context)
{
        const char *prefix = context;
        return strncasecmp(target->uuid, prefix, strlen(prefix)) == 0;
}

static bool on_gpu(const struct target *target, const void *context)
{
        const struct gpu *gpu = context;
        return target->gpu == gpu;
}

/* Fails with `code` and "<what>; targets: <every candidate>". */
static int fail_listing_all(const struct naming *naming, struct error *err, int code,
                            const char *what)
{
        (void)error_set(err, code, "%s; targets: ", what);
        append_list(err, naming, false, any_target, NULL);
        return code;
}

/* Parses a decimal number of at most 9 digits (no sign, no spaces). */
static bool parse_index(const char *text, size_t len, unsigned *ret)
{
        if (len == 0 || len > 9)
                return false;
        unsigned value = 0;
        for (size_t i = 0; i < len; i++) {
                if (!isdigit((unsigned char)text[i]))
                        return false;
                value = value * 10 + (unsigned)(text[i] - '0');
        }
        *ret = value;
        return true;
}

/* Splits "0:1:0" (or "1") into numbers. Returns how many fields it held, or -1 when `name` is not
 * made of ':'-separated decimal numbers at all. */
static int parse_indexes(const char *name, unsigned *fields, int max_fields)
{
        int n = 0;
        const char *start = name;
        for (;;) {
                const char *colon = strchr(start, ':');
                size_t len = colon ? (size_t)(colon - start) : strlen(start);
                if (n == max_fields || !parse_index(start, len, &fields[n]))
                        return -1;
                n++;
                if (!colon)
                        return n;
                start = colon + 1;
        }
}

static bool has_uuid_prefix(const char *name)
{
        return strncasecmp(name, "MIG-", 4) == 0 || strncasecmp(name, "GPU-", 4) == 0;
}

static const struct gpu *find_gpu_by_index(const struct node *node, unsigned index)
{
        for (size_t i = 0; i < node->gpu_count; i++)
                if (node->gpus[i].index == index)
                        return &node->gpus[i];
        return NULL;
}

/* The whole-GPU target of `gpu`, or -1 when its MIG mode makes it not nameable as a whole. */
static ssize_t whole_gpu_target(const struct naming *naming, const struct gpu *gpu)
{
        for (size_t i = 0; i < naming->count; i++)
                if (naming->all[i].kind == TARGET_WHOLE_GPU && naming->all[i].gpu == gpu)
                        return (ssize_t)i;
        return -1;
}

/* A GPU named as a whole (by index or UUID) that is split into MIG devices (or lost). */
static int fail_gpu_in_mig_mode(const struct naming *naming, const struct gpu *gpu,
                                const char *name, struct error *err)
{
        if (gpu->lost)
                return error_set(err, -ENXIO, "'%s' names GPU %u, which is lost: %s", name,
                                 gpu->index, gpu->lost_reason);
        if (gpu->mig_device_count == 0)
                return error_set(err, -EINVAL,
                                 "'%s' names GPU %u, whose MIG mode is %s and which has no MIG "
                                 "devices: there is nothing to run a daemon on (create GPU and "
                                 "compute instances, or disable MIG)",
                                 name, gpu->index, gpu_mig_state_string(gpu));
        (void)error_set(err, -EINVAL,
                        "'%s' names GPU %u, whose MIG mode is %s: it runs no daemon of its own; "
                        "name its MIG devices instead (or a profile): ",
                        name, gpu->index, gpu_mig_state_string(gpu));
        append_list(err, naming, false, on_gpu, gpu);
        return -EINVAL;
}

static int choose_by_uuid(struct naming *naming, const char *name, struct error *err)
{
        size_t given = strlen(name) - 4;
        size_t matches = 0, match = 0;
        for (size_t i = 0; i < naming->count; i++)
                if (uuid_has_prefix(&naming->all[i], name)) {
                        matches++;
                        match = i;
                }

        if (matches == 0) {
                for (size_t i = 0; i < naming->node->gpu_count; i++) {
                        const struct gpu *gpu = &naming->node->gpus[i];
                        if (given >= UUID_PREFIX_MIN &&
                            strncasecmp(gpu->uuid, name, strlen(name)) == 0)
                                return fail_gpu_in_mig_mode(naming, gpu, name, err);
                }
                char what[300];
                (void)snprintf(what, sizeof(what), "no target matches '%s'", name);
                return fail_listing_all(naming, err, -ENOENT, what);
        }
        if (given < UUID_PREFIX_MIN) {
                (void)error_set(err, -EINVAL,
                                "'%s' is too short a UUID prefix: give at least %d characters "
                                "after '%.4s'; it matches: ",
                                name, UUID_PREFIX_MIN, name);
                append_list(err, naming, false, uuid_has_prefix, name);
                return -EINVAL;
        }
        if (matches > 1) {
                (void)error_set(err, -EINVAL,
                                "'%s' matches %zu targets; give more of the UUID: ", name, matches);
                append_list(err, naming, true, uuid_has_prefix, name);
                return -EINVAL;
        }
        naming->chosen[match] = true;
        return 0;
}

/* The R450/R460 form "MIG-GPU-<gpu uuid>/<gi>/<ci>", which newer NVML still accepts. */
static int choose_by_legacy_mig_uuid(struct naming *naming, const char *name, struct error *err)
{
        const char *gpu_uuid = name + 4;
        const char *slash = strchr(gpu_uuid, '/');
        unsigned fields[2];
        const char *ids = slash + 1;
        const char *second = strchr(ids, '/');
        if (!second || !parse_index(ids, (size_t)(second - ids), &fields[0]) ||
            !parse_index(second + 1, strlen(second + 1), &fields[1])) {
                char what[300];
                (void)snprintf(what, sizeof(what),
                               "'%s' is not a MIG UUID (MIG-GPU-<uuid>/<GI>/<CI>)", name);
                return fail_listing_all(naming, err, -EINVAL, what);
        }
        size_t gpu_uuid_len = (size_t)(slash - gpu_uuid);
        for (size_t i = 0; i < naming->count; i++) {
                const struct target *target = &naming->all[i];
                if (target->kind != TARGET_MIG_DEVICE)
                        continue;
                if (strlen(target->gpu->uuid) == gpu_uuid_len &&
                    strncasecmp(target->gpu->uuid, gpu_uuid, gpu_uuid_len) == 0 &&
                    target->mig_device->gpu_instance_id == fields[0] &&
                    target->mig_device->compute_instance_id == fields[1]) {
                        naming->chosen[i] = true;
                        return 0;
                }
        }
        char what[300];
        (void)snprintf(what, sizeof(what), "no target matches '%s'", name);
        return fail_listing_all(naming, err, -ENOENT, what);
}

static int choose_by_indexes(struct naming *naming, const char *name, const unsigned *fields,
                             int field_count, struct error *err)
{
        char what[300];
        if (field_count == 1) {
                const struct gpu *gpu = find_gpu_by_index(naming->node, fields[0]);
                if (!gpu) {
                        (void)snprintf(what, sizeof(what), "there is no GPU %u", fields[0]);
                        return fail_listing_all(naming, err, -ENOENT, what);
                }
                ssize_t whole = whole_gpu_target(naming, gpu);
                if (whole < 0)
                        return fail_gpu_in_mig_mode(naming, gpu, name, err);
                naming->chosen[whole] = true;
                return 0;
        }
        if (field_count != 3) {
                (void)snprintf(what, sizeof(what),
                               "'%s' is not a target name: give GPU:GI:CI (as in 0:1:0) or a GPU "
                               "index",
                               name);
                return fail_listing_all(naming, err, -EINVAL, what);
        }
        for (size_t i = 0; i < naming->count; i++) {
                const struct mig_device *mig = naming->all[i].mig_device;
                if (mig && mig->gpu_index == fields[0] && mig->gpu_instance_id == fields[1] &&
                    mig->compute_instance_id == fields[2]) {
                        naming->chosen[i] = true;
                        return 0;
                }
        }
        (void)snprintf(what, sizeof(what), "no MIG device %u:%u:%u (GPU:GI:CI)", fields[0],
                       fields[1], fields[2]);
        return fail_listing_all(naming, err, -ENOENT, what);
}

/* "1c.2g.12gb" (a compute instance smaller than its GPU instance) is also named by its GPU
 * instance's profile "2g.12gb"; "1g.10gb" only by itself. */
static bool profile_matches(const char *profile, const char *name)
{
        if (strcasecmp(profile, name) == 0)
                return true;
        const char *p = profile;
        while (isdigit((unsigned char)*p))
                p++;
        if (p != profile && p[0] == 'c' && p[1] == '.')
                return strcasecmp(p + 2, name) == 0;
        return false;
}

static int choose_by_profile(struct naming *naming, const char *name, struct error *err)
{
        size_t matches = 0;
        for (size_t i = 0; i < naming->count; i++) {
                const struct mig_device *mig = naming->all[i].mig_device;
                if (mig && profile_matches(mig->profile, name)) {
                        naming->chosen[i] = true;
                        matches++;
                }
        }
        if (matches > 0)
                return 0;
        char what[300];
        (void)snprintf(what, sizeof(what), "no target matches '%s'", name);
        return fail_listing_all(naming, err, -ENOENT, what);
}

static int choose(struct naming *naming, const char *name, bool whole_gpus, bool allow_auto,
                  struct error *err)
{
        if (name[0] == '\0')
                return fail_listing_all(naming, err, -EINVAL, "an empty target name");

        if (strcasecmp(name, "auto") == 0) {
                if (!allow_auto)
                        return error_set(err, -EINVAL,
                                         "'auto' is only valid for `mpsmig run --on`: name the "
                                         "targets, or give none for all of them");
                for (size_t i = 0; i < naming->count; i++)
                        if (naming->all[i].kind == TARGET_MIG_DEVICE || whole_gpus)
                                naming->chosen[i] = true;
                return 0;
        }

        if (has_uuid_prefix(name)) {
                if (strncasecmp(name, "MIG-GPU-", 8) == 0 && strchr(name, '/'))
                        return choose_by_legacy_mig_uuid(naming, name, err);
                return choose_by_uuid(naming, name, err);
        }

        unsigned fields[3];
        int field_count = parse_indexes(name, fields, 3);
        if (field_count > 0)
                return choose_by_indexes(naming, name, fields, field_count, err);
        if (strchr(name, ':') && strspn(name, "0123456789:") == strlen(name)) {
                char what[300];
                (void)snprintf(what, sizeof(what),
                               "'%s' is not a target name: give GPU:GI:CI (as in 0:1:0) or a GPU "
                               "index",
                               name);
                return fail_listing_all(naming, err, -EINVAL, what);
        }

        return choose_by_profile(naming, name, err);
}

int target_resolve(const struct node *node, char *const *names, size_t name_count, bool whole_gpus,
                   bool allow_auto, struct target **ret_targets, size_t *ret_count,
                   struct error *err)
{
        if (name_count == 0) {
                int r = node_targets(node, whole_gpus, ret_targets, ret_count);
                if (r < 0)
                        return error_set(err, r, "cannot list the targets of this node: %s",
                                         strerror(-r));
                return 0;
        }

        _cleanup_free_ struct target *all = NULL;
        size_t count = 0;
        int r = node_targets(node, true, &all, &count);
        if (r < 0)
                return error_set(err, r, "cannot list the targets of this node: %s", strerror(-r));
        _cleanup_free_ bool *chosen = calloc(count ? count : 1, sizeof(bool));
        if (!chosen)
                return error_set(err, -ENOMEM, "out of memory");
        struct naming naming = {.node = node, .all = all, .count = count, .chosen = chosen};

        for (size_t i = 0; i < name_count; i++) {
                r = choose(&naming, names[i], whole_gpus, allow_auto, err);
                if (r < 0)
                        return r;
        }

        size_t chosen_count = 0;
        for (size_t i = 0; i < count; i++)
                chosen_count += chosen[i];
        struct target *result = calloc(chosen_count ? chosen_count : 1, sizeof(*result));
        if (!result)
                return error_set(err, -ENOMEM, "out of memory");
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
                if (chosen[i])
                        result[n++] = all[i];
        *ret_targets = result;
        *ret_count = n;
        return 0;
}

const char *target_kind_string(enum target_kind kind)
{
        switch (kind) {
        case TARGET_MIG_DEVICE:
                return "mig_device";
        case TARGET_ORPHAN:
                return "orphan";
        case TARGET_LOST_GPU:
                return "lost_gpu";
        case TARGET_WHOLE_GPU:
                break;
        }
        return "gpu";
}
