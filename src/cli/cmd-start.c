/* `mpsmig start`: one MPS control daemon per target, all started at once; a report per target
 * (started, already running, recovered from stale, failed and why) as a table or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/client.h"
#include "base/cleanup.h"
#include "cli/cli.h"
#include "cli/lifecycle.h"
#include "cli/limits_output.h"
#include "cli/output.h"
#include "ops/ops.h"

#define START_OUTCOMES 4

static void count_outcomes(const struct start_result *results, size_t count,
                           size_t counts[START_OUTCOMES])
{
        memset(counts, 0, START_OUTCOMES * sizeof(counts[0]));
        for (size_t i = 0; i < count; i++)
                counts[results[i].outcome]++;
}

static void print_summary(const struct ops_context *context, const struct start_result *results)
{
        size_t counts[START_OUTCOMES];
        count_outcomes(results, context->target_count, counts);
        printf("%zu target%s, layout %s in %s:", context->target_count,
               context->target_count == 1 ? "" : "s", layout_kind_name(context->layout.kind),
               context->layout.kind == LAYOUT_SEED ? LAYOUT_SEED_DIR : context->layout.runtime_dir);
        const char *separator = " ";
        for (int outcome = 0; outcome < START_OUTCOMES; outcome++)
                if (counts[outcome]) {
                        printf("%s%zu %s", separator, counts[outcome],
                               start_outcome_string((enum start_outcome)outcome));
                        separator = ", ";
                }
        printf("\n\n");
}

static bool any_limits(const struct ops_context *context, const struct start_result *results)
{
        for (size_t i = 0; i < context->target_count; i++)
                if (target_limits_any(&results[i].limits.asked))
                        return true;
        return false;
}

/* The limits a daemon reads back after start set them, "-" where the configuration set none. */
static void limits_cells(struct table *table, const struct start_result *result)
{
        const struct start_limits *limits = &result->limits;
        char cell[64];
        bool read = limits->read_back;
        if (read && limits->asked.threads > 0)
                table_cellf(table, "%.4g%%", limits->read.thread_percentage);
        else
                table_cellf(table, "-");
        if (read && limits->asked.pinned_bytes > 0)
                table_cellf(table, "%s",
                            limits->read.pinned.set ? limits->read.pinned.text : "unset");
        else
                table_cellf(table, "-");
        limits_cell_priority(read && limits->asked.priority >= 0 ? limits->read.client_priority
                                                                 : -1,
                             cell, sizeof(cell));
        table_cellf(table, "%s", cell);
        if (limits->server > 0)
                table_cellf(table, "%d %s", (int)limits->server, limits->server_user);
        else
                table_cellf(table, "-");
}

static int print_table(const struct ops_context *context, const struct start_result *results)
{
        static const struct table_column columns[] = {
            {"TARGET", TABLE_LEFT},  {"UUID", TABLE_UUID},      {"RESULT", TABLE_LEFT},
            {"PID", TABLE_RIGHT},    {"TIME", TABLE_RIGHT},     {"THREADS", TABLE_RIGHT},
            {"PINNED", TABLE_RIGHT}, {"PRIORITY", TABLE_RIGHT}, {"SERVER", TABLE_LEFT},
        };
        print_summary(context, results);
        bool limits = any_limits(context, results);
        _cleanup_table_ struct table *table = table_new(columns, limits ? ELEMENTSOF(columns) : 5);
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < context->target_count; i++) {
                const struct start_result *result = &results[i];
                char name[32];
                lifecycle_target_name(result->target, name, sizeof(name));
                table_cellf(table, "%s", name);
                table_cellf(table, "%s", result->target->uuid);
                if (result->outcome == START_RECOVERED && result->stale_pid > 0)
                        table_cellf(table, "%s (pid %d had died)",
                                    start_outcome_string(result->outcome), (int)result->stale_pid);
                else
                        table_cellf(table, "%s", start_outcome_string(result->outcome));
                if (result->pid > 0)
                        table_cellf(table, "%d", (int)result->pid);
                else
                        table_cellf(table, "-");
                table_cellf(table, "%lld ms", result->elapsed_ms);
                if (limits)
                        limits_cells(table, result);
        }
        return table_print(table, stdout);
}

/* The configuration's limits for one target, what the daemon read back, its server started
 * ahead: null when the configuration set nothing for it. */
static json_t *limits_json(const struct ops_context *context, const struct start_result *result)
{
        const struct start_limits *limits = &result->limits;
        if (!target_limits_any(&limits->asked))
                return json_null();
        json_t *asked = limits_asked_json(context->options.config, &limits->asked);
        json_t *read = limits->read_back ? limits_read_json(&limits->read) : json_null();
        json_t *server = limits->server > 0
                             ? json_pack("{s:i, s:o, s:I}", "pid", (int)limits->server, "user",
                                         json_text(limits->server_user), "ready_ms",
                                         (json_int_t)limits->server_ms)
                             : json_null();
        if (!asked || !read || !server) {
                json_decref(asked);
                json_decref(read);
                json_decref(server);
                return NULL;
        }
        return json_pack("{s:o, s:o, s:o, s:o}", "asked", asked, "read_back", read, "server",
                         server, "error",
                         limits->error.message[0] ? json_text(limits->error.message) : json_null());
}

static int print_json(const struct ops_context *context, const struct start_report *report)
{
        const struct start_result *results = report->results;
        json_t *targets = json_array();
        for (size_t i = 0; targets && i < context->target_count; i++) {
                const struct start_result *result = &results[i];
                json_t *item = lifecycle_target_json(result->target, &result->paths);
                bool failed = result->outcome == START_FAILED;
                char error_text[sizeof(result->error.message) + 8192];
                if (!item ||
                    json_object_set_new(item, "result",
                                        json_string(start_outcome_string(result->outcome))) < 0 ||
                    json_object_set_new(item, "pid", lifecycle_pid_json(result->pid)) < 0 ||
                    json_object_set_new(item, "stale_pid", lifecycle_pid_json(result->stale_pid)) <
                        0 ||
                    json_object_set_new(item, "elapsed_ms", json_integer(result->elapsed_ms)) < 0 ||
                    json_object_set_new(item, "error",
                                        failed
                                            ? json_text(cli_error_text(&result->error, error_text,
                                                                       sizeof(error_text)))
                                            : json_null()) < 0 ||
                    json_object_set_new(item, "limits", limits_json(context, result)) < 0 ||
                    json_array_append_new(targets, item) < 0) {
                        json_decref(item);
                        json_decref(targets);
                        targets = NULL;
                }
        }
        size_t counts[START_OUTCOMES];
        count_outcomes(results, context->target_count, counts);
        json_t *summary = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "started", (json_int_t)counts[START_STARTED],
            "already_running", (json_int_t)counts[START_ALREADY_RUNNING], "recovered",
            (json_int_t)counts[START_RECOVERED], "failed", (json_int_t)counts[START_FAILED],
            "from_node_cache", (json_int_t)report->from_cache, "withdrawn",
            (json_int_t)report->withdrawal_count, "limits_failed",
            (json_int_t)report->limits_failed);
        if (!targets || !summary) {
                json_decref(targets);
                json_decref(summary);
                return -ENOMEM;
        }
        return lifecycle_print_json(context, "start", targets, summary);
}

/* A daemon started from the node cache for a device NVML no longer lists: one note each, as it
 * was stopped again, or an error when it could not be. */
static void print_withdrawals(const struct start_report *report)
{
        for (size_t i = 0; i < report->withdrawal_count; i++) {
                const struct start_withdrawal *withdrawal = &report->withdrawals[i];
                char text[sizeof(withdrawal->stop.error.message) + 8192];
                if (withdrawal->stop.outcome == STOP_FAILED)
                        cli_error("%s is in the node cache but NVML no longer lists it; the MPS "
                                  "control daemon started for it (pid %d) could not be stopped "
                                  "again: %s",
                                  withdrawal->uuid, (int)withdrawal->stop.pid,
                                  cli_error_text(&withdrawal->stop.error, text, sizeof(text)));
                else
                        cli_error("%s is in the node cache but NVML no longer lists it: the MPS "
                                  "control daemon started for it was stopped again",
                                  withdrawal->uuid);
        }
}

/* A daemon that runs without the limits the configuration gives it: one line each, and the note
 * about pinned limits that read back rounded. */
static void report_limits(const struct ops_context *context, const struct start_report *report)
{
        _cleanup_free_ unsigned long long *bytes =
            calloc(context->target_count + 1, sizeof(*bytes));
        _cleanup_free_ char(*names)[32] = calloc(context->target_count + 1, sizeof(*names));
        _cleanup_free_ const char **name_pointers =
            calloc(context->target_count + 1, sizeof(*name_pointers));
        for (size_t i = 0; i < context->target_count; i++) {
                const struct start_result *result = &report->results[i];
                char name[32];
                lifecycle_target_name(result->target, name, sizeof(name));
                if (bytes && names && name_pointers) {
                        bytes[i] =
                            result->outcome == START_FAILED ? 0 : result->limits.asked.pinned_bytes;
                        (void)snprintf(names[i], sizeof(names[i]), "%s", name);
                        name_pointers[i] = names[i];
                }
                if (result->limits.error.message[0])
                        cli_error("%s (%s): its daemon runs, but not as the configuration says: "
                                  "%s",
                                  name, result->target->uuid, result->limits.error.message);
        }
        if (bytes && names && name_pointers)
                limits_note_rounding(bytes, name_pointers, context->target_count);
}

/* The report of a start the agent did; the exit status, or -1 when no agent serves the runtime
 * folder. */
static int start_through_agent(const struct lifecycle_args *args)
{
        _cleanup_(ops_context_done) struct ops_context context = {0};
        struct start_report report = {0};
        struct error err = {0};
        enum ops_failure failure;
        int r = agent_client_start(&args->options, &context, &report.results, &failure, &err);
        if (r == AGENT_CLIENT_NONE)
                return -1;
        if (r < 0) {
                cli_report(&err);
                return failure == OPS_FAILURE_USAGE ? EXIT_USAGE : EXIT_FAILURE_;
        }
        lifecycle_answered_by_agent(true);
        for (size_t i = 0; i < context.target_count; i++)
                report.failed += report.results[i].outcome == START_FAILED;
        if (context.target_count == 0)
                lifecycle_no_targets(args);
        else
                r = args->json ? print_json(&context, &report)
                               : print_table(&context, report.results);
        for (size_t i = 0; r >= 0 && i < context.target_count; i++)
                if (report.results[i].outcome == START_FAILED) {
                        char name[32], text[sizeof(err.message) + 8192];
                        lifecycle_target_name(report.results[i].target, name, sizeof(name));
                        cli_error("cannot start the MPS control daemon for %s (%s): %s", name,
                                  report.results[i].target->uuid,
                                  cli_error_text(&report.results[i].error, text, sizeof(text)));
                }
        free(report.results);
        if (r < 0) {
                cli_error("cannot write the report: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        return report.failed > 0 ? EXIT_FAILURE_ : EXIT_OK;
}

static int start_run(int argc, char **argv)
{
        _cleanup_(lifecycle_args_done) struct lifecycle_args args = {0};
        int status = lifecycle_parse(&verb_start, false, argc, argv, &args);
        if (status >= 0)
                return status;
        /* With an agent, the agent starts the daemons and applies its configuration file. */
        status = start_through_agent(&args);
        if (status >= 0)
                return status;
        _cleanup_(ops_context_done) struct ops_context context = {0};
        struct error err = {0};
        if (ops_context_prepare(&args.options, &context, &err) < 0) {
                cli_report(&err);
                return EXIT_USAGE;
        }
        _cleanup_(start_report_done) struct start_report report = {0};
        enum ops_failure failure;
        if (ops_start(&context, &report, &failure, &err) < 0) {
                cli_report(&err);
                return failure == OPS_FAILURE_USAGE || failure == OPS_FAILURE_DRIVER
                           ? EXIT_USAGE
                           : EXIT_FAILURE_;
        }
        print_withdrawals(&report);
        lifecycle_warn_unchecked(&context);
        if (report.warning.message[0])
                cli_error("warning: %s", report.warning.message);
        if (report.cache_error.message[0])
                cli_error("%s (the next start is slower; nothing else depends on it)",
                          report.cache_error.message);
        /* The healthy GPUs are served; a lost one is named, and the exit status says that not
         * everything could be started. */
        size_t lost = lifecycle_report_lost(context.node, "nothing was started on it");
        if (context.target_count == 0) {
                lifecycle_no_targets(&args);
                return report.withdrawals_failed > 0 || lost > 0 ? EXIT_FAILURE_ : EXIT_OK;
        }
        int r = args.json ? print_json(&context, &report) : print_table(&context, report.results);
        if (r < 0) {
                cli_error("cannot write the report: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        report_limits(&context, &report);
        for (size_t i = 0; i < context.target_count; i++)
                if (report.results[i].outcome == START_FAILED) {
                        char name[32];
                        lifecycle_target_name(report.results[i].target, name, sizeof(name));
                        char text[sizeof(report.results[i].error.message) + 8192];
                        cli_error("cannot start the MPS control daemon for %s (%s): %s", name,
                                  report.results[i].target->uuid,
                                  cli_error_text(&report.results[i].error, text, sizeof(text)));
                }
        return report.failed > 0 || report.limits_failed > 0 || report.withdrawals_failed > 0 ||
                       lost > 0
                   ? EXIT_FAILURE_
                   : EXIT_OK;
}

const struct verb verb_start = {
    .name = "start",
    .summary = "Start one MPS control daemon per target, all at once",
    .usage =
        "Usage: mpsmig start [--whole-gpus] [--layout default|seed] [--runtime-dir DIR]\n"
        "                    [--timeout SECONDS] [--wide] [--json] [TARGET...]\n"
        "\n"
        "Starts one MPS control daemon for every target (every MIG device, and every\n"
        "whole GPU with --whole-gpus; or the TARGETs named: a UUID or a unique prefix,\n"
        "GPU:GI:CI, a GPU index, a profile name), all at once, and waits until each\n"
        "answers. A daemon already running is kept; one whose pid file outlived it is\n"
        "cleaned up and started again. A device that another daemon already serves (the\n"
        "seed scripts' in /tmp, say) is refused: two daemons on one device time-slice.\n"
        "Starts and stops on one node take turns (a lock in the runtime folder).\n"
        "\n"
        "Options:\n" LIFECYCLE_OPTIONS_HELP "  --timeout SECONDS    How long each daemon may take "
        "to answer (default 10)\n" LIFECYCLE_HELP_OPTION "\n"
        "The configuration file (mpsmig --config FILE, $MPSMIG_CONFIG, else\n"
        "/etc/mpsmig/mpsmig.conf) gives the defaults of these options and, per target,\n"
        "limits each new daemon gets (read back and compared) and a user whose server\n"
        "is started ahead (docs/config.md).\n"
        "\n"
        "Exit status: 0 every target's daemon runs, 1 some failed (the others stay up;\n"
        "the report says which and why), a daemon did not take its configured limits,\n"
        "or a GPU is lost (the healthy ones are served), 2 usage error, bad\n"
        "configuration, bad runtime folder or no driver.\n",
    .run = start_run,
};
