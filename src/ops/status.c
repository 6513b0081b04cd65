/* `status`: what every target's daemon is doing, asked of all daemons at once and without the
 * node lock: its state (a query that does not come back in time means hung), servers and their
 * users, clients, default limits, uptime, and any other daemon that serves the same device. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/parallel.h"
#include "driver/mps_control.h"
#include "ops/ops.h"

const char *daemon_state_string(enum daemon_state state)
{
        switch (state) {
        case DAEMON_RUNNING:
                return "running";
        case DAEMON_NOT_RUNNING:
                return "not running";
        case DAEMON_STALE:
                return "stale";
        case DAEMON_NOT_ANSWERING:
                return "not answering";
        case DAEMON_GPU_LOST:
                return "gpu lost";
        case DAEMON_ERROR:
                break;
        }
        return "error";
}

struct status_job {
        struct ops_context *context;
        struct status_result *results;
        int timeout_ms;
};

/* Copies the other daemons that serve `uuid` from another pipe folder into the result. */
static int collect_others(const struct ops_context *context, const char *uuid,
                          struct status_result *result)
{
        for (size_t i = 0; i < context->daemon_count; i++) {
                const struct mps_daemon *daemon = &context->daemons[i];
                if (!daemon_serves(daemon, uuid) ||
                    daemon_uses_pipe_dir(daemon, result->paths.pipe_dir))
                        continue;
                struct mps_daemon *bigger =
                    realloc(result->others, (result->other_count + 1) * sizeof(*bigger));
                if (!bigger)
                        return -ENOMEM;
                result->others = bigger;
                result->others[result->other_count++] = *daemon;
        }
        return 0;
}

int ops_status_fill_servers(const struct mps_overview *overview, struct status_result *result)
{
        if (overview->server_count == 0)
                return 0;
        result->servers = calloc(overview->server_count, sizeof(*result->servers));
        if (!result->servers)
                return -ENOMEM;
        result->server_count = overview->server_count;
        for (size_t s = 0; s < overview->server_count; s++) {
                struct status_server *server = &result->servers[s];
                server->pid = overview->servers[s];
                server->uid_known = process_uid(server->pid, &server->uid) == 0;
                if (server->uid_known)
                        ops_user_name(server->uid, server->user, sizeof(server->user));
                else
                        (void)snprintf(server->user, sizeof(server->user), "?");
                size_t count = 0;
                for (size_t c = 0; c < overview->ps.count; c++)
                        if (overview->ps.rows[c].server == server->pid)
                                count++;
                if (count == 0)
                        continue;
                server->clients = calloc(count, sizeof(*server->clients));
                if (!server->clients)
                        return -ENOMEM;
                for (size_t c = 0; c < overview->ps.count; c++)
                        if (overview->ps.rows[c].server == server->pid)
                                server->clients[server->client_count++] = overview->ps.rows[c].pid;
                result->client_count += server->client_count;
        }
        return 0;
}

static int status_target(struct status_job *job, const struct target *target,
                         struct status_result *result)
{
        struct ops_context *context = job->context;
        struct error *err = &result->error;
        if (target->kind == TARGET_LOST_GPU) {
                /* Its devices' daemons, if any, are orphans (NVML cannot name them): rows of
                 * their own. */
                result->state = DAEMON_GPU_LOST;
                (void)error_set(err, -ENXIO, "%s", target->gpu->lost_reason);
                return 0;
        }
        result->orphaned = target->kind == TARGET_ORPHAN;
        int r = layout_paths(&context->layout, target->uuid, &result->paths, err);
        if (r < 0)
                return r;
        r = collect_others(context, target->uuid, result);
        if (r < 0)
                return error_set(err, r, "out of memory");

        _cleanup_close_ int pipe_fd = -1;
        r = layout_open_pipe(&context->layout, target->uuid, &pipe_fd, err);
        if (r < 0 && r != -ENOENT)
                return r;
        error_clear(err);
        struct mps_daemon found;
        const struct mps_daemon *ours =
            ops_find_daemon(context, result->paths.pipe_dir, pipe_fd, &found) ? &found : NULL;
        if (!ours) {
                pid_t stale = 0;
                int pid_file = pipe_fd >= 0 ? layout_read_pid(pipe_fd, &stale) : -ENOENT;
                result->state = pid_file == -ENOENT ? DAEMON_NOT_RUNNING : DAEMON_STALE;
                result->pid = stale;
                return 0;
        }

        result->pid = ours->pid;
        (void)process_uptime(ours->pid, &result->uptime_seconds);
        struct mps_endpoint endpoint = {
            .program = context->program,
            .device_uuid = target->uuid,
            .pipe_dir = result->paths.pipe_dir,
            .log_dir = result->paths.log_dir,
            .timeout_ms = job->timeout_ms,
        };
        struct mps_overview overview;
        r = mps_control_overview(&endpoint, &overview, err);
        if (r < 0) {
                result->state = DAEMON_NOT_ANSWERING;
                return 0;
        }
        result->state = DAEMON_RUNNING;
        result->default_thread_percentage = overview.default_active_thread_percentage;
        result->default_pinned_limit = overview.default_pinned_limit;
        result->default_client_priority = overview.default_client_priority;
        r = ops_status_fill_servers(&overview, result);
        mps_overview_done(&overview);
        if (r < 0)
                return error_set(err, r, "out of memory");
        return 0;
}

static void status_one(void *shared, size_t index)
{
        struct status_job *job = shared;
        struct status_result *result = &job->results[index];
        result->target = &job->context->targets[index];
        int r = status_target(job, result->target, result);
        if (r < 0) {
                result->state = DAEMON_ERROR;
                if (!result->error.message[0])
                        (void)error_set(&result->error, r, "%s", strerror(-r));
        }
}

int ops_status(struct ops_context *context, struct status_result *results, struct error *err)
{
        memset(results, 0, context->target_count * sizeof(*results));
        int r = ops_context_scan(context, err);
        if (r < 0)
                return r;
        struct status_job job = {
            .context = context,
            .results = results,
            .timeout_ms = context->options.timeout_ms > 0 ? context->options.timeout_ms
                                                          : OPS_STATUS_TIMEOUT_MS_DEFAULT,
        };
        parallel_for(context->target_count, status_one, &job);
        return 0;
}

void status_results_done(struct status_result *results, size_t count)
{
        for (size_t i = 0; results && i < count; i++) {
                for (size_t s = 0; s < results[i].server_count; s++)
                        free(results[i].servers[s].clients);
                free(results[i].servers);
                free(results[i].others);
                results[i].servers = NULL;
                results[i].others = NULL;
                results[i].server_count = results[i].other_count = 0;
        }
}
