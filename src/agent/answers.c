/* What the agent answers: `status` from memory (each daemon's state known at once through its
 * pidfd, its servers and clients as last asked, asked again when older than
 * AGENT_OVERVIEW_MAX_AGE_MS), a placement for `run` and `env` chosen among the daemons that answer
 * and recorded by the caller's pid (one loop: placements never race), and `start` and `stop` of
 * named targets, answered once done. Authority comes from the peer's credentials. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/protocol.h"
#include "agent/state.h"
#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "node/daemon_scan.h"
#include "node/target_name.h"
#include "ops/placement.h"
#include "ops/run.h"

#define WAIT_MARGIN_MS 5000 /* a start request waits the start timeout and this much more */

static json_t *fail(int code, const char *failure, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *fail(int code, const char *failure, const char *format, ...)
{
        struct error err = {0};
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(err.message, sizeof(err.message), format, ap);
        va_end(ap);
        err.code = code;
        return agent_error_answer(&err, failure);
}

static json_t *ok_answer(void)
{
        return json_pack("{s:i, s:b}", "version", AGENT_PROTOCOL_VERSION, "ok", 1);
}

/* ---- status ---- */

static void fill_status(const struct agent_target *target, long long now,
                        struct status_result *result, struct agent_row *row)
{
        result->pid = target->pid;
        result->orphaned = target->remove && strcmp(target->name, "-") == 0;
        if (target->pid > 0)
                (void)process_uptime(target->pid, &result->uptime_seconds);
        switch (target->state) {
        case SUPERVISION_READY:
                if (target->overview_error.message[0]) {
                        result->state = DAEMON_NOT_ANSWERING;
                        result->error = target->overview_error;
                        break;
                }
                result->state = DAEMON_RUNNING;
                if (target->have_overview) {
                        result->default_thread_percentage =
                            target->overview.default_active_thread_percentage;
                        result->default_pinned_limit = target->overview.default_pinned_limit;
                        result->default_client_priority = target->overview.default_client_priority;
                        (void)ops_status_fill_servers(&target->overview, result);
                } else {
                        result->default_thread_percentage = 100.0;
                }
                break;
        case SUPERVISION_STARTING:
                result->state = DAEMON_NOT_ANSWERING;
                (void)error_set(&result->error, -EAGAIN,
                                "it is starting: it has not answered yet (%lld ms since its start)",
                                now - target->started_ms);
                break;
        case SUPERVISION_STOPPING:
                result->state =
                    agent_target_has_daemon(target) ? DAEMON_RUNNING : DAEMON_NOT_RUNNING;
                break;
        case SUPERVISION_REFUSED:
                result->state = DAEMON_NOT_RUNNING;
                result->error = target->error;
                break;
        case SUPERVISION_BACKOFF:
        case SUPERVISION_NEW:
        case SUPERVISION_STOPPED:
                result->state = DAEMON_NOT_RUNNING;
                break;
        }
        (void)snprintf(row->supervision, sizeof(row->supervision), "%s",
                       supervision_string(target));
        row->restarts = target->restarts;
        (void)snprintf(row->last_exit, sizeof(row->last_exit), "%s", target->last_exit);
        row->last_exit_ago_ms = target->last_exit_ms > 0 ? now - target->last_exit_ms : -1;
        row->next_restart_ms = target->state == SUPERVISION_BACKOFF
                                   ? (target->restart_at_ms > now ? target->restart_at_ms - now : 0)
                                   : -1;
        row->adopted = target->adopted;
        row->observed_ago_ms = target->have_overview ? now - target->overview_ms : -1;
        row->reservations = target->reservation_count;
        (void)snprintf(row->limits_mismatch, sizeof(row->limits_mismatch), "%s",
                       target->limits_mismatch);
}

static json_t *status_answer(struct agent *agent)
{
        long long now = monotonic_now_ms();
        json_t *targets = json_array();
        for (size_t i = 0; targets && i < agent->target_count; i++) {
                struct agent_target *target = agent->targets[i];
                agent_target_prune_reservations(target);
                struct status_result result = {.target = NULL};
                struct target t = {.kind = target->kind, .uuid = target->uuid};
                result.target = &t;
                struct agent_row row = {.supervision = ""};
                fill_status(target, now, &result, &row);
                json_t *item = agent_status_row_json(&result, &row);
                status_results_done(&result, 1);
                if (!item || json_array_append_new(targets, item) < 0) {
                        json_decref(targets);
                        targets = NULL;
                }
                /* Answered from memory; what is old is asked again for the next one. */
                if (target->state == SUPERVISION_READY &&
                    (!target->have_overview ||
                     now - target->overview_ms > AGENT_OVERVIEW_MAX_AGE_MS))
                        agent_target_want_overview(target);
        }
        if (!targets)
                return fail(-ENOMEM, AGENT_FAILURE_OTHER, "out of memory");
        return json_pack("{s:i, s:b, s:i, s:s, s:s?, s:I, s:o}", "version", AGENT_PROTOCOL_VERSION,
                         "ok", 1, "agent_pid", (int)getpid(), "runtime_dir",
                         agent->context.layout.runtime_dir, "node", agent->node_text, "node_age_ms",
                         (json_int_t)(agent->node_known ? now - agent->node_read_ms : -1),
                         "targets", targets);
}

/* ---- placement ---- */

/* Why the one target named cannot take a program, as the direct path would say it. */
static json_t *refuse_one(const struct agent *agent, const struct target *t,
                          const struct agent_target *target)
{
        struct error err = {0};
        char name[32];
        long long now = monotonic_now_ms();
        if (target_short_name(t, name, sizeof(name)) < 0)
                (void)snprintf(name, sizeof(name), "%s", t->uuid);
        const char *what = "the MPS daemon of";
        if (!target) {
                (void)error_set(&err, -ESRCH,
                                "%s %s (%s) is not running (the agent serves %s), so the program "
                                "would run without MPS",
                                what, name, t->uuid,
                                agent->options.whole_gpus ? "every MIG device and whole GPU"
                                                          : "MIG devices only");
                (void)error_hint_on(&err, ERROR_HINT_START, name);
                return agent_error_answer(&err, AGENT_FAILURE_REFUSED);
        }
        switch (target->state) {
        case SUPERVISION_READY:
                (void)error_set(&err, -ETIMEDOUT,
                                "%s %s (%s, pid %d) does not answer (%s), so a client would hang",
                                what, name, t->uuid, (int)target->pid,
                                target->overview_error.message);
                (void)error_hint_on(&err, ERROR_HINT_RESTART, name);
                break;
        case SUPERVISION_STARTING:
                (void)error_set(&err, -EAGAIN,
                                "%s %s (%s) is starting and does not answer yet, so the program "
                                "would run without MPS; try again in a moment",
                                what, name, t->uuid);
                break;
        case SUPERVISION_BACKOFF:
                (void)error_set(&err, -EAGAIN,
                                "%s %s (%s) %s (%s, %u restart%s) and is started again in %lld "
                                "ms, so the program would run without MPS%s",
                                what, name, t->uuid, target->crash_loop ? "keeps dying" : "died",
                                target->last_exit, target->restarts,
                                target->restarts == 1 ? "" : "s",
                                target->restart_at_ms > now ? target->restart_at_ms - now : 0,
                                target->crash_loop ? "" : "; try again in a moment");
                if (target->crash_loop)
                        (void)error_hint(&err, ERROR_HINT_STATUS);
                break;
        case SUPERVISION_REFUSED:
                err = target->error;
                (void)error_prefix(&err,
                                   "%s %s (%s) cannot be started, so the program would run "
                                   "without MPS",
                                   what, name, t->uuid);
                break;
        case SUPERVISION_NEW:
        case SUPERVISION_STOPPING:
        case SUPERVISION_STOPPED:
                (void)error_set(&err, -ESRCH,
                                "%s %s (%s) is %s, so the program would run without MPS", what,
                                name, t->uuid,
                                target->state == SUPERVISION_STOPPED ? "stopped" : "not running");
                (void)error_hint_on(&err, ERROR_HINT_START, name);
                break;
        }
        return agent_error_answer(&err, AGENT_FAILURE_REFUSED);
}

static json_t *refuse_all(const struct agent *agent, const char *on, const struct target *ts,
                          size_t count)
{
        struct error err = {0};
        (void)error_set(&err, -ESRCH,
                        "no MPS daemon answers on any of the %zu targets '%s' names, so the "
                        "program would run without MPS (",
                        count, on);
        size_t len = strlen(err.message);
        for (size_t i = 0; i < count; i++) {
                char name[32];
                if (target_short_name(&ts[i], name, sizeof(name)) < 0)
                        continue;
                const struct agent_target *target = agent_find(agent, ts[i].uuid);
                int n =
                    snprintf(err.message + len, sizeof(err.message) - len, "%s%s %s", i ? ", " : "",
                             name, target ? supervision_string(target) : "not served");
                if (n < 0 || (size_t)n >= sizeof(err.message) - len - 1)
                        break;
                len += (size_t)n;
        }
        (void)snprintf(err.message + len, sizeof(err.message) - len, ")");
        (void)error_hint(&err, ERROR_HINT_START);
        return agent_error_answer(&err, AGENT_FAILURE_REFUSED);
}

static bool can_serve(const struct agent_target *target)
{
        return target && target->state == SUPERVISION_READY && !target->overview_error.message[0] &&
               agent_target_has_daemon(target);
}

static int reserve(struct agent_target *target, pid_t pid)
{
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return -errno;
        struct reservation *bigger =
            realloc(target->reservations, (target->reservation_count + 1) * sizeof(*bigger));
        if (!bigger) {
                (void)close(pidfd);
                return -ENOMEM;
        }
        target->reservations = bigger;
        target->reservations[target->reservation_count++] = (struct reservation){pid, pidfd};
        return 0;
}

static json_t *place_answer(struct agent *agent, struct agent_client *client, json_t *request)
{
        const char *on = json_string_value(json_object_get(request, "on"));
        struct run_request run = {
            .on = on ? on : "auto",
            .profile = json_string_value(json_object_get(request, "profile")),
            .single = json_is_true(json_object_get(request, "single")),
        };
        bool record = json_is_true(json_object_get(request, "record"));
        if (!agent->node_known)
                return fail(-EAGAIN, AGENT_FAILURE_OTHER,
                            "the agent has not read the node yet; try again in a moment");
        struct error err = {0};
        _cleanup_free_ struct target *ts = NULL;
        size_t count = 0;
        if (run_resolve(agent->context.node, &run, &ts, &count, &err) < 0)
                return agent_error_answer(&err, AGENT_FAILURE_USAGE);

        _cleanup_free_ struct placement_candidate *items = calloc(count, sizeof(*items));
        _cleanup_free_ struct agent_target **chosen_from = calloc(count, sizeof(*chosen_from));
        _cleanup_free_ pid_t *pids = NULL;
        size_t total = 0, n = 0;
        for (size_t i = 0; i < count; i++) {
                struct agent_target *target = agent_find(agent, ts[i].uuid);
                if (!can_serve(target))
                        continue;
                agent_target_prune_reservations(target);
                total += target->reservation_count +
                         (target->have_overview ? target->overview.ps.count : 0);
        }
        pids = calloc(total + 1, sizeof(*pids));
        if (!items || !chosen_from || !pids)
                return fail(-ENOMEM, AGENT_FAILURE_OTHER, "out of memory");
        size_t used = 0;
        for (size_t i = 0; i < count; i++) {
                struct agent_target *target = agent_find(agent, ts[i].uuid);
                if (!can_serve(target))
                        continue;
                /* The daemon's clients as last asked, and the programs placed since that have
                 * not reached it yet: each counted once (placement_choose), while it lives. */
                struct placement_candidate *item = &items[n];
                item->target = &ts[i];
                item->client_pids = pids + used;
                for (size_t c = 0; target->have_overview && c < target->overview.ps.count; c++)
                        pids[used++] = target->overview.ps.rows[c].pid;
                for (size_t r = 0; r < target->reservation_count; r++)
                        pids[used++] = target->reservations[r].pid;
                item->client_count = (size_t)(pids + used - item->client_pids);
                chosen_from[n++] = target;
        }
        if (n == 0)
                return count == 1 ? refuse_one(agent, &ts[0], agent_find(agent, ts[0].uuid))
                                  : refuse_all(agent, run.on, ts, count);
        size_t index = 0;
        if (placement_choose(-1, items, n, 0, &index, &err) < 0)
                return agent_error_answer(&err, AGENT_FAILURE_OTHER);
        struct agent_target *target = chosen_from[index];
        bool recorded = record && client->pid > 0 && reserve(target, client->pid) == 0;
        char name[32];
        (void)target_short_name(items[index].target, name, sizeof(name));
        return json_pack("{s:i, s:b, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:b, s:s?}", "version",
                         AGENT_PROTOCOL_VERSION, "ok", 1, "uuid", target->uuid, "target", name,
                         "pipe_dir", target->paths.pipe_dir, "log_dir", target->paths.log_dir,
                         "daemon_pid", (int)target->pid, "load", (json_int_t)items[index].load,
                         "candidates", (json_int_t)n, "recorded", recorded, "node",
                         agent->node_text);
}

/* ---- start and stop ---- */

static bool allowed(const struct agent_client *client)
{
        return client->uid == 0 || client->uid == geteuid();
}

static json_t *denied(const char *what)
{
        return fail(-EPERM, AGENT_FAILURE_DENIED,
                    "only root (or the agent's own user) may %s through the agent", what);
}

/* The agent targets the request's names resolve to (made for targets it does not serve yet, such
 * as a whole GPU named); NULL with an answer in *ret_answer on failure. */
static struct agent_target **named_targets(struct agent *agent, json_t *request, bool create,
                                           size_t *ret_count, json_t **ret_answer)
{
        const json_t *list = json_object_get(request, "names");
        size_t name_count = json_array_size(list);
        _cleanup_free_ char **names = calloc(name_count + 1, sizeof(*names));
        struct error err = {0};
        _cleanup_free_ struct target *ts = NULL;
        size_t count = 0;
        if (!names) {
                *ret_answer = fail(-ENOMEM, AGENT_FAILURE_OTHER, "out of memory");
                return NULL;
        }
        for (size_t i = 0; i < name_count; i++) {
                names[i] = (char *)json_string_value(json_array_get(list, i));
                if (!names[i]) {
                        *ret_answer = fail(-EINVAL, AGENT_FAILURE_USAGE,
                                           "the request's names are not all strings");
                        return NULL;
                }
        }
        bool whole = json_is_true(json_object_get(request, "whole_gpus"));
        if (name_count == 0) {
                /* Every target the agent serves (and every whole GPU, asked for). */
                struct agent_target **all = calloc(agent->target_count + 1, sizeof(*all));
                if (!all) {
                        *ret_answer = fail(-ENOMEM, AGENT_FAILURE_OTHER, "out of memory");
                        return NULL;
                }
                size_t n = 0;
                for (size_t i = 0; i < agent->target_count; i++)
                        if (!agent->targets[i]->remove &&
                            (agent->targets[i]->wanted || agent->targets[i]->explicit ||
                             agent->targets[i]->kind != TARGET_WHOLE_GPU || whole))
                                all[n++] = agent->targets[i];
                if (!whole || !create) {
                        *ret_count = n;
                        return all;
                }
                free(all);
        }
        if (target_resolve(agent->context.node, names, name_count, whole || name_count > 0, false,
                           &ts, &count, &err) < 0) {
                *ret_answer = agent_error_answer(&err, AGENT_FAILURE_USAGE);
                return NULL;
        }
        struct agent_target **found = calloc(count + 1, sizeof(*found));
        if (!found) {
                *ret_answer = fail(-ENOMEM, AGENT_FAILURE_OTHER, "out of memory");
                return NULL;
        }
        size_t n = 0;
        for (size_t i = 0; i < count; i++) {
                struct agent_target *target = agent_find(agent, ts[i].uuid);
                if (!target && create) {
                        target = agent_target_new(ts[i].uuid);
                        struct agent_target **bigger =
                            target ? realloc(agent->targets,
                                             (agent->target_count + 1) * sizeof(*bigger))
                                   : NULL;
                        if (!bigger) {
                                agent_target_free(target);
                                continue;
                        }
                        agent->targets = bigger;
                        agent->target_capacity = agent->target_count + 1;
                        agent->targets[agent->target_count++] = target;
                        target->kind = ts[i].kind;
                        (void)target_short_name(&ts[i], target->name, sizeof(target->name));
                }
                if (target)
                        found[n++] = target;
        }
        *ret_count = n;
        return found;
}

static json_t *wait_for(struct agent_client *client, json_t *request, struct agent_target **ts,
                        size_t count, int timeout_ms)
{
        client->uuids = calloc(count + 1, sizeof(*client->uuids));
        if (!client->uuids)
                return fail(-ENOMEM, AGENT_FAILURE_OTHER, "out of memory");
        for (size_t i = 0; i < count; i++)
                (void)snprintf(client->uuids[i], NODE_UUID_MAX, "%s", ts[i]->uuid);
        client->uuid_count = count;
        client->waiting = json_incref(request);
        client->phase = CLIENT_WAITING;
        client->deadline_ms = monotonic_now_ms() + timeout_ms + WAIT_MARGIN_MS;
        (void)json_object_set_new(request, "began_ms", json_integer(monotonic_now_ms()));
        return NULL;
}

static json_t *start_request(struct agent *agent, struct agent_client *client, json_t *request)
{
        if (!allowed(client))
                return denied("start daemons");
        if (agent->shutting_down)
                return fail(-ESHUTDOWN, AGENT_FAILURE_OTHER, "the agent is stopping");
        if (!agent->node_known)
                return fail(-EAGAIN, AGENT_FAILURE_OTHER,
                            "the agent has not read the node yet; try again in a moment");
        const char *theirs = json_string_value(json_object_get(request, "config"));
        const char *ours = agent->config && agent->config->path[0] ? agent->config->path : "";
        if (json_is_true(json_object_get(request, "config_shapes_daemons")) && theirs &&
            strcmp(theirs, ours) != 0)
                return fail(-EINVAL, AGENT_FAILURE_USAGE,
                            "the agent (pid %d) applies %s%s, not %s: give `mpsmig start` the "
                            "agent's file, or change that file and send the agent SIGHUP",
                            (int)getpid(),
                            ours[0] ? "the configuration file " : "no configuration file", ours,
                            theirs);
        json_t *answer = NULL;
        size_t count = 0;
        _cleanup_free_ struct agent_target **ts =
            named_targets(agent, request, true, &count, &answer);
        if (!ts)
                return answer;
        json_t *before = json_object();
        for (size_t i = 0; i < count; i++) {
                struct agent_target *target = ts[i];
                (void)json_object_set_new(before, target->uuid,
                                          json_boolean(target->state == SUPERVISION_READY));
                if (!target->wanted)
                        target->explicit = true;
                if (target->held)
                        agent_log(LOG_NOTICE, "%s %s: started on request (uid %u, pid %d)",
                                  target->name, target->uuid, (unsigned)client->uid,
                                  (int)client->pid);
                target->held = false;
                if (target->state == SUPERVISION_STOPPED || target->state == SUPERVISION_REFUSED)
                        target->state = SUPERVISION_NEW;
                if (target->state == SUPERVISION_BACKOFF)
                        target->restart_at_ms = 0; /* asked for: now, not at its backoff */
        }
        (void)json_object_set_new(request, "ready_before", before);
        agent_start_due(agent);
        int timeout = agent->options.start_timeout_ms > 0 ? agent->options.start_timeout_ms
                                                          : OPS_START_TIMEOUT_MS_DEFAULT;
        return wait_for(client, request, ts, count, timeout);
}

static json_t *stop_request(struct agent *agent, struct agent_client *client, json_t *request)
{
        if (!allowed(client))
                return denied("stop daemons");
        if (agent->shutting_down)
                return fail(-ESHUTDOWN, AGENT_FAILURE_OTHER, "the agent is stopping");
        if (!agent->node_known)
                return fail(-EAGAIN, AGENT_FAILURE_OTHER,
                            "the agent has not read the node yet; try again in a moment");
        json_t *answer = NULL;
        size_t count = 0;
        _cleanup_free_ struct agent_target **ts =
            named_targets(agent, request, false, &count, &answer);
        if (!ts)
                return answer;
        size_t kept = 0;
        for (size_t i = 0; i < count; i++) {
                if (ts[i]->state == SUPERVISION_STOPPING)
                        continue; /* a stopper works on it already */
                ts[i]->held = true;
                ts[i]->explicit = false;
                ts[kept++] = ts[i];
                agent_log(LOG_NOTICE,
                          "%s %s: stopped on request (uid %u, pid %d): not restarted "
                          "until started",
                          ts[i]->name, ts[i]->uuid, (unsigned)client->uid, (int)client->pid);
        }
        if (kept == 0)
                return json_pack("{s:i, s:b, s:I, s:[]}", "version", AGENT_PROTOCOL_VERSION, "ok",
                                 1, "failed", (json_int_t)0, "targets");
        bool force = json_is_true(json_object_get(request, "force"));
        if (agent_stop_targets(agent, ts, kept, false, force, client) < 0)
                return fail(-errno, AGENT_FAILURE_OTHER, "cannot start a stopper: %s",
                            strerror(errno));
        client->phase = CLIENT_WAITING;
        client->deadline_ms = 0;
        return NULL;
}

bool agent_waiting_done(struct agent *agent, const struct agent_client *client)
{
        if (monotonic_now_ms() >= client->deadline_ms)
                return true;
        for (size_t i = 0; i < client->uuid_count; i++) {
                const struct agent_target *target = agent_find(agent, client->uuids[i]);
                if (target &&
                    (target->state == SUPERVISION_NEW || target->state == SUPERVISION_STARTING ||
                     target->state == SUPERVISION_STOPPING))
                        return false;
        }
        return true;
}

json_t *agent_answer_waiting(struct agent *agent, struct agent_client *client)
{
        long long now = monotonic_now_ms();
        long long began = json_integer_value(json_object_get(client->waiting, "began_ms"));
        const json_t *before = json_object_get(client->waiting, "ready_before");
        json_t *targets = json_array();
        size_t failed = 0;
        for (size_t i = 0; targets && i < client->uuid_count; i++) {
                const struct agent_target *target = agent_find(agent, client->uuids[i]);
                const char *outcome = "failed";
                struct error err = {0};
                if (!target) {
                        (void)error_set(&err, -ENODEV, "NVML no longer lists it");
                } else if (target->state == SUPERVISION_READY) {
                        outcome = json_is_true(json_object_get(before, target->uuid))
                                      ? start_outcome_string(START_ALREADY_RUNNING)
                                  : target->recovered ? start_outcome_string(START_RECOVERED)
                                                      : start_outcome_string(START_STARTED);
                } else if (target->state == SUPERVISION_REFUSED) {
                        err = target->error;
                } else if (target->state == SUPERVISION_BACKOFF) {
                        (void)error_set(&err, -EIO,
                                        "the MPS control daemon %s; it is started "
                                        "again after its backoff",
                                        target->last_exit);
                } else {
                        (void)error_set(&err, -ETIMEDOUT, "it did not answer in time (%s)",
                                        supervision_string(target));
                }
                failed += strcmp(outcome, "failed") == 0;
                json_t *item = json_pack("{s:s, s:s, s:i, s:I, s:o}", "uuid", client->uuids[i],
                                         "outcome", outcome, "pid", target ? (int)target->pid : 0,
                                         "elapsed_ms", (json_int_t)(now - began), "error",
                                         err.message[0] ? agent_error_json(&err) : json_null());
                if (!item || json_array_append_new(targets, item) < 0) {
                        json_decref(targets);
                        targets = NULL;
                }
        }
        json_decref(client->waiting);
        client->waiting = NULL;
        if (!targets)
                return fail(-ENOMEM, AGENT_FAILURE_OTHER, "out of memory");
        return json_pack("{s:i, s:b, s:I, s:s?, s:o}", "version", AGENT_PROTOCOL_VERSION, "ok", 1,
                         "failed", (json_int_t)failed, "node", agent->node_text, "targets",
                         targets);
}

/* `mpsmig set` changed daemons on its direct path: what they read back replaces the defaults of
 * the overview kept, and each is asked again. */
static json_t *defaults_changed_request(struct agent *agent, struct agent_client *client,
                                        json_t *request)
{
        if (!allowed(client))
                return denied("report changed limits");
        const json_t *targets = json_object_get(request, "targets");
        size_t updated = 0;
        for (size_t i = 0; i < json_array_size(targets); i++) {
                const json_t *item = json_array_get(targets, i);
                const char *uuid = json_string_value(json_object_get(item, "uuid"));
                struct agent_target *target = uuid ? agent_find(agent, uuid) : NULL;
                if (!target)
                        continue;
                agent_target_want_overview(target);
                if (!target->have_overview)
                        continue;
                struct mps_pinned_limit pinned = {0};
                const json_t *limit = json_object_get(item, "pinned");
                if (json_is_object(limit)) {
                        pinned.set = true;
                        pinned.bytes =
                            (unsigned long long)json_integer_value(json_object_get(limit, "bytes"));
                        const char *text = json_string_value(json_object_get(limit, "text"));
                        (void)snprintf(pinned.text, sizeof(pinned.text), "%s", text ? text : "");
                }
                target->overview.default_active_thread_percentage =
                    json_number_value(json_object_get(item, "threads"));
                target->overview.default_pinned_limit = pinned;
                target->overview.default_client_priority =
                    (int)json_integer_value(json_object_get(item, "priority"));
                updated++;
        }
        if (updated > 0)
                agent_log(
                    LOG_INFO, "mpsmig set (uid %u, pid %d) changed the limits of %zu daemon%s",
                    (unsigned)client->uid, (int)client->pid, updated, updated == 1 ? "" : "s");
        return json_pack("{s:i, s:b, s:I}", "version", AGENT_PROTOCOL_VERSION, "ok", 1, "updated",
                         (json_int_t)updated);
}

json_t *agent_answer_request(struct agent *agent, struct agent_client *client, json_t *request)
{
        json_int_t version = json_integer_value(json_object_get(request, "version"));
        const char *what = json_string_value(json_object_get(request, "request"));
        if (version != AGENT_PROTOCOL_VERSION)
                return fail(-EPROTO, AGENT_FAILURE_USAGE,
                            "the agent speaks version %d of its protocol, not %lld",
                            AGENT_PROTOCOL_VERSION, (long long)version);
        if (!what)
                return fail(-EINVAL, AGENT_FAILURE_USAGE, "the request names no request");
        if (strcmp(what, "status") == 0)
                return status_answer(agent);
        if (strcmp(what, "place") == 0)
                return place_answer(agent, client, request);
        if (strcmp(what, "start") == 0)
                return start_request(agent, client, request);
        if (strcmp(what, "stop") == 0)
                return stop_request(agent, client, request);
        if (strcmp(what, "defaults_changed") == 0)
                return defaults_changed_request(agent, client, request);
        if (strcmp(what, "ping") == 0)
                return ok_answer();
        return fail(-EINVAL, AGENT_FAILURE_USAGE, "unknown request '%s'", what);
}
