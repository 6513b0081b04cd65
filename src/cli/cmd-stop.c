/* `mpsmig stop`: every target's daemon stopped at once (quit, then escalation when it will not go),
 * the folders mpsmig made removed, and a report per target as a table or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/client.h"
#include "base/cleanup.h"
#include "cli/cli.h"
#include "cli/lifecycle.h"
#include "cli/output.h"
#include "node/daemon_scan.h"
#include "ops/ops.h"

#define STOP_OUTCOMES 4

static void count_outcomes(const struct stop_result *results, size_t count,
                           size_t counts[STOP_OUTCOMES])
{
        memset(counts, 0, STOP_OUTCOMES * sizeof(counts[0]));
        for (size_t i = 0; i < count; i++)
                counts[results[i].outcome]++;
}

/* "stopped (quit)", "stopped (SIGKILL)", "stale cleaned (pid 123)", "not running". */
static void describe(const struct stop_result *result, char *buffer, size_t size)
{
        const char *outcome = stop_outcome_string(result->outcome);
        if (result->outcome == STOP_STOPPED && result->step != STOP_STEP_NONE)
                (void)snprintf(buffer, size, "%s (%s)", outcome, stop_step_string(result->step));
        else if (result->outcome == STOP_STALE_CLEANED && result->pid > 0)
                (void)snprintf(buffer, size, "%s (pid %d had died)", outcome, (int)result->pid);
        else
                (void)snprintf(buffer, size, "%s", outcome);
}

static int print_table(const struct ops_context *context, const struct stop_result *results)
{
        static const struct table_column columns[] = {
            {"TARGET", TABLE_LEFT}, {"UUID", TABLE_UUID},    {"RESULT", TABLE_LEFT},
            {"PID", TABLE_RIGHT},   {"FOLDERS", TABLE_LEFT}, {"TIME", TABLE_RIGHT},
        };
        size_t counts[STOP_OUTCOMES];
        count_outcomes(results, context->target_count, counts);
        printf("%zu target%s, layout %s in %s:", context->target_count,
               context->target_count == 1 ? "" : "s", layout_kind_name(context->layout.kind),
               context->layout.kind == LAYOUT_SEED ? LAYOUT_SEED_DIR : context->layout.runtime_dir);
        const char *separator = " ";
        for (int outcome = 0; outcome < STOP_OUTCOMES; outcome++)
                if (counts[outcome]) {
                        printf("%s%zu %s", separator, counts[outcome],
                               stop_outcome_string((enum stop_outcome)outcome));
                        separator = ", ";
                }
        printf("\n\n");

        _cleanup_table_ struct table *table = table_new(columns, ELEMENTSOF(columns));
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < context->target_count; i++) {
                const struct stop_result *result = &results[i];
                char name[32], what[96];
                lifecycle_target_name(result->target, name, sizeof(name));
                describe(result, what, sizeof(what));
                table_cellf(table, "%s", name);
                table_cellf(table, "%s", result->target->uuid);
                table_cellf(table, "%s", what);
                if (result->pid > 0)
                        table_cellf(table, "%d", (int)result->pid);
                else
                        table_cellf(table, "-");
                if (result->folders_left)
                        table_cellf(table, "%u removed, %u kept (not made by mpsmig)",
                                    result->folders_removed, result->folders_left);
                else
                        table_cellf(table, "%u removed", result->folders_removed);
                table_cellf(table, "%lld ms", result->elapsed_ms);
        }
        return table_print(table, stdout);
}

static int print_json(const struct ops_context *context, const struct stop_result *results)
{
        json_t *targets = json_array();
        for (size_t i = 0; targets && i < context->target_count; i++) {
                const struct stop_result *result = &results[i];
                json_t *item = lifecycle_target_json(result->target, &result->paths);
                bool failed = result->outcome == STOP_FAILED;
                if (!item ||
                    json_object_set_new(item, "result",
                                        json_string(stop_outcome_string(result->outcome))) < 0 ||
                    json_object_set_new(item, "step",
                                        result->step == STOP_STEP_NONE
                                            ? json_null()
                                            : json_string(stop_step_string(result->step))) < 0 ||
                    json_object_set_new(item, "pid", lifecycle_pid_json(result->pid)) < 0 ||
                    json_object_set_new(item, "folders_removed",
                                        json_integer(result->folders_removed)) < 0 ||
                    json_object_set_new(item, "folders_kept", json_integer(result->folders_left)) <
                        0 ||
                    json_object_set_new(item, "folders_note",
                                        result->folders_note[0] ? json_string(result->folders_note)
                                                                : json_null()) < 0 ||
                    json_object_set_new(item, "elapsed_ms", json_integer(result->elapsed_ms)) < 0 ||
                    json_object_set_new(item, "error",
                                        failed ? json_text(result->error.message) : json_null()) <
                        0 ||
                    json_array_append_new(targets, item) < 0) {
                        json_decref(item);
                        json_decref(targets);
                        targets = NULL;
                }
        }
        size_t counts[STOP_OUTCOMES];
        count_outcomes(results, context->target_count, counts);
        json_t *summary = json_pack(
            "{s:I, s:I, s:I, s:I}", "stopped", (json_int_t)counts[STOP_STOPPED], "not_running",
            (json_int_t)counts[STOP_NOT_RUNNING], "stale_cleaned",
            (json_int_t)counts[STOP_STALE_CLEANED], "failed", (json_int_t)counts[STOP_FAILED]);
        if (!targets || !summary) {
                json_decref(targets);
                json_decref(summary);
                return -ENOMEM;
        }
        return lifecycle_print_json(context, "stop", targets, summary);
}

/* The daemons of the seed layout (/tmp/mps_<UUID>) that serve this node's devices: a plain
 * `stop` finds nothing of its own when `start --layout seed` started them, and says so. */
static size_t count_seed_daemons(struct ops_context *context)
{
        struct error ignored = {0};
        struct layout seed = {.kind = LAYOUT_SEED};
        if (ops_context_scan(context, &ignored) < 0 || !context->node)
                return 0;
        /* Named TARGETs: theirs only; none: every device of the node, whole GPUs included. */
        const struct node *node = context->node;
        bool named = context->options.name_count > 0;
        size_t count = named ? context->target_count : node->gpu_count + node->mig_device_count;
        size_t found = 0;
        for (size_t i = 0; i < count; i++) {
                const char *uuid = named ? context->targets[i].uuid
                                   : i < node->gpu_count
                                       ? node->gpus[i].uuid
                                       : node->mig_devices[i - node->gpu_count].uuid;
                struct layout_paths paths;
                if (!uuid[0] || layout_paths(&seed, uuid, &paths, &ignored) < 0)
                        continue;
                found += ops_daemon_on(context, paths.pipe_dir) != NULL;
        }
        return found;
}

static void hint_seed_layout(struct ops_context *context)
{
        if (context->layout.kind != LAYOUT_DEFAULT)
                return;
        size_t seed = count_seed_daemons(context);
        if (seed > 0)
                cli_error("nothing of the default layout runs in %s, but %zu MPS control "
                          "daemon%s of the seed layout (%s/%s<UUID>) serve%s this node's devices: "
                          "stop %s with `mpsmig stop --layout seed`",
                          context->layout.runtime_dir, seed, seed == 1 ? "" : "s", LAYOUT_SEED_DIR,
                          LAYOUT_SEED_PIPE_PREFIX, seed == 1 ? "s" : "", seed == 1 ? "it" : "them");
}

/* Reports a stop's results; the exit status. */
static int report_stop(const struct lifecycle_args *args, struct ops_context *context,
                       const struct stop_result *results, int failed)
{
        int r = args->json ? print_json(context, results) : print_table(context, results);
        if (r < 0) {
                cli_error("cannot write the report: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        size_t own = 0;
        for (size_t i = 0; i < context->target_count; i++) {
                own += results[i].outcome != STOP_NOT_RUNNING || results[i].folders_removed > 0;
                if (results[i].folders_note[0])
                        cli_error("%s", results[i].folders_note);
        }
        if (own == 0 && context->program)
                hint_seed_layout(context);
        for (size_t i = 0; i < context->target_count; i++)
                if (results[i].outcome == STOP_FAILED) {
                        char name[32];
                        lifecycle_target_name(results[i].target, name, sizeof(name));
                        char text[sizeof(results[i].error.message) + 8192];
                        cli_error("cannot stop the MPS control daemon for %s (%s): %s", name,
                                  results[i].target->uuid,
                                  cli_error_text(&results[i].error, text, sizeof(text)));
                }
        return failed > 0 ? EXIT_FAILURE_ : EXIT_OK;
}

/* A stop the agent did (its daemons stay stopped until started again); the exit status, or -1
 * when no agent serves the runtime folder. */
static int stop_through_agent(const struct lifecycle_args *args)
{
        _cleanup_(ops_context_done) struct ops_context context = {0};
        _cleanup_free_ struct stop_result *results = NULL;
        struct error err = {0};
        enum ops_failure failure;
        int r = agent_client_stop(&args->options, &context, &results, &failure, &err);
        if (r == AGENT_CLIENT_NONE)
                return -1;
        if (r < 0) {
                cli_report(&err);
                return failure == OPS_FAILURE_USAGE ? EXIT_USAGE : EXIT_FAILURE_;
        }
        lifecycle_answered_by_agent(true);
        int failed = 0;
        for (size_t i = 0; i < context.target_count; i++)
                failed += results[i].outcome == STOP_FAILED;
        if (context.target_count == 0) {
                lifecycle_no_targets(args);
                return EXIT_OK;
        }
        return report_stop(args, &context, results, failed);
}

static int stop_run(int argc, char **argv)
{
        _cleanup_(lifecycle_args_done) struct lifecycle_args args = {0};
        int status = lifecycle_parse(&verb_stop, true, argc, argv, &args);
        if (status >= 0)
                return status;
        status = stop_through_agent(&args);
        if (status >= 0)
                return status;
        /* With no TARGET, stop also reaches whole GPUs that hold a daemon folder of this layout:
         * a daemon started with --whole-gpus is not left running by a plain `mpsmig stop`. */
        bool sweep_whole_gpus = args.options.name_count == 0 && !args.options.whole_gpus;
        if (sweep_whole_gpus)
                args.options.whole_gpus = true;
        /* Devices NVML no longer lists (a destroyed MIG instance, a lost GPU's) are stopped from
         * their folders: nothing of the layout is left running. */
        struct lifecycle_args asked = args;
        args.options.orphans = true;
        _cleanup_(ops_context_done) struct ops_context context = {0};
        status = lifecycle_open(&args, &context);
        if (status != EXIT_OK)
                return status;
        if (sweep_whole_gpus)
                ops_stop_keep_used_whole_gpus(&context);
        (void)lifecycle_report_lost(context.node, "the daemons of its devices are stopped as "
                                                  "orphans");
        if (context.target_count == 0) {
                if (sweep_whole_gpus)
                        cli_error("no MPS targets: no MIG devices, and no whole GPU has a daemon "
                                  "folder in %s",
                                  context.layout.kind == LAYOUT_SEED ? LAYOUT_SEED_DIR
                                                                     : context.layout.runtime_dir);
                else
                        lifecycle_no_targets(&asked);
                hint_seed_layout(&context);
                return EXIT_OK;
        }

        _cleanup_free_ struct stop_result *results = calloc(context.target_count, sizeof(*results));
        if (!results) {
                cli_error("out of memory");
                return EXIT_FAILURE_;
        }
        struct error err = {0};
        int failed = ops_stop(&context, results, &err);
        if (failed < 0) {
                cli_report(&err);
                /* another user's runtime folder or lock: the message names --runtime-dir */
                return failed == -EACCES || failed == -EPERM ? EXIT_USAGE : EXIT_FAILURE_;
        }
        return report_stop(&args, &context, results, failed);
}

const struct verb verb_stop = {
    .name = "stop",
    .summary = "Stop every target's MPS control daemon and remove mpsmig's folders",
    .usage =
        "Usage: mpsmig stop [--force] [--whole-gpus] [--layout default|seed]\n"
        "                   [--runtime-dir DIR] [--timeout SECONDS] [--wide] [--json]\n"
        "                   [TARGET...]\n"
        "\n"
        "Stops the MPS control daemon of every target (or of the TARGETs named), all at\n"
        "once: `quit -t SECONDS` lets running clients finish for up to SECONDS, then the\n"
        "daemon gets 2 more seconds to exit. One that has not exited is escalated on:\n"
        "shutdown_server for each of its servers, then SIGTERM, then SIGKILL (2 seconds\n"
        "after each), signalling only a process proven to be that control daemon or its\n"
        "servers. Then the folders mpsmig made are removed, and the seed scripts'\n"
        "/tmp/mps_* when they hold only what the control program writes (kept, with the\n"
        "reason, otherwise). A daemon that had died leaves a pid file: its leftovers are\n"
        "cleaned (\"stale cleaned\").\n"
        "Without TARGETs it stops every MIG device's daemon, those of whole GPUs that\n"
        "have daemon folders in the layout (started with --whole-gpus), and those of\n"
        "devices NVML no longer lists (a destroyed MIG instance, a lost GPU's devices),\n"
        "found from their folders; a TARGET may be such a device's whole UUID. With\n"
        "--whole-gpus, every whole GPU is a target.\n"
        "\n"
        "Options:\n"
        "  --force              Do not wait for clients: `quit -t 1`, then at most 2\n"
        "                       seconds before SIGTERM and SIGKILL (no shutdown_server\n"
        "                       step); clients lose their server\n" LIFECYCLE_OPTIONS_HELP
        "  --timeout SECONDS    How long clients get to finish (default 10)\n" LIFECYCLE_HELP_OPTION
        "\n"
        "Exit status: 0 no target's daemon runs any more, 1 some could not be stopped or\n"
        "their folders could not be removed safely (the report says which and why),\n"
        "2 usage error, bad runtime folder or no driver.\n",
    .run = stop_run,
};
