/* `stop`: every target's daemon asked to quit, all at once under the node lock; a daemon that does
 * not go is escalated on (shutdown_server, SIGTERM, SIGKILL), signalled only through a pidfd
 * proven to be that control program. Then the folders mpsmig made are removed, and only those. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/parallel.h"
#include "driver/mps_control.h"
#include "ops/ops.h"

#define QUIT_ANSWER_MS 2000 /* `quit` itself returns in milliseconds; a daemon slower is hung */

const char *stop_outcome_string(enum stop_outcome outcome)
{
        switch (outcome) {
        case STOP_STOPPED:
                return "stopped";
        case STOP_NOT_RUNNING:
                return "not running";
        case STOP_STALE_CLEANED:
                return "stale cleaned";
        case STOP_FAILED:
                break;
        }
        return "failed";
}

const char *stop_step_string(enum stop_step step)
{
        switch (step) {
        case STOP_STEP_QUIT:
                return "quit";
        case STOP_STEP_SHUTDOWN:
                return "shutdown_server";
        case STOP_STEP_SIGTERM:
                return "SIGTERM";
        case STOP_STEP_SIGKILL:
                return "SIGKILL";
        case STOP_STEP_NONE:
                break;
        }
        return "none";
}

struct stop_job {
        struct ops_context *context;
        struct stop_result *results;
        bool force;
        unsigned quit_seconds; /* `quit -t` */
        int quit_wait_ms;      /* how long the daemon gets to exit after quit */
};

/* `quit -t N`, or plain `quit` for a program that does not know -t. 0 when the daemon took it. */
static int send_quit(struct mps_endpoint *endpoint, unsigned seconds, struct error *err)
{
        char command[32];
        (void)snprintf(command, sizeof(command), "quit -t %u\n", seconds);
        for (int attempt = 0; attempt < 2; attempt++) {
                _cleanup_free_ char *output = NULL;
                size_t size;
                int status;
                int r = mps_control_run(endpoint, command, QUIT_ANSWER_MS, &output, &size, &status,
                                        err);
                if (r < 0)
                        return r;
                if (!strstr(output, "Unknown command"))
                        return 0;
                (void)snprintf(command, sizeof(command), "quit\n");
        }
        return error_set(err, -EOPNOTSUPP, "the MPS control program knows no quit command");
}

/* Sends `signal` to the daemon's servers (verified) and then to the daemon. */
static void signal_daemon(pid_t daemon, int daemon_pidfd, int signal)
{
        _cleanup_free_ pid_t *servers = NULL;
        size_t count = 0;
        if (daemon_servers(daemon, &servers, &count) == 0)
                for (size_t i = 0; i < count; i++) {
                        _cleanup_close_ int pidfd = -1;
                        if (daemon_open_server(daemon, servers[i], &pidfd) == 0)
                                (void)daemon_signal(pidfd, signal);
                }
        (void)daemon_signal(daemon_pidfd, signal);
}

/* shutdown_server for every server of the daemon, in one invocation. 0 when any was asked. */
static int shutdown_servers(struct mps_endpoint *endpoint, pid_t daemon)
{
        _cleanup_free_ pid_t *servers = NULL;
        size_t count = 0;
        if (daemon_servers(daemon, &servers, &count) < 0 || count == 0)
                return -ENOENT;
        size_t size = count * 40 + 1;
        _cleanup_free_ char *commands = calloc(1, size);
        if (!commands)
                return -ENOMEM;
        size_t used = 0;
        for (size_t i = 0; i < count; i++)
                used += (size_t)snprintf(commands + used, size - used, "shutdown_server %d\n",
                                         (int)servers[i]);
        _cleanup_free_ char *output = NULL;
        size_t output_size;
        int status;
        struct error ignored = {0};
        return mps_control_run(endpoint, commands, QUIT_ANSWER_MS, &output, &output_size, &status,
                               &ignored);
}

/* Stops one live daemon, escalating as far as needed; result->step says how far. */
static int stop_daemon(struct stop_job *job, struct mps_endpoint *endpoint,
                       const struct mps_daemon *daemon, struct stop_result *result)
{
        struct error *err = &result->error;
        result->pid = daemon->pid;
        _cleanup_close_ int pidfd = -1;
        int r = daemon_open(daemon->pid, daemon->start_ticks, &pidfd, err);
        if (r == -ESRCH)
                return 0; /* it went away by itself since the scan */
        if (r < 0)
                return r;

        struct error quit_error = {0};
        result->step = STOP_STEP_QUIT;
        int quit = send_quit(endpoint, job->quit_seconds, &quit_error);
        if (quit == 0 && daemon_wait_gone(pidfd, job->quit_wait_ms) == 0)
                return 0;

        /* Escalation. A quit that was never taken is not waited for, and a daemon that did not
         * even answer it (hung) will not answer shutdown_server either. With --force, `quit -t 1`
         * has already told the daemon to end its servers: straight to the signals. */
        if (quit != -ETIMEDOUT && !job->force && shutdown_servers(endpoint, daemon->pid) == 0) {
                result->step = STOP_STEP_SHUTDOWN;
                if (daemon_wait_gone(pidfd, OPS_ESCALATION_WAIT_MS) == 0)
                        return 0;
        }
        result->step = STOP_STEP_SIGTERM;
        signal_daemon(daemon->pid, pidfd, SIGTERM);
        if (daemon_wait_gone(pidfd, OPS_ESCALATION_WAIT_MS) == 0)
                return 0;
        result->step = STOP_STEP_SIGKILL;
        signal_daemon(daemon->pid, pidfd, SIGKILL);
        if (daemon_wait_gone(pidfd, OPS_ESCALATION_WAIT_MS) == 0)
                return 0;
        return error_set(err, -ETIMEDOUT,
                         "the MPS control daemon in %s (pid %d) is still there after SIGKILL "
                         "(stuck in the kernel?): check `ps -o stat,wchan -p %d`",
                         endpoint->pipe_dir, (int)daemon->pid, (int)daemon->pid);
}

static int stop_target(struct stop_job *job, const struct target *target,
                       struct stop_result *result)
{
        struct ops_context *context = job->context;
        struct error *err = &result->error;
        struct layout_paths *paths = &result->paths;
        int r = layout_paths(&context->layout, target->uuid, paths, err);
        if (r < 0)
                return r;
        _cleanup_close_ int pipe_fd = -1;
        r = layout_open_pipe(&context->layout, target->uuid, &pipe_fd, err);
        if (r < 0 && r != -ENOENT)
                return r;
        error_clear(err);

        struct mps_daemon found;
        const struct mps_daemon *ours =
            ops_find_daemon(context, paths->pipe_dir, pipe_fd, &found) ? &found : NULL;
        pid_t file_pid = 0;
        int pid_file = pipe_fd >= 0 ? layout_read_pid(pipe_fd, &file_pid) : -ENOENT;
        if (ours) {
                struct mps_endpoint endpoint = {
                    .program = context->program,
                    .device_uuid = target->uuid,
                    .pipe_dir = paths->pipe_dir,
                    .log_dir = paths->log_dir,
                    .timeout_ms = QUIT_ANSWER_MS,
                    /* A stop does not queue behind a burst of runs at a hung daemon. */
                    .turn_wait_ms = QUIT_ANSWER_MS,
                };
                r = stop_daemon(job, &endpoint, ours, result);
                if (r < 0)
                        return r;
                result->outcome = STOP_STOPPED;
        } else if (pid_file != -ENOENT) {
                result->outcome = STOP_STALE_CLEANED;
                result->pid = file_pid;
        } else {
                result->outcome = STOP_NOT_RUNNING;
        }
        /* A daemon that was signalled, or had died, leaves its pid file and sockets behind. */
        if (pipe_fd >= 0 &&
            (result->outcome == STOP_STALE_CLEANED || result->step == STOP_STEP_SIGTERM ||
             result->step == STOP_STEP_SIGKILL)) {
                r = layout_clean_daemon_files(pipe_fd, err);
                if (r < 0)
                        return r;
        }
        if (pipe_fd >= 0)
                (void)close(TAKE_FD(pipe_fd));

        struct layout_removal removal;
        r = layout_remove(&context->layout, target->uuid, &removal, err);
        if (r < 0)
                return error_prefix(err, "the daemon is %s, but",
                                    result->outcome == STOP_STOPPED ? "stopped" : "not running");
        result->folders_removed = removal.removed;
        result->folders_left = removal.left_unmarked;
        (void)snprintf(result->folders_note, sizeof(result->folders_note), "%s",
                       removal.kept_reason);
        return 0;
}

static void stop_one(void *shared, size_t index)
{
        struct stop_job *job = shared;
        struct stop_result *result = &job->results[index];
        long long began = ops_now_ms();
        result->target = &job->context->targets[index];
        int r = stop_target(job, result->target, result);
        if (r < 0) {
                result->outcome = STOP_FAILED;
                if (!result->error.message[0])
                        (void)error_set(&result->error, r, "%s", strerror(-r));
        }
        result->elapsed_ms = ops_now_ms() - began;
}

static struct stop_job make_job(struct ops_context *context, struct stop_result *results,
                                int timeout_ms, bool force)
{
        struct stop_job job = {.context = context, .results = results, .force = force};
        if (force) {
                job.quit_seconds = OPS_FORCE_QUIT_SECONDS;
                job.quit_wait_ms = OPS_FORCE_WAIT_MS;
        } else {
                job.quit_seconds = (unsigned)((timeout_ms + 999) / 1000);
                job.quit_wait_ms = timeout_ms + OPS_ESCALATION_WAIT_MS;
        }
        return job;
}

int ops_stop_target(struct ops_context *context, const struct target *target,
                    struct stop_result *result)
{
        struct stop_job job = make_job(context, result, OPS_STOP_TIMEOUT_MS_DEFAULT, false);
        memset(result, 0, sizeof(*result));
        result->target = target;
        int r = stop_target(&job, target, result);
        if (r < 0) {
                result->outcome = STOP_FAILED;
                if (!result->error.message[0])
                        (void)error_set(&result->error, r, "%s", strerror(-r));
        }
        return r;
}

void ops_stop_keep_used_whole_gpus(struct ops_context *context)
{
        size_t kept = 0;
        for (size_t i = 0; i < context->target_count; i++) {
                const struct target *target = &context->targets[i];
                if (target->kind == TARGET_WHOLE_GPU) {
                        _cleanup_close_ int pipe_fd = -1;
                        struct error ignored = {0};
                        if (layout_open_pipe(&context->layout, target->uuid, &pipe_fd, &ignored) ==
                            -ENOENT)
                                continue;
                }
                context->targets[kept++] = context->targets[i];
        }
        context->target_count = kept;
}

int ops_stop(struct ops_context *context, struct stop_result *results, struct error *err)
{
        memset(results, 0, context->target_count * sizeof(*results));
        _cleanup_close_ int runtime_fd = -1, lock_fd = -1;
        int r = ops_context_lock(context, &runtime_fd, &lock_fd, err);
        if (r < 0)
                return r;

        int timeout_ms = context->options.timeout_ms > 0 ? context->options.timeout_ms
                                                         : OPS_STOP_TIMEOUT_MS_DEFAULT;
        struct stop_job job = make_job(context, results, timeout_ms, context->options.force);
        parallel_for(context->target_count, stop_one, &job);

        int failed = 0;
        for (size_t i = 0; i < context->target_count; i++)
                if (results[i].outcome == STOP_FAILED)
                        failed++;
        return failed;
}
