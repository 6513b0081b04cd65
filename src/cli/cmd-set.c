/* `mpsmig set [TARGET...] --threads PCT --pinned-mem SIZE --priority N`: new default limits on
 * running daemons, read back and reported per target, with the servers that keep their old ones;
 * a table or JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/client.h"
#include "base/cleanup.h"
#include "cli/cli.h"
#include "cli/lifecycle.h"
#include "cli/limits_output.h"
#include "cli/output.h"
#include "ops/env.h"
#include "ops/ops.h"

#define SET_OUTCOMES 4

static void read_cells(struct table *table, const struct set_result *result)
{
        const struct mps_defaults *want = &result->want;
        const struct mps_defaults_answer *read = &result->read;
        bool known = result->read_back;
        if (known && want->thread_percentage > 0)
                table_cellf(table, "%.4g%%", read->thread_percentage);
        else
                table_cellf(table, "-");
        if (known && want->pinned_bytes > 0)
                table_cellf(table, "%s", read->pinned.set ? read->pinned.text : "unset");
        else
                table_cellf(table, "-");
        if (known && want->client_priority >= 0)
                table_cellf(table, "%d", read->client_priority);
        else
                table_cellf(table, "-");
}

static int print_table(const struct ops_context *context, const struct set_result *results)
{
        static const struct table_column columns[] = {
            {"TARGET", TABLE_LEFT},   {"UUID", TABLE_UUID},    {"RESULT", TABLE_LEFT},
            {"THREADS", TABLE_RIGHT}, {"PINNED", TABLE_RIGHT}, {"PRIORITY", TABLE_RIGHT},
            {"KEPT BY", TABLE_LEFT},
        };
        size_t counts[SET_OUTCOMES] = {0};
        for (size_t i = 0; i < context->target_count; i++)
                counts[results[i].outcome]++;
        printf("%zu target%s:", context->target_count, context->target_count == 1 ? "" : "s");
        const char *separator = " ";
        for (int outcome = 0; outcome < SET_OUTCOMES; outcome++)
                if (counts[outcome]) {
                        printf("%s%zu %s", separator, counts[outcome],
                               set_outcome_string((enum set_outcome)outcome));
                        separator = ", ";
                }
        printf("\n\n");
        _cleanup_table_ struct table *table = table_new(columns, ELEMENTSOF(columns));
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < context->target_count; i++) {
                const struct set_result *result = &results[i];
                char name[32], kept[256] = "";
                lifecycle_target_name(result->target, name, sizeof(name));
                table_cellf(table, "%s", name);
                table_cellf(table, "%s", result->target->uuid);
                table_cellf(table, "%s", set_outcome_string(result->outcome));
                read_cells(table, result);
                for (size_t s = 0; s < result->server_count; s++) {
                        size_t used = strlen(kept);
                        (void)snprintf(kept + used, sizeof(kept) - used, "%s%d %s",
                                       used ? ", " : "", (int)result->servers[s].pid,
                                       result->servers[s].user);
                }
                table_cellf(table, "%s", kept[0] ? kept : "-");
        }
        return table_print(table, stdout);
}

static json_t *want_json(const struct mps_defaults *want)
{
        char text[32];
        mps_pinned_limit_format(want->pinned_bytes, text, sizeof(text));
        return json_pack(
            "{s:o, s:o, s:o}", "threads",
            want->thread_percentage ? json_integer(want->thread_percentage) : json_null(),
            "pinned_mem",
            want->pinned_bytes
                ? json_pack("{s:s, s:I}", "text", text, "bytes", (json_int_t)want->pinned_bytes)
                : json_null(),
            "priority",
            want->client_priority >= 0 ? json_integer(want->client_priority) : json_null());
}

static json_t *servers_json(const struct set_result *result)
{
        json_t *servers = json_array();
        for (size_t s = 0; servers && s < result->server_count; s++) {
                json_t *item = json_pack("{s:i, s:o}", "pid", (int)result->servers[s].pid, "user",
                                         json_text(result->servers[s].user));
                if (!item || json_array_append_new(servers, item) < 0) {
                        json_decref(servers);
                        return NULL;
                }
        }
        return servers;
}

static int print_json(const struct ops_context *context, const struct set_result *results)
{
        json_t *targets = json_array();
        size_t counts[SET_OUTCOMES] = {0};
        for (size_t i = 0; targets && i < context->target_count; i++) {
                const struct set_result *result = &results[i];
                counts[result->outcome]++;
                json_t *item = lifecycle_target_json(result->target, &result->paths);
                if (!item ||
                    json_object_set_new(item, "result",
                                        json_string(set_outcome_string(result->outcome))) < 0 ||
                    json_object_set_new(item, "asked", want_json(&result->want)) < 0 ||
                    json_object_set_new(item, "before",
                                        result->before_known ? limits_read_json(&result->before)
                                                             : json_null()) < 0 ||
                    json_object_set_new(item, "read_back",
                                        result->read_back ? limits_read_json(&result->read)
                                                          : json_null()) < 0 ||
                    json_object_set_new(item, "servers_keeping_old_limits", servers_json(result)) <
                        0 ||
                    json_object_set_new(item, "error",
                                        result->outcome != SET_APPLIED
                                            ? json_text(result->error.message)
                                            : json_null()) < 0 ||
                    json_array_append_new(targets, item) < 0) {
                        json_decref(item);
                        json_decref(targets);
                        targets = NULL;
                }
        }
        json_t *summary =
            json_pack("{s:I, s:I, s:I, s:I}", "set", (json_int_t)counts[SET_APPLIED], "not_running",
                      (json_int_t)counts[SET_NOT_RUNNING], "not_taken",
                      (json_int_t)counts[SET_MISMATCH], "failed", (json_int_t)counts[SET_FAILED]);
        if (!targets || !summary) {
                json_decref(targets);
                json_decref(summary);
                return -ENOMEM;
        }
        return lifecycle_print_json(context, "set", targets, summary);
}

/* What could not be set, and which servers keep their old limits: on stderr. */
static void report(const struct ops_context *context, const struct set_result *results)
{
        _cleanup_free_ unsigned long long *bytes =
            calloc(context->target_count + 1, sizeof(*bytes));
        _cleanup_free_ char(*names)[32] = calloc(context->target_count + 1, sizeof(*names));
        _cleanup_free_ const char **name_pointers =
            calloc(context->target_count + 1, sizeof(*name_pointers));
        for (size_t i = 0; bytes && names && name_pointers && i < context->target_count; i++) {
                bytes[i] = results[i].read_back ? results[i].want.pinned_bytes : 0;
                lifecycle_target_name(results[i].target, names[i], sizeof(names[i]));
                name_pointers[i] = names[i];
        }
        if (bytes && names && name_pointers)
                limits_note_rounding(bytes, name_pointers, context->target_count);
        for (size_t i = 0; i < context->target_count; i++) {
                const struct set_result *result = &results[i];
                char name[32];
                lifecycle_target_name(result->target, name, sizeof(name));
                if (result->outcome == SET_NOT_RUNNING)
                        cli_error("%s (%s): not running, nothing set: start it with `mpsmig start "
                                  "%s` (start applies the configuration file's limits)",
                                  name, result->target->uuid, name);
                else if (result->outcome != SET_APPLIED)
                        cli_error("%s (%s): %s", name, result->target->uuid, result->error.message);
                for (size_t s = 0; s < result->server_count && result->read_back; s++)
                        cli_error("%s (%s): server %d (%s) runs and keeps the limits it started "
                                  "with until it exits; servers started from now on get the new "
                                  "ones",
                                  name, result->target->uuid, (int)result->servers[s].pid,
                                  result->servers[s].user);
        }
}

static int parse(int argc, char **argv, struct lifecycle_args *args, struct set_request *request,
                 bool *ret_layout_given)
{
        enum {
                OPT_THREADS = 256,
                OPT_PINNED,
                OPT_PRIORITY,
                OPT_WHOLE,
                OPT_LAYOUT,
                OPT_RUNTIME,
                OPT_TIMEOUT,
                OPT_JSON,
                OPT_WIDE
        };
        static const struct option options[] = {
            {"threads", required_argument, NULL, OPT_THREADS},
            {"pinned-mem", required_argument, NULL, OPT_PINNED},
            {"priority", required_argument, NULL, OPT_PRIORITY},
            {"whole-gpus", no_argument, NULL, OPT_WHOLE},
            {"layout", required_argument, NULL, OPT_LAYOUT},
            {"runtime-dir", required_argument, NULL, OPT_RUNTIME},
            {"json", no_argument, NULL, OPT_JSON},
            {"wide", no_argument, NULL, OPT_WIDE},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct error err = {0};
        struct config_pinned pinned;
        int c;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case OPT_THREADS:
                        if (client_limit_parse_threads(optarg, &request->want.thread_percentage,
                                                       &err) < 0)
                                return cli_usage_error("set: %s", err.message);
                        break;
                case OPT_PINNED:
                        if (config_parse_pinned(optarg, &pinned, &err) < 0)
                                return cli_usage_error("set: --pinned-mem '%s': %s", optarg,
                                                       err.message);
                        request->want.pinned_bytes = pinned.bytes;
                        request->pinned_percent = pinned.percent;
                        break;
                case OPT_PRIORITY:
                        if (client_limit_parse_priority(optarg, &request->want.client_priority,
                                                        &err) < 0)
                                return cli_usage_error("set: %s", err.message);
                        break;
                case OPT_WHOLE:
                        args->options.whole_gpus = true;
                        break;
                case OPT_LAYOUT:
                        if (layout_kind_parse(optarg, &args->options.layout_kind) < 0)
                                return cli_usage_error("set: --layout takes 'default' or 'seed', "
                                                       "not '%s'",
                                                       optarg);
                        *ret_layout_given = true;
                        break;
                case OPT_RUNTIME:
                        if (!optarg[0])
                                return cli_usage_error("set: --runtime-dir needs a folder");
                        args->options.runtime_dir = optarg;
                        break;
                case OPT_JSON:
                        args->json = true;
                        break;
                case OPT_WIDE:
                        output_set_wide(true);
                        break;
                case 'h':
                        return cli_verb_help(&verb_set);
                default:
                        return cli_option_error("set", c, argv);
                }
        }
        if (request->want.thread_percentage == 0 && request->want.pinned_bytes == 0 &&
            request->pinned_percent == 0 && request->want.client_priority < 0)
                return cli_usage_error("set: nothing to set: give --threads, --pinned-mem or "
                                       "--priority");
        args->options.names = argv + optind;
        args->options.name_count = (size_t)(argc - optind);
        return -1;
}

static int set_run(int argc, char **argv)
{
        _cleanup_(lifecycle_args_done) struct lifecycle_args args = {
            .options = {.layout_kind = LAYOUT_DEFAULT}};
        struct set_request request = {.want = MPS_DEFAULTS_KEEP};
        bool layout_given = false;
        int status = parse(argc, argv, &args, &request, &layout_given);
        if (status >= 0)
                return status;
        status = cli_load_config(&args.config);
        if (status != EXIT_OK)
                return status;
        lifecycle_apply_config(&verb_set, layout_given, &args);
        _cleanup_(ops_context_done) struct ops_context context = {0};
        status = lifecycle_open(&args, &context);
        if (status != EXIT_OK || context.target_count == 0)
                return status;
        /* A file that does not fit this node changes nothing, as for start. */
        struct error err = {0};
        if (ops_context_limits(&context, &err) < 0) {
                cli_report(&err);
                return err.code == -ENOMEM ? EXIT_FAILURE_ : EXIT_USAGE;
        }
        _cleanup_free_ struct set_result *results = calloc(context.target_count, sizeof(*results));
        if (!results) {
                cli_error("out of memory");
                return EXIT_FAILURE_;
        }
        if (ops_set(&context, &request, results, &err) < 0) {
                cli_report(&err);
                return EXIT_FAILURE_;
        }
        /* set keeps its direct path (each daemon's turn taken as the agent takes it); an agent
         * that runs is told what the daemons read back, so that its status is not behind. */
        struct error told = {0};
        if (agent_client_defaults_changed(&args.options, results, context.target_count, &told) < 0)
                cli_error("warning: the agent was not told of the new limits (its status shows "
                          "them after its next look at the daemons): %s",
                          told.message);
        int r = args.json ? print_json(&context, results) : print_table(&context, results);
        report(&context, results);
        bool all_set = true;
        for (size_t i = 0; i < context.target_count; i++)
                all_set = all_set && results[i].outcome == SET_APPLIED;
        set_results_done(results, context.target_count);
        if (r < 0) {
                cli_error("cannot write the report: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        return all_set ? EXIT_OK : EXIT_FAILURE_;
}

const struct verb verb_set = {
    .name = "set",
    .summary = "Change the default limits of running daemons",
    .usage = "Usage: mpsmig set [--threads PCT] [--pinned-mem SIZE] [--priority N] [--whole-gpus]\n"
             "                  [--layout default|seed] [--runtime-dir DIR] [--wide] [--json]\n"
             "                  [TARGET...]\n"
             "\n"
             "Sets the default limits of the running MPS control daemon of every target (or of\n"
             "the TARGETs named), reads them back and reports what took effect. As MPS does,\n"
             "new defaults apply to servers started afterwards: a server that runs keeps the\n"
             "limits it started with until it exits (it is named, with its user). Nothing is\n"
             "written to the configuration file: the next start applies the file's limits.\n"
             "\n"
             "Options:\n"
             "  --threads PCT        Default active thread percentage, 1-100\n"
             "  --pinned-mem SIZE    Default pinned device memory limit (device 0): 4G, 512M,\n"
             "                       or a share of each target's memory such as 90%\n"
             "  --priority N         Default client priority: 0 normal, 1 below "
             "normal\n" LIFECYCLE_OPTIONS_HELP LIFECYCLE_HELP_OPTION "\n"
             "Exit status: 0 every target took what was asked (a pinned limit read back\n"
             "rounded down to whole G counts as taken), 1 some daemon is not running or did\n"
             "not take it, 2 usage error, bad configuration or no driver.\n",
    .run = set_run,
};
