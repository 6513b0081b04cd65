/* mpsmig's configuration file (docs/config.md): where it is, what its sections and keys mean, and
 * the limits it gives each target of a node, the most specific section winning key by key
 * (instance UUID, then profile, then GPU, then [global]). Every refusal names FILE:LINE. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/ini.h"
#include "node/layout.h"
#include "node/node.h"

#define CONFIG_PATH_DEFAULT "/etc/mpsmig/mpsmig.conf"
#define CONFIG_PATH_ENV     "MPSMIG_CONFIG"
#define CONFIG_NAME_MAX     64 /* a user or group name */

/* The section a per-target setting came from; COMMAND_LINE for `mpsmig set`'s options. */
enum config_scope {
        CONFIG_SCOPE_NONE,
        CONFIG_SCOPE_GLOBAL,
        CONFIG_SCOPE_GPU,
        CONFIG_SCOPE_PROFILE,
        CONFIG_SCOPE_INSTANCE,
        CONFIG_SCOPE_COMMAND_LINE,
};

/* A user or group the file names, as the system knows it. */
struct config_account {
        bool set;
        unsigned id;  /* uid or gid */
        unsigned gid; /* a user's primary group */
        char name[CONFIG_NAME_MAX];
        unsigned line;
};

/* A pinned device memory limit as written: a size, or a share of the target's memory. */
struct config_pinned {
        bool set;
        unsigned percent;         /* 1-100 for "90%"; 0 for a size */
        unsigned long long bytes; /* a size: a whole number of MiB */
        unsigned line;
};

/* The per-target keys of one section, each optional. */
struct config_limits {
        unsigned threads; /* 1-100; 0: not set */
        unsigned threads_line;
        struct config_pinned pinned;
        int priority; /* 0 or 1; -1: not set */
        unsigned priority_line;
        struct config_account server; /* start_server: the user whose server starts ahead */
};

struct config_section {
        enum config_scope scope;
        char argument[INI_SECTION_MAX]; /* GPU index or UUID, profile, instance UUID; "" global */
        bool gpu_by_index;
        unsigned gpu_index;
        unsigned line;
        struct config_limits limits;
};

/* A [global] setting that is a list of target names (include, exclude). */
struct config_names {
        char **names;
        size_t count;
        unsigned line;
};

struct config {
        char path[PATH_MAX]; /* the file read, for messages; "" when none was */
        /* [global] only; a line of 0 means "not in the file" */
        char runtime_dir[PATH_MAX];
        unsigned runtime_dir_line;
        enum layout_kind layout;
        unsigned layout_line;
        bool whole_gpus;
        unsigned whole_gpus_line;
        struct config_names include;
        struct config_names exclude;
        struct config_account user;  /* the daemons run as this user */
        struct config_account group; /* ... and group (default: the user's) */
        bool multiuser;              /* -M */
        unsigned multiuser_line;
        int start_timeout_ms; /* 0: not set */
        unsigned start_timeout_line;
        int stop_timeout_ms;
        unsigned stop_timeout_line;
        struct config_section *sections; /* in file order, [global] among them */
        size_t section_count;
};

/* The file to read: `option` (--config) when given, else $MPSMIG_CONFIG when set and not empty,
 * else CONFIG_PATH_DEFAULT. *ret_named says whether it was named (then a missing file is an
 * error; the default file may be absent). */
const char *config_choose_path(const char *option, bool *ret_named);

/* Reads the chosen file into *ret_config (an empty configuration when the default file does not
 * exist). -ENOENT for a named file that does not exist, -EINVAL for a bad line or value (`err`
 * says FILE:LINE: why), -EPERM for a file others could have written. Free with config_free. */
int config_load(const char *option, struct config **ret_config, struct error *err);

/* The work of config_load on text already read (for tests and the fuzz target). */
int config_parse(const char *path, const char *text, size_t size, struct config **ret_config,
                 struct error *err);

/* An empty configuration: nothing set. NULL when out of memory. */
struct config *config_new(void);
void config_free(struct config *config);
static inline void config_freep(struct config **config)
{
        config_free(*config);
}
#define _cleanup_config_ __attribute__((cleanup(config_freep)))

/* "4G", "512M", "1T" (binary units, more than 0) or "90%" (1-100). -EINVAL for anything else,
 * with `err` saying why in words that follow the value (no FILE:LINE: the caller adds it). */
int config_parse_pinned(const char *value, struct config_pinned *ret_pinned, struct error *err);

/* "section [instance MIG-...]" style words for a scope: "instance", "profile", "gpu", "global",
 * "command line". */
const char *config_scope_name(enum config_scope scope);

/* ---- resolution over a node (config_resolve.c) ---- */

/* Where one resolved value came from. */
struct config_origin {
        enum config_scope scope;
        unsigned line; /* 0 for the command line */
};

/* What the configuration gives one target, after every section that matches it: the most
 * specific wins, key by key. */
struct target_limits {
        unsigned threads; /* 0: not set */
        struct config_origin threads_from;
        unsigned long long pinned_bytes; /* 0: not set; a percentage made bytes (whole MiB) */
        unsigned pinned_percent;         /* when it came from "N%" */
        struct config_origin pinned_from;
        int priority; /* -1: not set */
        struct config_origin priority_from;
        bool server; /* a server is started ahead for server_uid */
        unsigned server_uid;
        char server_user[CONFIG_NAME_MAX];
        struct config_origin server_from;
};

/* Whether the limits set anything at all (a daemon without any is left as it is). */
bool target_limits_any(const struct target_limits *limits);

/* Checks that every [instance UUID] and [gpu N|UUID] section names a device of `node` (an
 * instance section may name a MIG device or a GPU that is a target whole): -EINVAL with
 * FILE:LINE otherwise. Profiles that no device of the node has are allowed (one file may serve
 * several kinds of node): they are counted in *ret_unused_profiles (may be NULL). */
int config_check_node(const struct config *config, const struct node *node,
                      size_t *ret_unused_profiles, struct error *err);

/* The limits of one target. A percentage needs the target's memory: -EINVAL with FILE:LINE
 * when NVML did not give it. */
int config_limits_for(const struct config *config, const struct target *target,
                      struct target_limits *ret_limits, struct error *err);

/* Whether the file sets anything a daemon is started with: limits, a server started ahead, the
 * daemons' user or group, -M. */
bool config_shapes_daemons(const struct config *config);

/* Whether a section of `config` applies to `target`. */
bool config_section_matches(const struct config_section *section, const struct target *target);

/* Keeps of `targets` those the [global] `include` names (all when it is not set) and `exclude`
 * does not: each word a MIG device or GPU UUID, a GPU index (every target on that GPU), GPU:GI:CI
 * or a profile name. With `strict`, a UUID, index or GPU:GI:CI that names nothing on `node` is
 * -EINVAL with FILE:LINE (start); without, it matches nothing (stop and status must serve a node
 * whose layout changed). A profile may always match nothing. *count is updated. */
int config_select(const struct config *config, const struct node *node, bool strict,
                  struct target *targets, size_t *count, struct error *err);
