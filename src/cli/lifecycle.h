/* What `start`, `stop` and `status` share on the command line: their common options, opening the
 * node (with the exit status each failure deserves), and the words and JSON pieces their reports
 * are made of. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "ops/ops.h"

/* The options every lifecycle verb takes, as `mpsmig VERB --help` lists them. */
#define LIFECYCLE_OPTIONS_HELP                                                                     \
        "  --whole-gpus         Also target every GPU whose MIG mode is disabled or unsupported\n" \
        "  --layout KIND        default: <runtime folder>/<UUID>/{pipe,log}; seed: the seed\n"     \
        "                       scripts' /tmp/mps_<UUID> and /tmp/mps_log_<UUID>\n"                \
        "  --runtime-dir DIR    The runtime folder (default: $MPSMIG_RUNTIME_DIR, else\n"          \
        "                       /run/mpsmig as root, $XDG_RUNTIME_DIR/mpsmig otherwise)\n"         \
        "  --wide               Show every UUID whole (by default a table wider than the\n"        \
        "                       terminal, or 100 columns, shows unique prefixes)\n"                \
        "  --json               Print a JSON document (docs/json.md) instead of a table\n"
#define LIFECYCLE_HELP_OPTION "  -h, --help           Show this help\n"

struct lifecycle_args {
        struct ops_options options;
        bool json;
        struct config *config; /* the configuration file's; lifecycle_args_done frees it */
};

/* Frees what lifecycle_parse loaded (the configuration); zero-initialised args are fine. */
void lifecycle_args_done(struct lifecycle_args *args);

/* Parses `VERB [options] [TARGET...]`; `force` allows --force (stop). Then loads the
 * configuration file, which fills what the command line left unset: the runtime folder (below
 * $MPSMIG_RUNTIME_DIR), the layout, --whole-gpus, start's and stop's --timeout, and, without
 * TARGETs, the targets (include, exclude). Returns -1 to go on (free args with
 * lifecycle_args_done), or the exit status to return at once (help shown, usage error or bad
 * configuration reported). */
int lifecycle_parse(const struct verb *verb, bool force, int argc, char **argv,
                    struct lifecycle_args *ret_args);

/* What lifecycle_parse does with args->config (loaded): fills the options the command line left
 * unset. `layout_given`: --layout was on the command line. For verbs with options of their own
 * (set) that load the configuration themselves. */
void lifecycle_apply_config(const struct verb *verb, bool layout_given,
                            struct lifecycle_args *args);

/* Opens the context, reporting a failure; returns EXIT_OK or the exit status for it. A node
 * without targets gets a note on stderr (and *ret_context has none), unless options.orphans is
 * set: status and stop add targets of their own first, and say it themselves. */
int lifecycle_open(const struct lifecycle_args *args, struct ops_context *ret_context);

/* The note for a node without targets, on stderr. */
void lifecycle_no_targets(const struct lifecycle_args *args);

/* One warning on stderr for each daemon of the scan whose devices could not be told (a daemon
 * without CUDA_VISIBLE_DEVICES that did not answer device_query): it may serve the targets too. */
void lifecycle_warn_unchecked(const struct ops_context *context);

/* "0:1:0" or "1". */
void lifecycle_target_name(const struct target *target, char *buffer, size_t size);

/* "12s", "5m03s", "2h05m", "3d04h". */
void lifecycle_format_uptime(double seconds, char *buffer, size_t size);

/* The fields every per-target JSON object starts with: target, uuid, kind, pipe_dir, log_dir.
 * NULL when out of memory. */
json_t *lifecycle_target_json(const struct target *target, const struct layout_paths *paths);

/* The document's head: schema_version, verb, layout, runtime_dir; `targets` (stolen) and
 * `summary` (stolen) appended. Prints it; 0 or a negative errno. */
int lifecycle_print_json(const struct ops_context *context, const char *verb, json_t *targets,
                         json_t *summary);

/* Says in the JSON document that the agent answered (true) or the daemons were asked directly. */
void lifecycle_answered_by_agent(bool agent);

/* A JSON integer, or null for 0. */
json_t *lifecycle_pid_json(pid_t pid);

/* One line on stderr per lost GPU of `node` (NULL-safe): "GPU 1 (PCI 00000000:2A:00.0) is lost:
 * <why> (it needs a reset or a reboot): <consequence>". Returns how many are lost. */
size_t lifecycle_report_lost(const struct node *node, const char *consequence);
