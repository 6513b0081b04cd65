/* `mpsmig status`: every target's daemon asked at once; a table that reads at a glance (state,
 * pid, uptime, servers and their users, clients, default limits) or JSON, notes for what needs a
 * hand, and an exit status for monitoring: 0 all up, 3 some down, 1 error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/client.h"
#include "base/cleanup.h"
#include "cli/cli.h"
#include "cli/lifecycle.h"
#include "cli/output.h"
#include "ops/ops.h"

#define DAEMON_STATES     6
#define CLIENT_PIDS_SHOWN 4

/* The agent's row of each result when the agent answered (indexed like the results), NULL when
 * the daemons were asked directly. */
static const struct agent_row *agent_rows;

/* "ready", "ready, 2 restarts", "restart in 1.6s, 3 restarts", "crash loop: restart in 30s, 5
 * restarts": what the agent does about the target. */
static void agent_cell(const struct agent_row *row, char *buffer, size_t size)
{
        char next[48] = "", restarts[32] = "";
        if (row->next_restart_ms >= 0)
                (void)snprintf(next, sizeof(next), "%srestart in %.1fs",
                               strcmp(row->supervision, "crash loop") == 0 ? "crash loop: " : "",
                               (double)row->next_restart_ms / 1000.0);
        if (row->restarts > 0)
                (void)snprintf(restarts, sizeof(restarts), ", %u restart%s", row->restarts,
                               row->restarts == 1 ? "" : "s");
        (void)snprintf(buffer, size, "%s%s%s", next[0] ? next : row->supervision, restarts,
                       row->adopted ? ", adopted" : "");
}

static void count_states(const struct status_result *results, size_t count,
                         size_t counts[DAEMON_STATES])
{
        memset(counts, 0, DAEMON_STATES * sizeof(counts[0]));
        for (size_t i = 0; i < count; i++)
                counts[results[i].state]++;
}

static bool answered(const struct status_result *result)
{
        return result->state == DAEMON_RUNNING;
}

static size_t count_orphaned(const struct status_result *results, size_t count)
{
        size_t orphaned = 0;
        for (size_t i = 0; i < count; i++)
                orphaned += results[i].orphaned;
        return orphaned;
}

#define ORPHANED_NOTE "orphaned: device gone"

/* "running", "stale (orphaned: device gone)", "gpu lost at 00000000:2A:00.0". */
static void state_cell(const struct status_result *result, char *buffer, size_t size)
{
        const char *state = daemon_state_string(result->state);
        const struct gpu *gpu = result->target->gpu;
        if (result->state == DAEMON_GPU_LOST && gpu && gpu->pci_bus_id[0])
                (void)snprintf(buffer, size, "%s at %s", state, gpu->pci_bus_id);
        else
                (void)snprintf(buffer, size, "%s%s%s", state,
                               result->other_count ? " (+another daemon)" : "",
                               result->orphaned ? " (" ORPHANED_NOTE ")" : "");
}

/* "8812 root, 8890 alice", or "-". */
static void servers_cell(const struct status_result *result, char *buffer, size_t size)
{
        if (!answered(result) || result->server_count == 0) {
                (void)snprintf(buffer, size, "-");
                return;
        }
        size_t used = 0;
        buffer[0] = '\0';
        for (size_t s = 0; s < result->server_count && used < size; s++) {
                int n = snprintf(buffer + used, size - used, "%s%d %s", s ? ", " : "",
                                 (int)result->servers[s].pid, result->servers[s].user);
                if (n < 0)
                        break;
                used += (size_t)n;
        }
}

/* "0", or "2: 9001 9002", or "6: 9001 9002 9003 9004 ...". */
static void clients_cell(const struct status_result *result, char *buffer, size_t size)
{
        if (!answered(result)) {
                (void)snprintf(buffer, size, "-");
                return;
        }
        int n = snprintf(buffer, size, "%zu", result->client_count);
        size_t used = n > 0 ? (size_t)n : 0, shown = 0;
        for (size_t s = 0; s < result->server_count; s++)
                for (size_t c = 0; c < result->servers[s].client_count && used < size; c++) {
                        if (shown == CLIENT_PIDS_SHOWN) {
                                (void)snprintf(buffer + used, size - used, " ...");
                                return;
                        }
                        n = snprintf(buffer + used, size - used, "%s%d", shown ? " " : ": ",
                                     (int)result->servers[s].clients[c]);
                        if (n < 0)
                                return;
                        used += (size_t)n;
                        shown++;
                }
}

static bool has_problem(const struct status_result *result)
{
        return result->state != DAEMON_RUNNING || result->orphaned || result->other_count;
}

#define PROBLEMS_NAMED 5

/* "1 of 56 need a look: 3:1:0 stale", above the table, when any does. */
static void print_problems(const struct ops_context *context, const struct status_result *results)
{
        size_t problems = 0;
        for (size_t i = 0; i < context->target_count; i++)
                problems += has_problem(&results[i]);
        if (problems == 0)
                return;
        printf("%zu of %zu need%s a look:", problems, context->target_count,
               problems == 1 ? "s" : "");
        size_t named = 0;
        for (size_t i = 0; i < context->target_count && named < PROBLEMS_NAMED; i++) {
                if (!has_problem(&results[i]))
                        continue;
                char name[32], state[96];
                lifecycle_target_name(results[i].target, name, sizeof(name));
                state_cell(&results[i], state, sizeof(state));
                printf("%s %s %s", named ? "," : "", name, state);
                named++;
        }
        printf("%s\n", problems > named ? ", ..." : "");
}

static int print_table(const struct ops_context *context, const struct status_result *results)
{
        static const struct table_column columns[] = {
            {"TARGET", TABLE_LEFT},  {"UUID", TABLE_UUID},     {"STATE", TABLE_LEFT},
            {"PID", TABLE_RIGHT},    {"UPTIME", TABLE_RIGHT},  {"SERVERS", TABLE_LEFT},
            {"CLIENTS", TABLE_LEFT}, {"THREADS", TABLE_RIGHT}, {"PINNED", TABLE_RIGHT},
            {"AGENT", TABLE_LEFT},
        };
        size_t counts[DAEMON_STATES];
        count_states(results, context->target_count, counts);
        printf("%zu target%s, layout %s in %s:", context->target_count,
               context->target_count == 1 ? "" : "s", layout_kind_name(context->layout.kind),
               context->layout.kind == LAYOUT_SEED ? LAYOUT_SEED_DIR : context->layout.runtime_dir);
        const char *separator = " ";
        for (int state = 0; state < DAEMON_STATES; state++)
                if (counts[state]) {
                        printf("%s%zu %s", separator, counts[state],
                               daemon_state_string((enum daemon_state)state));
                        separator = ", ";
                }
        size_t orphaned = count_orphaned(results, context->target_count);
        if (orphaned)
                printf("%s%zu orphaned", separator, orphaned);
        printf("%s\n", agent_rows ? " (answered by the agent)" : "");
        print_problems(context, results);
        printf("\n");

        _cleanup_table_ struct table *table =
            table_new(columns, ELEMENTSOF(columns) - (agent_rows ? 0 : 1));
        if (!table)
                return -ENOMEM;
        /* Problem rows first: one stale daemon among 56 must not hide in the middle. */
        _cleanup_free_ size_t *order = calloc(context->target_count, sizeof(*order));
        if (!order)
                return -ENOMEM;
        size_t rows = 0;
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < context->target_count; i++)
                        if (has_problem(&results[i]) == (pass == 0))
                                order[rows++] = i;
        for (size_t row = 0; row < rows; row++) {
                size_t i = order[row];
                const struct status_result *result = &results[i];
                char name[32], uptime[32], servers[256], clients[128], state[96];
                lifecycle_target_name(result->target, name, sizeof(name));
                servers_cell(result, servers, sizeof(servers));
                clients_cell(result, clients, sizeof(clients));
                bool alive =
                    result->state == DAEMON_RUNNING || result->state == DAEMON_NOT_ANSWERING;
                if (alive)
                        lifecycle_format_uptime(result->uptime_seconds, uptime, sizeof(uptime));
                else
                        (void)snprintf(uptime, sizeof(uptime), "-");

                table_cellf(table, "%s", name);
                state_cell(result, state, sizeof(state));
                table_cellf(table, "%s", result->target->uuid[0] ? result->target->uuid : "-");
                table_cellf(table, "%s", state);
                if (result->pid > 0)
                        table_cellf(table, "%d", (int)result->pid);
                else
                        table_cellf(table, "-");
                table_cellf(table, "%s", uptime);
                table_cellf(table, "%s", servers);
                table_cellf(table, "%s", clients);
                if (answered(result))
                        table_cellf(table, "%.4g%%", result->default_thread_percentage);
                else
                        table_cellf(table, "-");
                table_cellf(table, "%s",
                            answered(result) && result->default_pinned_limit.set
                                ? result->default_pinned_limit.text
                                : "-");
                if (agent_rows) {
                        char agent[96];
                        agent_cell(&agent_rows[i], agent, sizeof(agent));
                        table_cellf(table, "%s", agent);
                }
        }
        return table_print(table, stdout);
}

static json_t *servers_json(const struct status_result *result)
{
        json_t *servers = json_array();
        for (size_t s = 0; servers && s < result->server_count; s++) {
                const struct status_server *server = &result->servers[s];
                json_t *clients = json_array();
                for (size_t c = 0; clients && c < server->client_count; c++)
                        if (json_array_append_new(clients, json_integer(server->clients[c])) < 0) {
                                json_decref(clients);
                                clients = NULL;
                        }
                json_t *item =
                    json_pack("{s:i, s:o, s:s?, s:o}", "pid", (int)server->pid, "uid",
                              server->uid_known ? json_integer(server->uid) : json_null(), "user",
                              server->uid_known ? server->user : NULL, "clients", clients);
                if (!item || json_array_append_new(servers, item) < 0) {
                        json_decref(servers);
                        servers = NULL;
                }
        }
        return servers;
}

static json_t *others_json(const struct status_result *result)
{
        json_t *others = json_array();
        for (size_t o = 0; others && o < result->other_count; o++) {
                const struct mps_daemon *other = &result->others[o];
                json_t *item = json_pack(
                    "{s:i, s:i, s:o, s:o}", "pid", (int)other->pid, "uid", (int)other->uid,
                    "pipe_dir", json_text(other->pipe_dir), "visible_devices",
                    json_text(other->has_visible_devices ? other->visible_devices : NULL));
                if (!item || json_array_append_new(others, item) < 0) {
                        json_decref(others);
                        others = NULL;
                }
        }
        return others;
}

/* Seconds rounded to the millisecond: the clocks behind it say no more (0.087, not
 * 0.087142185000004702). */
static double uptime_ms(double seconds)
{
        return seconds > 0 ? (double)(long long)(seconds * 1000.0 + 0.5) / 1000.0 : 0.0;
}

static json_t *agent_json(const struct agent_row *row)
{
        return json_pack(
            "{s:s, s:i, s:o, s:o, s:o, s:b, s:o, s:I, s:o}", "supervision", row->supervision,
            "restarts", (int)row->restarts, "last_exit",
            row->last_exit[0] ? json_string(row->last_exit) : json_null(), "last_exit_seconds_ago",
            row->last_exit_ago_ms >= 0 ? json_real(row->last_exit_ago_ms / 1000.0) : json_null(),
            "next_restart_seconds",
            row->next_restart_ms >= 0 ? json_real(row->next_restart_ms / 1000.0) : json_null(),
            "adopted", row->adopted, "observed_seconds_ago",
            row->observed_ago_ms >= 0 ? json_real(row->observed_ago_ms / 1000.0) : json_null(),
            "reservations", (json_int_t)row->reservations, "limits_mismatch",
            row->limits_mismatch[0] ? json_string(row->limits_mismatch) : json_null());
}

static json_t *target_json(const struct status_result *result, size_t index)
{
        json_t *item = lifecycle_target_json(result->target, &result->paths);
        bool up = answered(result);
        bool alive = up || result->state == DAEMON_NOT_ANSWERING;
        const struct mps_pinned_limit *pinned = &result->default_pinned_limit;
        json_t *limit = up && pinned->set ? json_pack("{s:s, s:I}", "text", pinned->text, "bytes",
                                                      (json_int_t)pinned->bytes)
                                          : json_null();
        bool has_error = result->state == DAEMON_NOT_ANSWERING || result->state == DAEMON_ERROR ||
                         result->state == DAEMON_GPU_LOST;
        const struct gpu *gpu = result->target->gpu; /* NULL for an orphan */
        if (!item ||
            json_object_set_new(item, "state", json_string(daemon_state_string(result->state))) <
                0 ||
            json_object_set_new(item, "pid", lifecycle_pid_json(result->pid)) < 0 ||
            json_object_set_new(item, "uptime_seconds",
                                alive ? json_real(uptime_ms(result->uptime_seconds))
                                      : json_null()) < 0 ||
            json_object_set_new(item, "servers", up ? servers_json(result) : json_array()) < 0 ||
            json_object_set_new(item, "client_count",
                                up ? json_integer((json_int_t)result->client_count) : json_null()) <
                0 ||
            json_object_set_new(item, "default_active_thread_percentage",
                                up ? json_real(result->default_thread_percentage) : json_null()) <
                0 ||
            json_object_set_new(item, "default_pinned_mem_limit", limit) < 0 ||
            json_object_set_new(item, "default_client_priority",
                                up ? json_integer(result->default_client_priority) : json_null()) <
                0 ||
            json_object_set_new(item, "other_daemons", others_json(result)) < 0 ||
            json_object_set_new(item, "orphaned", json_boolean(result->orphaned)) < 0 ||
            json_object_set_new(item, "notes",
                                result->orphaned ? json_string(ORPHANED_NOTE) : json_null()) < 0 ||
            json_object_set_new(item, "pci_bus_id",
                                gpu && gpu->pci_bus_id[0] ? json_string(gpu->pci_bus_id)
                                                          : json_null()) < 0 ||
            json_object_set_new(item, "error",
                                has_error ? json_text(result->error.message) : json_null()) < 0 ||
            (agent_rows &&
             json_object_set_new(item, "agent", agent_json(&agent_rows[index])) < 0)) {
                json_decref(item);
                return NULL;
        }
        return item;
}

static int print_json(const struct ops_context *context, const struct status_result *results)
{
        json_t *targets = json_array();
        for (size_t i = 0; targets && i < context->target_count; i++)
                if (json_array_append_new(targets, target_json(&results[i], i)) < 0) {
                        json_decref(targets);
                        targets = NULL;
                }
        size_t counts[DAEMON_STATES];
        count_states(results, context->target_count, counts);
        json_t *summary = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "running", (json_int_t)counts[DAEMON_RUNNING],
            "not_running", (json_int_t)counts[DAEMON_NOT_RUNNING], "stale",
            (json_int_t)counts[DAEMON_STALE], "not_answering",
            (json_int_t)counts[DAEMON_NOT_ANSWERING], "error", (json_int_t)counts[DAEMON_ERROR],
            "gpu_lost", (json_int_t)counts[DAEMON_GPU_LOST], "orphaned",
            (json_int_t)count_orphaned(results, context->target_count));
        if (!targets || !summary) {
                json_decref(targets);
                json_decref(summary);
                return -ENOMEM;
        }
        return lifecycle_print_json(context, "status", targets, summary);
}

/* One note on stderr for each thing a person should look at. */
static void print_notes(const struct ops_context *context, const struct status_result *results)
{
        for (size_t i = 0; i < context->target_count; i++) {
                const struct status_result *result = &results[i];
                char name[32];
                lifecycle_target_name(result->target, name, sizeof(name));
                const char *uuid = result->target->uuid;
                if (result->state == DAEMON_GPU_LOST) {
                        const struct gpu *gpu = result->target->gpu;
                        cli_error("GPU %u%s%s%s is lost: %s (it needs a reset or a reboot; the "
                                  "daemons of its devices show as orphaned, `mpsmig stop` ends "
                                  "them)",
                                  gpu->index, gpu->pci_bus_id[0] ? " (PCI " : "", gpu->pci_bus_id,
                                  gpu->pci_bus_id[0] ? ")" : "", gpu->lost_reason);
                        continue;
                }
                if (result->orphaned)
                        cli_error("%s: NVML no longer lists this device (a MIG instance was "
                                  "destroyed, or its GPU is lost) but the layout still has its "
                                  "folders%s: `mpsmig stop %s` ends what is left",
                                  uuid,
                                  result->state == DAEMON_RUNNING ||
                                          result->state == DAEMON_NOT_ANSWERING
                                      ? " and its daemon still runs"
                                      : "",
                                  uuid);
                if (result->state == DAEMON_NOT_ANSWERING)
                        cli_error("%s (%s): the MPS control daemon (pid %d) does not answer, it "
                                  "may be hung (`mpsmig stop --force` ends it): %s",
                                  name, uuid, (int)result->pid, result->error.message);
                else if (result->state == DAEMON_ERROR)
                        cli_error("%s (%s): %s", name, uuid, result->error.message);
                else if (result->state == DAEMON_STALE)
                        cli_error("%s (%s): the daemon's pid file names pid %d, which has died "
                                  "(`mpsmig start` recovers, `mpsmig stop` cleans up)",
                                  name, uuid, (int)result->pid);
                if (agent_rows && agent_rows[i].next_restart_ms >= 0)
                        cli_error("%s (%s): the MPS control daemon %s; the agent starts it again "
                                  "in %.1f s (%u restart%s)%s",
                                  name, uuid, agent_rows[i].last_exit,
                                  (double)agent_rows[i].next_restart_ms / 1000.0,
                                  agent_rows[i].restarts, agent_rows[i].restarts == 1 ? "" : "s",
                                  strcmp(agent_rows[i].supervision, "crash loop") == 0
                                      ? ": a crash loop, see its control.log"
                                      : "");
                if (agent_rows && agent_rows[i].limits_mismatch[0])
                        cli_error("%s (%s): the agent could not apply the configuration as "
                                  "asked: %s",
                                  name, uuid, agent_rows[i].limits_mismatch);
                for (size_t o = 0; o < result->other_count; o++)
                        cli_error("%s (%s): another MPS control daemon (pid %d, pipe folder %s) "
                                  "serves this device: two daemons on one device time-slice "
                                  "instead of sharing it; stop one of them",
                                  name, uuid, (int)result->others[o].pid,
                                  result->others[o].pipe_dir);
        }
}

static int status_run(int argc, char **argv)
{
        _cleanup_(lifecycle_args_done) struct lifecycle_args args = {0};
        int status = lifecycle_parse(&verb_status, false, argc, argv, &args);
        if (status >= 0)
                return status;
        /* Without TARGETs, status shows what runs: whole GPUs with folders of this layout (a
         * daemon started with --whole-gpus), the devices NVML no longer lists that still have
         * folders (orphans), and the lost GPUs; so that status and stop agree on what exists. */
        struct lifecycle_args asked = args;
        bool sweep_whole_gpus = args.options.name_count == 0 && !args.options.whole_gpus;
        if (sweep_whole_gpus)
                args.options.whole_gpus = true;
        args.options.orphans = true;
        _cleanup_(ops_context_done) struct ops_context context = {0};
        _cleanup_free_ struct status_result *results = NULL;
        _cleanup_free_ struct agent_row *rows = NULL;
        struct error err = {0};
        /* The agent, when one serves the runtime folder, answers from memory. */
        int asked_agent = agent_client_status(&asked.options, &context, &results, &rows, &err);
        if (asked_agent < 0 && asked_agent != AGENT_CLIENT_NONE) {
                cli_report(&err);
                return EXIT_FAILURE_;
        }
        agent_rows = rows;
        lifecycle_answered_by_agent(asked_agent == 0);
        if (asked_agent == AGENT_CLIENT_NONE) {
                status = lifecycle_open(&args, &context);
                if (status != EXIT_OK)
                        return status;
                if (sweep_whole_gpus)
                        ops_stop_keep_used_whole_gpus(&context);
                if (ops_context_add_lost_gpus(&context) < 0) {
                        cli_error("out of memory");
                        return EXIT_FAILURE_;
                }
        }
        if (context.target_count == 0) {
                lifecycle_no_targets(&asked);
                return EXIT_OK;
        }
        if (asked_agent == AGENT_CLIENT_NONE) {
                results = calloc(context.target_count, sizeof(*results));
                if (!results) {
                        cli_error("out of memory");
                        return EXIT_FAILURE_;
                }
                if (ops_status(&context, results, &err) < 0) {
                        cli_report(&err);
                        return EXIT_FAILURE_;
                }
        }
        int r = args.json ? print_json(&context, results) : print_table(&context, results);
        print_notes(&context, results);
        lifecycle_warn_unchecked(&context);
        size_t counts[DAEMON_STATES];
        count_states(results, context.target_count, counts);
        /* Down, orphaned, or sharing its device with another daemon (they would time-slice):
         * counted before the results are let go. */
        size_t problems = 0;
        for (size_t i = 0; i < context.target_count; i++)
                problems += has_problem(&results[i]);
        status_results_done(results, context.target_count);
        if (r < 0) {
                cli_error("cannot write the status: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        if (counts[DAEMON_ERROR] || counts[DAEMON_GPU_LOST])
                return EXIT_FAILURE_;
        return problems > 0 ? EXIT_DOWN : EXIT_OK;
}

const struct verb verb_status = {
    .name = "status",
    .summary = "Show every target's MPS control daemon: state, servers, clients, limits",
    .usage = "Usage: mpsmig status [--whole-gpus] [--layout default|seed] [--runtime-dir DIR]\n"
             "                     [--timeout SECONDS] [--wide] [--json] [TARGET...]\n"
             "\n"
             "Asks every target's MPS control daemon (or the TARGETs named) at once and shows\n"
             "its state (running, not running, stale: its pid file outlived it, not\n"
             "answering: alive but hung), pid, uptime, servers with their users, clients,\n"
             "and the default active thread percentage and pinned memory limit. Notes on\n"
             "stderr name what needs a hand, including another control daemon serving the\n"
             "same device (for example one the seed scripts started in /tmp).\n"
             "Without TARGETs it shows what `mpsmig stop` would stop: every MIG device,\n"
             "whole GPUs with folders of the layout, devices NVML no longer lists that still\n"
             "have folders (\"orphaned: device gone\"), and a row per lost GPU.\n"
             "\n"
             "Options:\n" LIFECYCLE_OPTIONS_HELP
             "  --timeout SECONDS    How long a daemon may take to answer before it counts\n"
             "                       as not answering (default 5)\n" LIFECYCLE_HELP_OPTION "\n"
             "Exit status (for monitoring): 0 every daemon runs and answers, 3 some daemon is\n"
             "not running, stale or not answering, an orphan is left, or another daemon\n"
             "serves one of the devices, 1 an error (a folder that could not be read safely)\n"
             "or a lost GPU, 2 usage error, bad runtime folder or no driver.\n",
    .run = status_run,
};
