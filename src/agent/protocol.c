/* JSON for the agent's socket: errors with their hints, status rows, stop results; written by the
 * agent, read by its clients through the same code. Enumerations travel as the words the verbs
 * print, read back by comparing with every value's word. See protocol.h and docs/agent.md. */
#define _GNU_SOURCE
#include "agent/protocol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const hint_names[] = {
    [ERROR_HINT_NONE] = "none",
    [ERROR_HINT_STOP_FORCE] = "stop-force",
    [ERROR_HINT_STOP_SEED] = "stop-seed",
    [ERROR_HINT_STOP_AND_START] = "stop-and-start",
    [ERROR_HINT_LIST] = "list",
    [ERROR_HINT_STATUS] = "status",
    [ERROR_HINT_RUNTIME_DIR] = "runtime-dir",
    [ERROR_HINT_START] = "start",
    [ERROR_HINT_START_AGAIN] = "start-again",
    [ERROR_HINT_RESTART] = "restart",
};

json_t *agent_error_json(const struct error *err)
{
        if (!err)
                return json_null();
        unsigned hint = err->hint < sizeof(hint_names) / sizeof(hint_names[0]) ? err->hint : 0;
        return json_pack("{s:i, s:s, s:s, s:s}", "errno", err->code, "message", err->message,
                         "hint", hint_names[hint], "hint_target", err->hint_target);
}

void agent_error_from_json(const json_t *object, struct error *err)
{
        const char *message = json_string_value(json_object_get(object, "message"));
        json_int_t code = json_integer_value(json_object_get(object, "errno"));
        (void)error_set(err, code < 0 && code > -4096 ? (int)code : -EIO, "%s",
                        message && message[0] ? message : "the agent gave no reason");
        const char *hint = json_string_value(json_object_get(object, "hint"));
        const char *target = json_string_value(json_object_get(object, "hint_target"));
        for (size_t i = 0; hint && i < sizeof(hint_names) / sizeof(hint_names[0]); i++)
                if (strcmp(hint, hint_names[i]) == 0)
                        (void)error_hint_on(err, (enum error_hint)i, target);
}

json_t *agent_error_answer(const struct error *err, const char *failure)
{
        return json_pack("{s:i, s:b, s:s, s:o}", "version", AGENT_PROTOCOL_VERSION, "ok", 0,
                         "failure", failure, "error", agent_error_json(err));
}

/* ---- status rows ---- */

static json_t *servers_json(const struct status_result *result)
{
        json_t *servers = json_array();
        for (size_t s = 0; servers && s < result->server_count; s++) {
                const struct status_server *server = &result->servers[s];
                json_t *clients = json_array();
                for (size_t c = 0; clients && c < server->client_count; c++)
                        (void)json_array_append_new(clients, json_integer(server->clients[c]));
                json_t *item =
                    json_pack("{s:i, s:o, s:s, s:o}", "pid", (int)server->pid, "uid",
                              server->uid_known ? json_integer(server->uid) : json_null(), "user",
                              server->user, "clients", clients);
                if (!item || json_array_append_new(servers, item) < 0) {
                        json_decref(servers);
                        return NULL;
                }
        }
        return servers;
}

static json_t *nonnegative_or_null(long long value)
{
        return value >= 0 ? json_integer(value) : json_null();
}

json_t *agent_status_row_json(const struct status_result *result, const struct agent_row *row)
{
        const struct mps_pinned_limit *pinned = &result->default_pinned_limit;
        json_t *agent =
            json_pack("{s:s, s:i, s:o, s:o, s:o, s:b, s:o, s:I, s:o}", "supervision",
                      row->supervision, "restarts", (int)row->restarts, "last_exit",
                      row->last_exit[0] ? json_string(row->last_exit) : json_null(),
                      "last_exit_ago_ms", nonnegative_or_null(row->last_exit_ago_ms),
                      "next_restart_ms", nonnegative_or_null(row->next_restart_ms), "adopted",
                      row->adopted, "observed_ago_ms", nonnegative_or_null(row->observed_ago_ms),
                      "reservations", (json_int_t)row->reservations, "limits_mismatch",
                      row->limits_mismatch[0] ? json_string(row->limits_mismatch) : json_null());
        return json_pack(
            "{s:s, s:s, s:i, s:f, s:o, s:f, s:o, s:i, s:o, s:b, s:o}", "uuid",
            result->target ? result->target->uuid : "", "state", daemon_state_string(result->state),
            "pid", (int)result->pid, "uptime_seconds", result->uptime_seconds, "servers",
            servers_json(result), "default_active_thread_percentage",
            result->default_thread_percentage, "default_pinned_mem_limit",
            pinned->set
                ? json_pack("{s:s, s:I}", "text", pinned->text, "bytes", (json_int_t)pinned->bytes)
                : json_null(),
            "default_client_priority", result->default_client_priority, "error",
            result->error.message[0] ? agent_error_json(&result->error) : json_null(), "orphaned",
            result->orphaned, "agent", agent);
}

static int parse_state(const char *text, enum daemon_state *ret_state)
{
        for (int state = DAEMON_RUNNING; state <= DAEMON_GPU_LOST; state++)
                if (text && strcmp(text, daemon_state_string((enum daemon_state)state)) == 0) {
                        *ret_state = (enum daemon_state)state;
                        return 0;
                }
        return -EBADMSG;
}

static int parse_servers(const json_t *servers, struct status_result *result)
{
        size_t count = json_array_size(servers);
        if (count == 0)
                return 0;
        result->servers = calloc(count, sizeof(*result->servers));
        if (!result->servers)
                return -ENOMEM;
        for (size_t s = 0; s < count; s++) {
                const json_t *item = json_array_get(servers, s);
                struct status_server *server = &result->servers[result->server_count++];
                server->pid = (pid_t)json_integer_value(json_object_get(item, "pid"));
                const json_t *uid = json_object_get(item, "uid");
                server->uid_known = json_is_integer(uid);
                server->uid = (uid_t)json_integer_value(uid);
                const char *user = json_string_value(json_object_get(item, "user"));
                (void)snprintf(server->user, sizeof(server->user), "%s", user ? user : "?");
                const json_t *clients = json_object_get(item, "clients");
                size_t client_count = json_array_size(clients);
                if (client_count == 0)
                        continue;
                server->clients = calloc(client_count, sizeof(*server->clients));
                if (!server->clients)
                        return -ENOMEM;
                for (size_t c = 0; c < client_count; c++)
                        server->clients[server->client_count++] =
                            (pid_t)json_integer_value(json_array_get(clients, c));
                result->client_count += server->client_count;
        }
        return 0;
}

static long long integer_or(const json_t *value, long long otherwise)
{
        return json_is_integer(value) ? (long long)json_integer_value(value) : otherwise;
}

int agent_status_row_parse(const json_t *object, struct status_result *result,
                           struct agent_row *row)
{
        if (!json_is_object(object) ||
            parse_state(json_string_value(json_object_get(object, "state")), &result->state) < 0)
                return -EBADMSG;
        result->pid = (pid_t)json_integer_value(json_object_get(object, "pid"));
        result->uptime_seconds = json_number_value(json_object_get(object, "uptime_seconds"));
        result->default_thread_percentage =
            json_number_value(json_object_get(object, "default_active_thread_percentage"));
        result->default_client_priority =
            (int)json_integer_value(json_object_get(object, "default_client_priority"));
        result->orphaned = json_is_true(json_object_get(object, "orphaned"));
        const json_t *pinned = json_object_get(object, "default_pinned_mem_limit");
        if (json_is_object(pinned)) {
                const char *text = json_string_value(json_object_get(pinned, "text"));
                result->default_pinned_limit.set = true;
                result->default_pinned_limit.bytes =
                    (unsigned long long)json_integer_value(json_object_get(pinned, "bytes"));
                (void)snprintf(result->default_pinned_limit.text,
                               sizeof(result->default_pinned_limit.text), "%s", text ? text : "");
        }
        const json_t *error = json_object_get(object, "error");
        if (json_is_object(error))
                agent_error_from_json(error, &result->error);
        int r = parse_servers(json_object_get(object, "servers"), result);
        if (r < 0)
                return r;

        const json_t *agent = json_object_get(object, "agent");
        const char *supervision = json_string_value(json_object_get(agent, "supervision"));
        const char *last_exit = json_string_value(json_object_get(agent, "last_exit"));
        const char *mismatch = json_string_value(json_object_get(agent, "limits_mismatch"));
        *row = (struct agent_row){
            .restarts = (unsigned)json_integer_value(json_object_get(agent, "restarts")),
            .last_exit_ago_ms = integer_or(json_object_get(agent, "last_exit_ago_ms"), -1),
            .next_restart_ms = integer_or(json_object_get(agent, "next_restart_ms"), -1),
            .adopted = json_is_true(json_object_get(agent, "adopted")),
            .observed_ago_ms = integer_or(json_object_get(agent, "observed_ago_ms"), -1),
            .reservations = (size_t)json_integer_value(json_object_get(agent, "reservations")),
        };
        (void)snprintf(row->supervision, sizeof(row->supervision), "%s",
                       supervision ? supervision : "?");
        (void)snprintf(row->last_exit, sizeof(row->last_exit), "%s", last_exit ? last_exit : "");
        (void)snprintf(row->limits_mismatch, sizeof(row->limits_mismatch), "%s",
                       mismatch ? mismatch : "");
        return 0;
}

/* ---- stop results ---- */

json_t *agent_stop_results_json(const struct error *failure, const struct stop_result *results,
                                size_t count)
{
        if (failure)
                return agent_error_answer(failure, AGENT_FAILURE_OTHER);
        json_t *targets = json_array();
        size_t failed = 0;
        for (size_t i = 0; targets && i < count; i++) {
                const struct stop_result *result = &results[i];
                failed += result->outcome == STOP_FAILED;
                json_t *item = json_pack(
                    "{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:I, s:o}", "uuid",
                    result->target ? result->target->uuid : "", "outcome",
                    stop_outcome_string(result->outcome), "step", stop_step_string(result->step),
                    "pid", (int)result->pid, "folders_removed", (int)result->folders_removed,
                    "folders_kept", (int)result->folders_left, "folders_note", result->folders_note,
                    "elapsed_ms", (json_int_t)result->elapsed_ms, "error",
                    result->error.message[0] ? agent_error_json(&result->error) : json_null());
                if (!item || json_array_append_new(targets, item) < 0) {
                        json_decref(targets);
                        targets = NULL;
                }
        }
        if (!targets)
                return NULL;
        return json_pack("{s:i, s:b, s:I, s:o}", "version", AGENT_PROTOCOL_VERSION, "ok", 1,
                         "failed", (json_int_t)failed, "targets", targets);
}

int agent_stop_result_parse(const json_t *answer, const char *uuid, struct stop_result *result)
{
        const json_t *targets = json_object_get(answer, "targets");
        for (size_t i = 0; i < json_array_size(targets); i++) {
                const json_t *item = json_array_get(targets, i);
                const char *its = json_string_value(json_object_get(item, "uuid"));
                if (!its || strcmp(its, uuid) != 0)
                        continue;
                const char *outcome = json_string_value(json_object_get(item, "outcome"));
                const char *step = json_string_value(json_object_get(item, "step"));
                result->outcome = STOP_FAILED;
                for (int o = STOP_STOPPED; o <= STOP_FAILED; o++)
                        if (outcome && strcmp(outcome, stop_outcome_string(o)) == 0)
                                result->outcome = (enum stop_outcome)o;
                for (int s = STOP_STEP_NONE; s <= STOP_STEP_SIGKILL; s++)
                        if (step && strcmp(step, stop_step_string(s)) == 0)
                                result->step = (enum stop_step)s;
                result->pid = (pid_t)json_integer_value(json_object_get(item, "pid"));
                result->folders_removed =
                    (unsigned)json_integer_value(json_object_get(item, "folders_removed"));
                result->folders_left =
                    (unsigned)json_integer_value(json_object_get(item, "folders_kept"));
                const char *note = json_string_value(json_object_get(item, "folders_note"));
                (void)snprintf(result->folders_note, sizeof(result->folders_note), "%s",
                               note ? note : "");
                result->elapsed_ms = json_integer_value(json_object_get(item, "elapsed_ms"));
                const json_t *error = json_object_get(item, "error");
                if (json_is_object(error))
                        agent_error_from_json(error, &result->error);
                return 0;
        }
        return -ENOENT;
}
