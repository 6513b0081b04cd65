/* The verbs' side of the agent's socket: connect (only to a socket and a process of root or of
 * the caller), send one request, read one answer, and turn it into the values the direct path
 * gives. See client.h and docs/agent.md. */
#define _GNU_SOURCE
#include "agent/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fd_io.h"
#include "base/flock_wait.h"
#include "node/node_cache.h"
#include "node/target_name.h"

static int none(void)
{
        return AGENT_CLIENT_NONE;
}

static void set_timeouts(int fd, int timeout_ms)
{
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* The agent's socket, if one of root's or ours listens there. */
static int connect_agent(const char *runtime_dir, int timeout_ms, int *ret_fd)
{
        const char *disabled = getenv(AGENT_CLIENT_DISABLE_ENV);
        if (disabled && disabled[0] && strcmp(disabled, "0") != 0)
                return none();
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int n = snprintf(address.sun_path, sizeof(address.sun_path), "%s/%s", runtime_dir,
                         AGENT_SOCKET_NAME);
        if (n < 0 || (size_t)n >= sizeof(address.sun_path))
                return none();
        struct stat st;
        if (lstat(address.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
            (st.st_uid != 0 && st.st_uid != geteuid()))
                return none();
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return none();
        set_timeouts(fd, timeout_ms);
        if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
                return none(); /* nobody listens: the agent is gone */
        struct ucred peer;
        socklen_t length = sizeof(peer);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) < 0 ||
            (peer.uid != 0 && peer.uid != geteuid()))
                return none();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int agent_client_ask(const char *runtime_dir, json_t *request, int timeout_ms, json_t **ret_answer,
                     struct error *err)
{
        _cleanup_close_ int fd = -1;
        int r = connect_agent(runtime_dir, timeout_ms, &fd);
        if (r < 0)
                return r;
        (void)json_object_set_new(request, "version", json_integer(AGENT_PROTOCOL_VERSION));
        _cleanup_free_ char *text = json_dumps(request, JSON_COMPACT);
        if (!text)
                return error_set(err, -ENOMEM, "out of memory");
        r = fd_write_fully(fd, text, strlen(text));
        if (r == 0 && shutdown(fd, SHUT_WR) < 0)
                r = -errno;
        if (r < 0)
                return error_set(err, r, "cannot ask the agent of %s: %s", runtime_dir,
                                 strerror(-r));
        size_t capacity = 65536, used = 0;
        _cleanup_free_ char *answer = malloc(capacity + 1);
        long long deadline = monotonic_now_ms() + timeout_ms;
        while (answer) {
                if (used == capacity) {
                        if (capacity >= AGENT_ANSWER_MAX)
                                return error_set(err, -EMSGSIZE,
                                                 "the agent of %s answered more than %d bytes",
                                                 runtime_dir, AGENT_ANSWER_MAX);
                        capacity *= 2;
                        char *bigger = realloc(answer, capacity + 1);
                        if (!bigger)
                                break;
                        answer = bigger;
                }
                ssize_t got = read(fd, answer + used, capacity - used);
                if (got < 0 && errno == EINTR && monotonic_now_ms() < deadline)
                        continue;
                if (got < 0)
                        return error_set(err, errno == EAGAIN ? -ETIMEDOUT : -errno,
                                         "the agent of %s did not answer%s", runtime_dir,
                                         errno == EAGAIN ? " in time" : "");
                if (got == 0)
                        break;
                used += (size_t)got;
                /* The answer is one line: its newline ends it (JSON_COMPACT has none inside). */
                if (answer[used - 1] == '\n')
                        break;
        }
        if (!answer)
                return error_set(err, -ENOMEM, "out of memory");
        answer[used] = '\0';
        json_error_t parse_error;
        json_t *document = json_loads(answer, 0, &parse_error);
        if (!document || !json_is_object(document)) {
                json_decref(document);
                return error_set(err, -EBADMSG,
                                 "the agent of %s gave an answer that is not JSON (%s): was it "
                                 "stopped meanwhile?",
                                 runtime_dir, used ? parse_error.text : "nothing");
        }
        *ret_answer = document;
        return 0;
}

/* An answer that says "ok": false, as an error; the failure word in *ret_failure. */
static int answer_error(const json_t *answer, struct error *err, const char **ret_failure)
{
        if (json_is_true(json_object_get(answer, "ok")))
                return 0;
        agent_error_from_json(json_object_get(answer, "error"), err);
        const char *failure = json_string_value(json_object_get(answer, "failure"));
        *ret_failure = failure ? failure : AGENT_FAILURE_OTHER;
        return err->code < 0 ? err->code : -EIO;
}

static enum ops_failure ops_failure_of(const char *failure)
{
        return strcmp(failure, AGENT_FAILURE_USAGE) == 0 ? OPS_FAILURE_USAGE : OPS_FAILURE_OTHER;
}

/* The node of an answer, into the context. */
static int take_node(struct ops_context *context, const json_t *answer, struct error *err)
{
        const char *text = json_string_value(json_object_get(answer, "node"));
        struct node *node = NULL;
        if (!text || node_cache_parse_with_lost(text, strlen(text), &node) < 0)
                return error_set(err, -EBADMSG, "the agent's answer holds no node");
        node_free(context->node);
        context->node = node;
        return 0;
}

/* Appends the target of `uuid` (from the node, else an orphan whose UUID the context keeps). */
static int append_target(struct ops_context *context, const struct target *all, size_t all_count,
                         const char *uuid)
{
        struct target *bigger =
            realloc(context->targets, (context->target_count + 1) * sizeof(*bigger));
        if (!bigger)
                return -ENOMEM;
        context->targets = bigger;
        for (size_t i = 0; i < all_count; i++)
                if (strcmp(all[i].uuid, uuid) == 0) {
                        context->targets[context->target_count++] = all[i];
                        return 0;
                }
        /* Orphans point into orphan_uuids: made big enough once, by the caller, so that it never
         * moves under the targets that point into it. */
        (void)snprintf(context->orphan_uuids[context->orphan_count], NODE_UUID_MAX, "%s", uuid);
        context->targets[context->target_count++] = (struct target){
            .kind = TARGET_ORPHAN, .uuid = context->orphan_uuids[context->orphan_count++]};
        return 0;
}

/* The context of an answer's targets (by "uuid"), in the answer's order, or those `names`
 * resolve to when names are given. */
static int context_of(const struct ops_options *options, const json_t *answer,
                      struct ops_context *context, struct error *err)
{
        int r = ops_context_prepare(options, context, err);
        if (r < 0)
                return r;
        r = take_node(context, answer, err);
        if (r < 0)
                return r;
        const json_t *rows = json_object_get(answer, "targets");
        if (options->name_count > 0)
                return target_resolve(context->node, options->names, options->name_count, true,
                                      false, &context->targets, &context->target_count, err);
        _cleanup_free_ struct target *all = NULL;
        size_t all_count = 0;
        if (node_targets(context->node, true, &all, &all_count) < 0)
                return error_set(err, -ENOMEM, "out of memory");
        context->orphan_uuids = calloc(json_array_size(rows) + 1, NODE_UUID_MAX);
        if (!context->orphan_uuids)
                return error_set(err, -ENOMEM, "out of memory");
        /* The node's order first (nvidia-smi's), then what NVML no longer lists. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < json_array_size(rows); i++) {
                        const char *uuid =
                            json_string_value(json_object_get(json_array_get(rows, i), "uuid"));
                        bool listed = false;
                        for (size_t j = 0; uuid && j < all_count && !listed; j++)
                                listed = strcmp(all[j].uuid, uuid) == 0;
                        if (!uuid || listed != (pass == 0))
                                continue;
                        if (append_target(context, all, all_count, uuid) < 0)
                                return error_set(err, -ENOMEM, "out of memory");
                }
        return 0;
}

static const json_t *row_of(const json_t *answer, const char *uuid)
{
        const json_t *rows = json_object_get(answer, "targets");
        for (size_t i = 0; i < json_array_size(rows); i++) {
                const char *its =
                    json_string_value(json_object_get(json_array_get(rows, i), "uuid"));
                if (its && strcmp(its, uuid) == 0)
                        return json_array_get(rows, i);
        }
        return NULL;
}

static int ask(const struct ops_options *options, const char *what, json_t *request, int timeout_ms,
               json_t **ret_answer, struct error *err)
{
        if (options->layout_kind != LAYOUT_DEFAULT) {
                json_decref(request);
                return none(); /* the agent serves the default layout */
        }
        struct layout layout;
        struct error ignored = {0};
        if (!request ||
            layout_init(options->layout_kind, options->runtime_dir, &layout, &ignored) < 0) {
                json_decref(request);
                return request ? none() : error_set(err, -ENOMEM, "out of memory");
        }
        (void)json_object_set_new(request, "request", json_string(what));
        int r = agent_client_ask(layout.runtime_dir, request, timeout_ms, ret_answer, err);
        json_decref(request);
        return r;
}

static json_t *names_json(const struct ops_options *options)
{
        json_t *names = json_array();
        for (size_t i = 0; names && i < options->name_count; i++)
                (void)json_array_append_new(names, json_string(options->names[i]));
        return names;
}

int agent_client_status(const struct ops_options *options, struct ops_context *ret_context,
                        struct status_result **ret_results, struct agent_row **ret_rows,
                        struct error *err)
{
        json_t *answer = NULL;
        int r = ask(options, "status", json_object(), AGENT_CLIENT_TIMEOUT_MS, &answer, err);
        if (r < 0)
                return r;
        _cleanup_(ops_context_done) struct ops_context context = {0};
        const char *failure = NULL;
        r = answer_error(answer, err, &failure);
        if (r == 0)
                r = context_of(options, answer, &context, err);
        if (r == 0 && ops_context_add_lost_gpus(&context) < 0)
                r = error_set(err, -ENOMEM, "out of memory");
        size_t count = context.target_count;
        struct status_result *results = r == 0 ? calloc(count + 1, sizeof(*results)) : NULL;
        struct agent_row *rows = r == 0 ? calloc(count + 1, sizeof(*rows)) : NULL;
        if (r == 0 && (!results || !rows))
                r = error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; r == 0 && i < count; i++) {
                struct status_result *result = &results[i];
                const struct target *target = &context.targets[i];
                result->target = target;
                if (target->kind == TARGET_LOST_GPU) {
                        result->state = DAEMON_GPU_LOST;
                        (void)error_set(&result->error, -ENXIO, "%s", target->gpu->lost_reason);
                        (void)snprintf(rows[i].supervision, sizeof(rows[i].supervision), "-");
                        rows[i].last_exit_ago_ms = rows[i].next_restart_ms = -1;
                        rows[i].observed_ago_ms = -1;
                        continue;
                }
                struct error ignored = {0};
                (void)layout_paths(&context.layout, target->uuid, &result->paths, &ignored);
                const json_t *row = row_of(answer, target->uuid);
                if (!row) {
                        /* Named, but not one the agent serves. */
                        result->state = DAEMON_NOT_RUNNING;
                        (void)snprintf(rows[i].supervision, sizeof(rows[i].supervision),
                                       "not served");
                        rows[i].last_exit_ago_ms = rows[i].next_restart_ms = -1;
                        rows[i].observed_ago_ms = -1;
                        continue;
                }
                if (agent_status_row_parse(row, result, &rows[i]) < 0)
                        r = error_set(err, -EBADMSG, "the agent's status of %s does not parse",
                                      target->uuid);
        }
        json_decref(answer);
        if (r < 0) {
                status_results_done(results, count);
                free(results);
                free(rows);
                return r;
        }
        *ret_context = context;
        memset(&context, 0, sizeof(context));
        *ret_results = results;
        *ret_rows = rows;
        return 0;
}

static enum run_failure run_failure_of(const char *failure)
{
        if (strcmp(failure, AGENT_FAILURE_USAGE) == 0)
                return RUN_FAILURE_USAGE;
        if (strcmp(failure, AGENT_FAILURE_REFUSED) == 0)
                return RUN_FAILURE_REFUSED;
        return RUN_FAILURE_OTHER;
}

int agent_client_place(const struct run_request *request, struct run_plan *ret_plan,
                       enum run_failure *ret_failure, struct error *err)
{
        *ret_failure = RUN_FAILURE_NONE;
        struct ops_options options = {.layout_kind = request->layout_kind,
                                      .runtime_dir = request->runtime_dir};
        json_t *answer = NULL;
        int r = ask(&options, "place",
                    json_pack("{s:s, s:s?, s:b, s:b}", "on", request->on ? request->on : "auto",
                              "profile", request->profile, "single", request->single, "record",
                              request->record_pid > 0),
                    AGENT_CLIENT_TIMEOUT_MS, &answer, err);
        if (r < 0) {
                if (r != AGENT_CLIENT_NONE)
                        *ret_failure = RUN_FAILURE_OTHER;
                return r;
        }
        struct run_plan plan = {.target = NULL};
        const char *failure = NULL;
        r = answer_error(answer, err, &failure);
        if (r < 0) {
                *ret_failure = run_failure_of(failure);
                json_decref(answer);
                return r;
        }
        const char *uuid = json_string_value(json_object_get(answer, "uuid"));
        const char *pipe_dir = json_string_value(json_object_get(answer, "pipe_dir"));
        const char *log_dir = json_string_value(json_object_get(answer, "log_dir"));
        const char *name = json_string_value(json_object_get(answer, "target"));
        r = ops_context_prepare(&options, &plan.context, err);
        if (r == 0)
                r = take_node(&plan.context, answer, err);
        _cleanup_free_ struct target *all = NULL;
        size_t all_count = 0;
        if (r == 0 && (node_targets(plan.context.node, true, &all, &all_count) < 0 || !uuid ||
                       !pipe_dir || !log_dir || !name))
                r = error_set(err, -EBADMSG, "the agent's placement does not parse");
        for (size_t i = 0; r == 0 && i < all_count && !plan.target; i++)
                if (strcmp(all[i].uuid, uuid) == 0) {
                        plan.context.targets = calloc(1, sizeof(*plan.context.targets));
                        if (!plan.context.targets) {
                                r = error_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        plan.context.targets[0] = all[i];
                        plan.context.target_count = 1;
                        plan.target = &plan.context.targets[0];
                }
        if (r == 0 && !plan.target)
                r = error_set(err, -EBADMSG,
                              "the agent placed the program on %s, which its node "
                              "does not list",
                              uuid);
        if (r == 0) {
                (void)snprintf(plan.short_name, sizeof(plan.short_name), "%s", name);
                (void)snprintf(plan.paths.pipe_dir, sizeof(plan.paths.pipe_dir), "%s", pipe_dir);
                (void)snprintf(plan.paths.log_dir, sizeof(plan.paths.log_dir), "%s", log_dir);
                plan.daemon_pid = (pid_t)json_integer_value(json_object_get(answer, "daemon_pid"));
                plan.candidate_count =
                    (size_t)json_integer_value(json_object_get(answer, "candidates"));
                plan.load = (size_t)json_integer_value(json_object_get(answer, "load"));
                plan.recorded = json_is_true(json_object_get(answer, "recorded"));
                if (!plan.recorded && request->record_pid > 0)
                        (void)error_set(&plan.ledger_error, -EIO,
                                        "the agent could not watch this process");
                r = client_environment_build(plan.target, plan.paths.pipe_dir, plan.paths.log_dir,
                                             &request->limits, &plan.environment, err);
        }
        json_decref(answer);
        if (r < 0) {
                *ret_failure = RUN_FAILURE_OTHER;
                run_plan_done(&plan);
                return r;
        }
        *ret_plan = plan;
        return 0;
}

/* The context of a start or stop answer: the targets the agent worked on, in its answer's order
 * (it resolved the names itself); an answer that says it failed sets *ret_failure. */
static int worked_on_context(const struct ops_options *options, const json_t *answer,
                             struct ops_context *context, enum ops_failure *ret_failure,
                             struct error *err)
{
        const char *failure = NULL;
        int r = answer_error(answer, err, &failure);
        if (r < 0) {
                *ret_failure = ops_failure_of(failure);
                return r;
        }
        struct ops_options unnamed = *options;
        unnamed.names = NULL;
        unnamed.name_count = 0;
        return context_of(&unnamed, answer, context, err);
}

int agent_client_start(const struct ops_options *options, struct ops_context *ret_context,
                       struct start_result **ret_results, enum ops_failure *ret_failure,
                       struct error *err)
{
        *ret_failure = OPS_FAILURE_NONE;
        int timeout =
            (options->timeout_ms > 0 ? options->timeout_ms : OPS_START_TIMEOUT_MS_DEFAULT) +
            AGENT_CLIENT_TIMEOUT_MS;
        json_t *answer = NULL;
        /* The agent applies its own file: said, so that it can refuse a start that reads another
         * file that shapes the daemons. */
        const struct config *config = options->config;
        int r = ask(options, "start",
                    json_pack("{s:o, s:b, s:s, s:b}", "names", names_json(options), "whole_gpus",
                              options->whole_gpus, "config", config ? config->path : "",
                              "config_shapes_daemons", config_shapes_daemons(config)),
                    timeout, &answer, err);
        if (r < 0) {
                if (r != AGENT_CLIENT_NONE)
                        *ret_failure = OPS_FAILURE_OTHER;
                return r;
        }
        _cleanup_(ops_context_done) struct ops_context context = {0};
        r = worked_on_context(options, answer, &context, ret_failure, err);
        struct start_result *results =
            r == 0 ? calloc(context.target_count + 1, sizeof(*results)) : NULL;
        if (r == 0 && !results)
                r = error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; r == 0 && i < context.target_count; i++) {
                struct start_result *result = &results[i];
                result->target = &context.targets[i];
                struct error ignored = {0};
                (void)layout_paths(&context.layout, result->target->uuid, &result->paths, &ignored);
                const json_t *row = row_of(answer, result->target->uuid);
                const char *outcome = json_string_value(json_object_get(row, "outcome"));
                result->outcome = START_FAILED;
                for (int o = START_STARTED; o <= START_FAILED; o++)
                        if (outcome && strcmp(outcome, start_outcome_string(o)) == 0)
                                result->outcome = (enum start_outcome)o;
                result->pid = (pid_t)json_integer_value(json_object_get(row, "pid"));
                result->elapsed_ms = json_integer_value(json_object_get(row, "elapsed_ms"));
                const json_t *error = json_object_get(row, "error");
                if (json_is_object(error))
                        agent_error_from_json(error, &result->error);
        }
        json_decref(answer);
        if (r < 0) {
                if (*ret_failure == OPS_FAILURE_NONE)
                        *ret_failure = OPS_FAILURE_OTHER;
                free(results);
                return r;
        }
        *ret_context = context;
        memset(&context, 0, sizeof(context));
        *ret_results = results;
        return 0;
}

int agent_client_stop(const struct ops_options *options, struct ops_context *ret_context,
                      struct stop_result **ret_results, enum ops_failure *ret_failure,
                      struct error *err)
{
        *ret_failure = OPS_FAILURE_NONE;
        int timeout =
            (options->timeout_ms > 0 ? options->timeout_ms : OPS_STOP_TIMEOUT_MS_DEFAULT) +
            4 * OPS_ESCALATION_WAIT_MS + AGENT_CLIENT_TIMEOUT_MS;
        json_t *answer = NULL;
        int r = ask(options, "stop",
                    json_pack("{s:o, s:b, s:b}", "names", names_json(options), "whole_gpus",
                              options->whole_gpus, "force", options->force),
                    timeout, &answer, err);
        if (r < 0) {
                if (r != AGENT_CLIENT_NONE)
                        *ret_failure = OPS_FAILURE_OTHER;
                return r;
        }
        _cleanup_(ops_context_done) struct ops_context context = {0};
        r = worked_on_context(options, answer, &context, ret_failure, err);
        struct stop_result *results =
            r == 0 ? calloc(context.target_count + 1, sizeof(*results)) : NULL;
        if (r == 0 && !results)
                r = error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; r == 0 && i < context.target_count; i++) {
                struct stop_result *result = &results[i];
                result->target = &context.targets[i];
                struct error ignored = {0};
                (void)layout_paths(&context.layout, result->target->uuid, &result->paths, &ignored);
                (void)agent_stop_result_parse(answer, result->target->uuid, result);
        }
        json_decref(answer);
        if (r < 0) {
                if (*ret_failure == OPS_FAILURE_NONE)
                        *ret_failure = OPS_FAILURE_OTHER;
                free(results);
                return r;
        }
        *ret_context = context;
        memset(&context, 0, sizeof(context));
        *ret_results = results;
        return 0;
}

int agent_client_defaults_changed(const struct ops_options *options,
                                  const struct set_result *results, size_t count, struct error *err)
{
        json_t *targets = json_array();
        for (size_t i = 0; targets && i < count; i++) {
                const struct set_result *result = &results[i];
                if (!result->read_back)
                        continue;
                const struct mps_pinned_limit *pinned = &result->read.pinned;
                json_t *item = json_pack("{s:s, s:f, s:o, s:i}", "uuid", result->target->uuid,
                                         "threads", result->read.thread_percentage, "pinned",
                                         pinned->set ? json_pack("{s:s, s:I}", "text", pinned->text,
                                                                 "bytes", (json_int_t)pinned->bytes)
                                                     : json_null(),
                                         "priority", result->read.client_priority);
                if (!item || json_array_append_new(targets, item) < 0) {
                        json_decref(targets);
                        targets = NULL;
                }
        }
        if (!targets)
                return error_set(err, -ENOMEM, "out of memory");
        json_t *answer = NULL;
        int r = ask(options, "defaults_changed", json_pack("{s:o}", "targets", targets),
                    AGENT_CLIENT_TIMEOUT_MS, &answer, err);
        if (r == AGENT_CLIENT_NONE)
                return 0;
        if (r < 0)
                return r;
        const char *failure = NULL;
        r = answer_error(answer, err, &failure);
        json_decref(answer);
        return r;
}
