/* `start`: one MPS control daemon per target, all targets at once, under the node lock. Each
 * target's folders are made safely, a daemon already there is kept, a dead one's leftovers are
 * cleaned, another daemon serving the same device is refused, and a new daemon counts as started
 * only once it answers a command. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "driver/mps_control.h"
#include "ops/ops.h"

#define ANSWER_RETRY_MS 5 /* between queries while a new daemon is not listening yet */

const char *start_outcome_string(enum start_outcome outcome)
{
        switch (outcome) {
        case START_STARTED:
                return "started";
        case START_ALREADY_RUNNING:
                return "already running";
        case START_RECOVERED:
                return "recovered from stale";
        case START_FAILED:
                break;
        }
        return "failed";
}

struct start_job {
        struct ops_context *context;
        struct start_result *results;
        int timeout_ms;
};

static int remaining_ms(long long deadline)
{
        long long left = deadline - ops_now_ms();
        return left > 0 ? (int)left : 0;
}

/* Asks the daemon behind `endpoint` a harmless question until it answers or the deadline passes.
 * A daemon that is not listening yet ("Cannot find ...") is asked again after a short pause. */
static int wait_answer(struct mps_endpoint *endpoint, long long deadline, struct error *err)
{
        for (;;) {
                int left = remaining_ms(deadline);
                if (left <= 0)
                        return error_set(err, -ETIMEDOUT,
                                         "the MPS control daemon on %s did not answer in time",
                                         endpoint->pipe_dir);
                _cleanup_free_ char *output = NULL;
                size_t size;
                int status;
                int r = mps_control_run(endpoint, "get_server_list\n", left, &output, &size,
                                        &status, err);
                if (r != MPS_ANSWER_NO_DAEMON)
                        return r;
                struct timespec pause = {0, ANSWER_RETRY_MS * 1000000L};
                (void)nanosleep(&pause, NULL);
        }
}

/* Another daemon that serves this device from another pipe folder (the seed scripts' in /tmp,
 * or anyone's), or NULL. */
static const struct mps_daemon *other_daemon(const struct ops_context *context, const char *uuid,
                                             const char *pipe_dir)
{
        for (size_t i = 0; i < context->daemon_count; i++) {
                const struct mps_daemon *daemon = &context->daemons[i];
                if (daemon_serves(daemon, uuid) && !daemon_uses_pipe_dir(daemon, pipe_dir))
                        return daemon;
        }
        return NULL;
}

static int refuse_other(const struct ops_context *context, const char *uuid,
                        const struct mps_daemon *other, struct error *err)
{
        struct layout seed = {.kind = LAYOUT_SEED};
        struct layout_paths seed_paths;
        bool is_seed = context->layout.kind != LAYOUT_SEED &&
                       layout_paths(&seed, uuid, &seed_paths, NULL) == 0 &&
                       daemon_uses_pipe_dir(other, seed_paths.pipe_dir);
        char advice[PATH_MAX + 256];
        if (is_seed)
                (void)snprintf(advice, sizeof(advice),
                               "it is the seed scripts' daemon: stop it with `mpsmig stop "
                               "--layout seed`, or keep it and manage it with `--layout seed`");
        else
                (void)snprintf(advice, sizeof(advice),
                               "stop it first (echo quit | CUDA_MPS_PIPE_DIRECTORY=%s "
                               "nvidia-cuda-mps-control)",
                               other->pipe_dir);
        return error_set(err, -EBUSY,
                         "another MPS control daemon (pid %d, pipe folder %s) already serves %s: "
                         "a second daemon on one device would time-slice with it instead of "
                         "sharing the device; %s",
                         (int)other->pid, other->pipe_dir, uuid, advice);
}

/* The daemon found in our pipe folder: kept if it serves the target and answers. */
static int keep_running(struct mps_endpoint *endpoint, const struct mps_daemon *daemon,
                        const char *uuid, long long deadline, struct start_result *result)
{
        struct error *err = &result->error;
        if (!daemon_serves(daemon, uuid))
                return error_set(err, -EBUSY,
                                 "the MPS control daemon in %s (pid %d) serves "
                                 "CUDA_VISIBLE_DEVICES=%s, not %s: stop it with `mpsmig stop` "
                                 "and start again",
                                 endpoint->pipe_dir, (int)daemon->pid,
                                 daemon->has_visible_devices ? daemon->visible_devices : "(unset)",
                                 uuid);
        int r = wait_answer(endpoint, deadline, err);
        if (r < 0) {
                char why[sizeof(err->message)];
                memcpy(why, err->message, sizeof(why));
                return error_set(err, r,
                                 "the MPS control daemon in %s (pid %d) runs but does not answer "
                                 "(%s): see `mpsmig status`; `mpsmig stop --force` ends it",
                                 endpoint->pipe_dir, (int)daemon->pid, why);
        }
        result->outcome = START_ALREADY_RUNNING;
        result->pid = daemon->pid;
        return 0;
}

static int start_target(struct ops_context *context, const struct target *target,
                        long long deadline, struct start_result *result)
{
        struct error *err = &result->error;
        struct layout_paths *paths = &result->paths;
        int r = layout_paths(&context->layout, target->uuid, paths, err);
        if (r < 0)
                return r;
        const struct mps_daemon *other = other_daemon(context, target->uuid, paths->pipe_dir);
        if (other)
                return refuse_other(context, target->uuid, other, err);

        _cleanup_close_ int pipe_fd = -1;
        r = layout_make(&context->layout, target->uuid, &pipe_fd, NULL, err);
        if (r < 0)
                return r;
        struct mps_endpoint endpoint = {
            .program = context->program,
            .device_uuid = target->uuid,
            .pipe_dir = paths->pipe_dir,
            .log_dir = paths->log_dir,
            .timeout_ms = remaining_ms(deadline),
        };
        const struct mps_daemon *ours = ops_daemon_on(context, paths->pipe_dir);
        if (ours)
                return keep_running(&endpoint, ours, target->uuid, deadline, result);

        /* A pid file without a live daemon in this folder: the daemon died (kill -9, a crash). */
        pid_t stale = 0;
        r = layout_read_pid(pipe_fd, &stale);
        bool recovered = r == 0 || r == -EBADMSG;
        if (recovered) {
                r = layout_clean_daemon_files(pipe_fd, err);
                if (r < 0)
                        return error_prefix(err, "cannot clean the dead daemon's files in %s",
                                            paths->pipe_dir);
                result->stale_pid = stale;
        }

        r = mps_control_start(&endpoint, err);
        if (r == -EALREADY) {
                /* Started by someone outside the node lock since the scan: keep theirs. */
                error_clear(err);
                r = wait_answer(&endpoint, deadline, err);
                if (r < 0)
                        return r;
                result->outcome = START_ALREADY_RUNNING;
                (void)layout_read_pid(pipe_fd, &result->pid);
                return 0;
        }
        if (r < 0)
                return r;
        r = wait_answer(&endpoint, deadline, err);
        if (r < 0) {
                char why[sizeof(err->message)];
                memcpy(why, err->message, sizeof(why));
                return error_set(err, r,
                                 "the MPS control daemon started on %s did not answer in time "
                                 "(%s): `mpsmig status` shows it, `mpsmig stop --force` ends it",
                                 paths->pipe_dir, why);
        }
        (void)layout_read_pid(pipe_fd, &result->pid);
        result->outcome = recovered ? START_RECOVERED : START_STARTED;
        return 0;
}

static void start_one(void *shared, size_t index)
{
        struct start_job *job = shared;
        struct start_result *result = &job->results[index];
        long long began = ops_now_ms();
        result->target = &job->context->targets[index];
        int r = start_target(job->context, result->target, began + job->timeout_ms, result);
        if (r < 0) {
                result->outcome = START_FAILED;
                if (!result->error.message[0])
                        (void)error_set(&result->error, r, "%s", strerror(-r));
        }
        result->elapsed_ms = ops_now_ms() - began;
}

int ops_start(struct ops_context *context, struct start_result *results, struct error *err)
{
        _cleanup_close_ int runtime_fd = -1, lock_fd = -1;
        int r = ops_context_lock(context, &runtime_fd, &lock_fd, err);
        if (r < 0)
                return r;

        memset(results, 0, context->target_count * sizeof(*results));
        struct start_job job = {
            .context = context,
            .results = results,
            .timeout_ms = context->options.timeout_ms > 0 ? context->options.timeout_ms
                                                          : OPS_START_TIMEOUT_MS_DEFAULT,
        };
        ops_parallel(context->target_count, start_one, &job);

        int failed = 0;
        for (size_t i = 0; i < context->target_count; i++)
                if (results[i].outcome == START_FAILED)
                        failed++;
        return failed;
}
