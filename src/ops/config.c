/* Reading mpsmig's configuration file: which file, which sections and keys exist, and what each
 * value may be. The INI reader (base/ini.c) gives lines; this gives them a meaning and refuses,
 * with FILE:LINE, anything it does not know. Resolution over a node is config_resolve.c. */
#define _GNU_SOURCE
#include "ops/config.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"

#define MIB           (1024ULL * 1024ULL)
#define GIB           (1024ULL * MIB)
#define TIMEOUT_MAX_S 3600

static const char global_keys[] = "runtime_dir, layout, whole_gpus, include, exclude, user, group, "
                                  "multiuser, start_timeout, stop_timeout";
static const char target_keys[] = "threads, pinned_mem, priority, start_server";

const char *config_choose_path(const char *option, bool *ret_named)
{
        const char *from_env = getenv(CONFIG_PATH_ENV);
        *ret_named = true;
        if (option && option[0])
                return option;
        if (from_env && from_env[0])
                return from_env;
        *ret_named = false;
        return CONFIG_PATH_DEFAULT;
}

struct config *config_new(void)
{
        struct config *config = calloc(1, sizeof(*config));
        if (config)
                config->layout = LAYOUT_DEFAULT;
        return config;
}

static void names_done(struct config_names *names)
{
        for (size_t i = 0; i < names->count; i++)
                free(names->names[i]);
        free(names->names);
}

void config_free(struct config *config)
{
        if (!config)
                return;
        names_done(&config->include);
        names_done(&config->exclude);
        free(config->sections);
        free(config);
}

const char *config_scope_name(enum config_scope scope)
{
        switch (scope) {
        case CONFIG_SCOPE_GLOBAL:
                return "global";
        case CONFIG_SCOPE_GPU:
                return "gpu";
        case CONFIG_SCOPE_PROFILE:
                return "profile";
        case CONFIG_SCOPE_INSTANCE:
                return "instance";
        case CONFIG_SCOPE_COMMAND_LINE:
                return "command line";
        case CONFIG_SCOPE_NONE:
                break;
        }
        return "-";
}

/* One line's context while its value is checked. */
struct place {
        const char *path;
        const struct ini_entry *entry;
        struct error *err;
};

static int bad(const struct place *at, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static int bad(const struct place *at, const char *format, ...)
{
        char why[sizeof(at->err->message)];
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(why, sizeof(why), format, ap);
        va_end(ap);
        return ini_error_at(at->err, -EINVAL, at->path, at->entry->line, "%s = %s: %s",
                            at->entry->key, at->entry->value, why);
}

static bool all_digits(const char *text, size_t max_digits)
{
        size_t length = strlen(text);
        return length > 0 && length <= max_digits && strspn(text, "0123456789") == length;
}

static int parse_bool(const struct place *at, bool *ret)
{
        static const char *const yes[] = {"yes", "true", "on", "1"};
        static const char *const no[] = {"no", "false", "off", "0"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(at->entry->value, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(at->entry->value, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return bad(at, "give yes or no");
}

static int parse_threads(const struct place *at, unsigned *ret)
{
        const char *value = at->entry->value;
        unsigned percent = all_digits(value, 3) ? (unsigned)strtoul(value, NULL, 10) : 0;
        if (percent < 1 || percent > 100)
                return bad(at, "give the active thread percentage as a whole number from 1 to "
                               "100");
        *ret = percent;
        return 0;
}

int config_parse_pinned(const char *value, struct config_pinned *ret_pinned, struct error *err)
{
        size_t length = strlen(value);
        struct config_pinned pinned = {.set = true};
        size_t digits = strspn(value, "0123456789");
        if (digits == 0 || digits > 9)
                return error_set(err, -EINVAL,
                                 "give a size such as 4G or 512M, or a share of the instance's "
                                 "memory such as 90%%");
        unsigned long long number = strtoull(value, NULL, 10);
        const char *unit = value + digits;
        if (strcmp(unit, "%") == 0) {
                if (number < 1 || number > 100)
                        return error_set(err, -EINVAL, "a share of memory is 1%% to 100%%");
                pinned.percent = (unsigned)number;
        } else if (digits == length) {
                /* A bare number is bytes to the driver: the unit is what is missing. */
                return error_set(err, -EINVAL, "the unit is missing: give %sG or %lluM", value,
                                 number * 1024);
        } else if (strlen(unit) != 1 || !strchr("MGTmgt", unit[0])) {
                return error_set(err, -EINVAL,
                                 "unknown unit '%s': give M, G or T (binary: 1G = 1024M), or a "
                                 "percentage",
                                 unit);
        } else {
                unsigned long long scale = unit[0] == 'M' || unit[0] == 'm'   ? MIB
                                           : unit[0] == 'G' || unit[0] == 'g' ? GIB
                                                                              : 1024 * GIB;
                if (number == 0)
                        return error_set(err, -EINVAL, "a pinned memory limit is more than 0");
                pinned.bytes = number * scale;
        }
        *ret_pinned = pinned;
        return 0;
}

static int parse_pinned(const struct place *at, struct config_pinned *ret)
{
        struct error why = {0};
        if (config_parse_pinned(at->entry->value, ret, &why) < 0)
                return bad(at, "%s", why.message);
        ret->line = at->entry->line;
        return 0;
}

static int parse_priority(const struct place *at, int *ret)
{
        const char *value = at->entry->value;
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
                return bad(at, "give 0 (normal) or 1 (below normal)");
        *ret = value[0] - '0';
        return 0;
}

/* A user by name or uid, which must exist: a daemon cannot run as, nor a server start for, a
 * user the system does not know. */
static int parse_user(const struct place *at, struct config_account *ret)
{
        const char *value = at->entry->value;
        if (value[strcspn(value, " \t,")] != '\0')
                return bad(at, "name one user");
        struct passwd entry, *found = NULL;
        char buffer[4096];
        int r;
        if (all_digits(value, 10))
                r = getpwuid_r((uid_t)strtoul(value, NULL, 10), &entry, buffer, sizeof(buffer),
                               &found);
        else
                r = getpwnam_r(value, &entry, buffer, sizeof(buffer), &found);
        if (r != 0 || !found)
                return bad(at, "no such user on this system (getent passwd %s finds nothing)",
                           value);
        *ret = (struct config_account){.set = true, .id = found->pw_uid, .gid = found->pw_gid};
        (void)snprintf(ret->name, sizeof(ret->name), "%s", found->pw_name);
        ret->line = at->entry->line;
        return 0;
}

static int parse_group(const struct place *at, struct config_account *ret)
{
        const char *value = at->entry->value;
        if (value[strcspn(value, " \t,")] != '\0')
                return bad(at, "name one group");
        struct group entry, *found = NULL;
        char buffer[16384];
        int r;
        if (all_digits(value, 10))
                r = getgrgid_r((gid_t)strtoul(value, NULL, 10), &entry, buffer, sizeof(buffer),
                               &found);
        else
                r = getgrnam_r(value, &entry, buffer, sizeof(buffer), &found);
        if (r != 0 || !found)
                return bad(at, "no such group on this system (getent group %s finds nothing)",
                           value);
        *ret = (struct config_account){.set = true, .id = found->gr_gid, .gid = found->gr_gid};
        (void)snprintf(ret->name, sizeof(ret->name), "%s", found->gr_name);
        ret->line = at->entry->line;
        return 0;
}

/* One user whose server starts ahead: a daemon runs one server at a time without -M (another
 * user's server waits until it is idle, then replaces it) and one for everybody with -M, so a
 * list would start servers that end at once. */
static int parse_server_user(const struct place *at, struct config_account *ret)
{
        const char *value = at->entry->value;
        if (value[strcspn(value, " \t,")] != '\0')
                return bad(at, "name one user: an MPS control daemon runs one server at a time "
                               "(one per user without multiuser, replaced when idle; one shared "
                               "by every user with multiuser), so only one can be started "
                               "ahead");
        return parse_user(at, ret);
}

static int parse_timeout(const struct place *at, int *ret_ms)
{
        char *end = NULL;
        errno = 0;
        double seconds = strtod(at->entry->value, &end);
        if (errno || end == at->entry->value || *end || !(seconds > 0) || seconds > TIMEOUT_MAX_S)
                return bad(at, "give seconds, more than 0 and at most %d", TIMEOUT_MAX_S);
        int ms = (int)(seconds * 1000 + 0.999);
        *ret_ms = ms > 0 ? ms : 1;
        return 0;
}

static int parse_names(const struct place *at, struct config_names *ret)
{
        _cleanup_free_ char *copy = strdup(at->entry->value);
        if (!copy)
                return error_set(at->err, -ENOMEM, "out of memory");
        struct config_names names = {.line = at->entry->line};
        char *save = NULL;
        for (char *word = strtok_r(copy, " \t,", &save); word;
             word = strtok_r(NULL, " \t,", &save)) {
                char **bigger = realloc(names.names, (names.count + 1) * sizeof(*bigger));
                char *name = strdup(word);
                if (bigger)
                        names.names = bigger;
                if (!bigger || !name) {
                        free(name);
                        names_done(&names);
                        return error_set(at->err, -ENOMEM, "out of memory");
                }
                names.names[names.count++] = name;
        }
        if (names.count == 0) {
                names_done(&names);
                return bad(at, "name at least one target: a UUID, a GPU index, GPU:GI:CI or a "
                               "profile");
        }
        *ret = names;
        return 0;
}

static int parse_runtime_dir(const struct place *at, struct config *config)
{
        const char *value = at->entry->value;
        if (value[0] != '/')
                return bad(at, "give an absolute folder");
        if (strlen(value) >= sizeof(config->runtime_dir))
                return bad(at, "the folder is too long");
        (void)snprintf(config->runtime_dir, sizeof(config->runtime_dir), "%s", value);
        config->runtime_dir_line = at->entry->line;
        return 0;
}

static bool is_global_key(const char *key)
{
        static const char *const keys[] = {
            "runtime_dir", "layout", "whole_gpus", "include",       "exclude",
            "user",        "group",  "multiuser",  "start_timeout", "stop_timeout"};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(key, keys[i]) == 0)
                        return true;
        return false;
}

/* A [global] key; 1 when `key` is none of them. */
static int global_key(const struct place *at, struct config *config)
{
        const char *key = at->entry->key;
        unsigned line = at->entry->line;
        int r;
        if (strcmp(key, "runtime_dir") == 0)
                return parse_runtime_dir(at, config);
        if (strcmp(key, "layout") == 0) {
                if (layout_kind_parse(at->entry->value, &config->layout) < 0)
                        return bad(at, "give default or seed");
                config->layout_line = line;
                return 0;
        }
        if (strcmp(key, "whole_gpus") == 0) {
                config->whole_gpus_line = line;
                return parse_bool(at, &config->whole_gpus);
        }
        if (strcmp(key, "include") == 0)
                return parse_names(at, &config->include);
        if (strcmp(key, "exclude") == 0)
                return parse_names(at, &config->exclude);
        if (strcmp(key, "user") == 0)
                return parse_user(at, &config->user);
        if (strcmp(key, "group") == 0)
                return parse_group(at, &config->group);
        if (strcmp(key, "multiuser") == 0) {
                config->multiuser_line = line;
                return parse_bool(at, &config->multiuser);
        }
        if (strcmp(key, "start_timeout") == 0) {
                r = parse_timeout(at, &config->start_timeout_ms);
                config->start_timeout_line = line;
                return r;
        }
        if (strcmp(key, "stop_timeout") == 0) {
                r = parse_timeout(at, &config->stop_timeout_ms);
                config->stop_timeout_line = line;
                return r;
        }
        return 1;
}

/* A per-target key; 1 when `key` is none of them. */
static int target_key(const struct place *at, struct config_limits *limits)
{
        const char *key = at->entry->key;
        if (strcmp(key, "threads") == 0) {
                limits->threads_line = at->entry->line;
                return parse_threads(at, &limits->threads);
        }
        if (strcmp(key, "pinned_mem") == 0)
                return parse_pinned(at, &limits->pinned);
        if (strcmp(key, "priority") == 0) {
                limits->priority_line = at->entry->line;
                return parse_priority(at, &limits->priority);
        }
        if (strcmp(key, "start_server") == 0)
                return parse_server_user(at, &limits->server);
        return 1;
}

static bool is_uuid_like(const char *text, const char *prefix)
{
        size_t length = strlen(text);
        if (strncasecmp(text, prefix, strlen(prefix)) != 0 || length <= strlen(prefix) ||
            length >= NODE_UUID_MAX)
                return false;
        for (const char *c = text + strlen(prefix); *c; c++)
                if (!strchr("0123456789abcdefABCDEF-", *c))
                        return false;
        return true;
}

static bool is_profile_like(const char *text)
{
        size_t length = strlen(text);
        return length > 0 && length < NODE_PROFILE_MAX &&
               strspn(text, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-") ==
                   length &&
               strstr(text, "g.") != NULL;
}

/* The section's kind and argument from its name; -EINVAL with FILE:LINE when unknown. */
static int section_kind(const char *path, const struct ini_section *in, struct config_section *out,
                        struct error *err)
{
        static const char known[] = "sections are [global], [gpu INDEX], [gpu GPU-UUID], "
                                    "[profile NAME] and [instance UUID]";
        const char *name = in->name;
        const char *space = strchr(name, ' ');
        size_t kind_length = space ? (size_t)(space - name) : strlen(name);
        const char *argument = space ? space + 1 : "";
        *out = (struct config_section){.line = in->line};
        out->limits.priority = -1;
        if (strchr(argument, ' '))
                return ini_error_at(err, -EINVAL, path, in->line, "unknown section [%s]: %s", name,
                                    known);
        (void)snprintf(out->argument, sizeof(out->argument), "%s", argument);
        if (kind_length == 6 && strncmp(name, "global", 6) == 0 && !space) {
                out->scope = CONFIG_SCOPE_GLOBAL;
        } else if (kind_length == 3 && strncmp(name, "gpu", 3) == 0 && space) {
                out->scope = CONFIG_SCOPE_GPU;
                if (all_digits(argument, 4)) {
                        out->gpu_by_index = true;
                        out->gpu_index = (unsigned)strtoul(argument, NULL, 10);
                } else if (!is_uuid_like(argument, "GPU-")) {
                        return ini_error_at(err, -EINVAL, path, in->line,
                                            "[%s]: name the GPU by its index (0, 1, ...) or its "
                                            "UUID (GPU-...), as nvidia-smi -L shows them",
                                            name);
                }
        } else if (kind_length == 7 && strncmp(name, "profile", 7) == 0 && space) {
                out->scope = CONFIG_SCOPE_PROFILE;
                if (!is_profile_like(argument))
                        return ini_error_at(err, -EINVAL, path, in->line,
                                            "[%s]: '%s' is not a MIG profile name such as "
                                            "1g.18gb or 1c.2g.12gb",
                                            name, argument);
        } else if (kind_length == 8 && strncmp(name, "instance", 8) == 0 && space) {
                out->scope = CONFIG_SCOPE_INSTANCE;
                if (!is_uuid_like(argument, "MIG-") && !is_uuid_like(argument, "GPU-"))
                        return ini_error_at(err, -EINVAL, path, in->line,
                                            "[%s]: name the instance by its whole UUID (MIG-..., "
                                            "or GPU-... for a whole GPU), as nvidia-smi -L shows "
                                            "it",
                                            name);
        } else {
                return ini_error_at(err, -EINVAL, path, in->line, "unknown section [%s]: %s", name,
                                    known);
        }
        return 0;
}

static int read_section(const char *path, const struct ini_section *in, struct config *config,
                        struct config_section *out, struct error *err)
{
        int r = section_kind(path, in, out, err);
        if (r < 0)
                return r;
        for (size_t e = 0; e < in->entry_count; e++) {
                struct place at = {.path = path, .entry = &in->entries[e], .err = err};
                r = target_key(&at, &out->limits);
                if (r <= 0) {
                        if (r < 0)
                                return r;
                        continue;
                }
                if (out->scope == CONFIG_SCOPE_GLOBAL) {
                        r = global_key(&at, config);
                        if (r <= 0) {
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return ini_error_at(err, -EINVAL, path, at.entry->line,
                                            "unknown key '%s' in [global]: the keys are %s, %s",
                                            at.entry->key, global_keys, target_keys);
                }
                if (is_global_key(at.entry->key))
                        return ini_error_at(err, -EINVAL, path, at.entry->line,
                                            "'%s' belongs in [global]: it is not set per target "
                                            "(per target: %s)",
                                            at.entry->key, target_keys);
                return ini_error_at(err, -EINVAL, path, at.entry->line,
                                    "unknown key '%s' in [%s]: the keys of a target's section "
                                    "are %s",
                                    at.entry->key, in->name, target_keys);
        }
        return 0;
}

/* Settings that are wrong together, said at the line of the one that cannot stand. */
static int check_together(const char *path, const struct config *config, struct error *err)
{
        if (config->group.set && !config->user.set)
                return ini_error_at(err, -EINVAL, path, config->group.line,
                                    "group = %s: give the user the daemons run as too (user = "
                                    "NAME)",
                                    config->group.name);
        if (config->user.set && config->layout == LAYOUT_SEED)
                return ini_error_at(err, -EINVAL, path, config->user.line,
                                    "user = %s: daemons run as another user only with the default "
                                    "layout (their folders are made under the runtime folder, "
                                    "which only root can write; /tmp is everybody's)",
                                    config->user.name);
        return 0;
}

/* The configuration an INI document says. */
static int from_ini(const char *path, const struct ini *ini, struct config **ret_config,
                    struct error *err)
{
        int r;
        _cleanup_config_ struct config *config = config_new();
        if (!config)
                return error_set(err, -ENOMEM, "out of memory");
        (void)snprintf(config->path, sizeof(config->path), "%s", path);
        config->sections = calloc(ini->section_count + 1, sizeof(*config->sections));
        if (!config->sections)
                return error_set(err, -ENOMEM, "out of memory");
        for (size_t s = 0; s < ini->section_count; s++) {
                r = read_section(path, &ini->sections[s], config, &config->sections[s], err);
                if (r < 0)
                        return r;
                config->section_count++;
        }
        r = check_together(path, config, err);
        if (r < 0)
                return r;
        if (config->user.set && !config->group.set) {
                config->group = config->user;
                config->group.id = config->user.gid;
                config->group.line = 0;
                struct group entry, *found = NULL;
                char buffer[16384];
                if (getgrgid_r(config->user.gid, &entry, buffer, sizeof(buffer), &found) == 0 &&
                    found)
                        (void)snprintf(config->group.name, sizeof(config->group.name), "%s",
                                       found->gr_name);
                else
                        (void)snprintf(config->group.name, sizeof(config->group.name), "%u",
                                       config->user.gid);
        }
        *ret_config = TAKE_PTR(config);
        return 0;
}

int config_parse(const char *path, const char *text, size_t size, struct config **ret_config,
                 struct error *err)
{
        _cleanup_ini_ struct ini *ini = NULL;
        int r = ini_parse(path, text, size, &ini, err);
        if (r < 0)
                return r;
        return from_ini(path, ini, ret_config, err);
}

int config_load(const char *option, struct config **ret_config, struct error *err)
{
        bool named;
        const char *path = config_choose_path(option, &named);
        _cleanup_ini_ struct ini *ini = NULL;
        int r = ini_read_file(path, &ini, err);
        if (r == -ENOENT && !named) {
                struct config *empty = config_new();
                if (!empty)
                        return error_set(err, -ENOMEM, "out of memory");
                error_clear(err);
                *ret_config = empty;
                return 0;
        }
        if (r == -ENOENT)
                return error_set(err, r,
                                 "the configuration file %s does not exist (named by %s): give "
                                 "an existing file",
                                 path, option && option[0] ? "--config" : "$" CONFIG_PATH_ENV);
        if (r < 0)
                return r;
        return from_ini(path, ini, ret_config, err);
}
