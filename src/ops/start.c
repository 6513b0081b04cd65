/* `start`: one MPS control daemon per target, all targets at once, under the node lock, begun
 * from the node cache while NVML loads and checked against NVML before anything is reported. Each
 * target's folders are made safely, a daemon already there is kept, a dead one's leftovers are
 * cleaned, another daemon serving the same device is refused, and a new daemon counts as started
 * only once it answers a command. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/parallel.h"
#include "base/fd_io.h"
#include "base/safe_fs.h"
#include "driver/mps_control.h"
#include "driver/nvml.h"
#include "node/daemon_folder.h"
#include "node/lock.h"
#include "node/node_cache.h"
#include "node/target_name.h"
#include "ops/env.h"
#include "ops/limits.h"
#include "ops/node_reader.h"
#include "ops/ops.h"
#include "ops/placement.h"

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
        const struct target *targets; /* indexed like results, or through `map` */
        struct start_result *results;
        const size_t *map; /* job index -> index in targets and results; NULL: the same */
        int timeout_ms;
};

static int remaining_ms(long long deadline)
{
        long long left = deadline - ops_now_ms();
        return left > 0 ? (int)left : 0;
}

/* Whether `pid` is a live process (a zombie is not). */
static bool process_alive(pid_t pid)
{
        unsigned long long start_time;
        return process_start_time(pid, &start_time) == 0;
}

/* Waits until the daemon of the pipe folder is ready: it answers get_server_list with status 0
 * and a list of pids, and its pid file names a live process. Anything less (a program that exits
 * at once, a daemon still binding its sockets, one that says "Cannot find ...") is asked again
 * after a short pause until the deadline. The daemon's pid goes to *ret_pid. */
static int wait_answer(struct mps_endpoint *endpoint, int pipe_fd, long long deadline,
                       pid_t *ret_pid, struct error *err)
{
        char last[160] = "no answer";
        for (;;) {
                int left = remaining_ms(deadline);
                if (left <= 0)
                        return error_set(err, -ETIMEDOUT,
                                         "the MPS control daemon on %s did not answer in time "
                                         "(%s)",
                                         endpoint->pipe_dir, last);
                _cleanup_free_ char *output = NULL;
                _cleanup_free_ pid_t *servers = NULL;
                size_t size, server_count;
                int status;
                pid_t pid;
                int r = mps_control_run(endpoint, "get_server_list\n", left, &output, &size,
                                        &status, err);
                /* Cut off by the deadline: what the daemon said before is the better reason. */
                if ((r == -ETIMEDOUT || r == -EBUSY) && strcmp(last, "no answer") != 0)
                        continue;
                if (r == MPS_ANSWER_NO_DAEMON)
                        (void)snprintf(last, sizeof(last), "%s", MPS_TEXT_NO_DAEMON);
                else if (r < 0)
                        return r;
                else if (status != 0)
                        (void)snprintf(last, sizeof(last),
                                       "the control program exited with status %d", status);
                else if (mps_answer_pid_list("get_server_list", output, size, &servers,
                                             &server_count, err) < 0)
                        (void)snprintf(last, sizeof(last), "%.*s", (int)sizeof(last) - 1,
                                       err->message);
                else if (layout_read_pid(pipe_fd, &pid) < 0 || !process_alive(pid))
                        (void)snprintf(last, sizeof(last),
                                       "it answered, but no live daemon's pid is in %s/%s",
                                       endpoint->pipe_dir, LAYOUT_PID_FILE);
                else {
                        error_clear(err);
                        *ret_pid = pid;
                        return 0;
                }
                error_clear(err);
                struct timespec pause = {0, ANSWER_RETRY_MS * 1000000L};
                (void)nanosleep(&pause, NULL);
        }
}

/* A start that is reported failed leaves no daemon behind: the daemon `-d` left in this pipe
 * folder (found by its environment, so also before it has written its pid file) would
 * otherwise come up after the report, unmanaged. It never answered, so it gets SIGKILL. */
static void abandon_daemon(const char *pipe_dir, int pipe_fd)
{
        _cleanup_free_ struct mps_daemon *daemons = NULL;
        size_t count = 0;
        struct error ignored = {0};
        if (daemon_scan(&daemons, &count, &ignored) < 0)
                return;
        for (size_t i = 0; i < count; i++) {
                _cleanup_close_ int pidfd = -1;
                if (!daemon_uses_pipe_dir(&daemons[i], pipe_dir) ||
                    daemon_open(daemons[i].pid, daemons[i].start_ticks, &pidfd, &ignored) < 0)
                        continue;
                (void)daemon_signal(pidfd, SIGKILL);
                (void)daemon_wait_gone(pidfd, OPS_ESCALATION_WAIT_MS);
        }
        (void)layout_clean_daemon_files(pipe_fd, &ignored);
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
        char advice[PATH_MAX * 4 + 256], owner[128] = "", pid[32] = "";
        _cleanup_free_ char *quoted = NULL;
        if (shell_quote(other->pipe_dir, &quoted) < 0)
                return error_set(err, -ENOMEM, "out of memory");
        if (geteuid() != 0 && other->uid != geteuid())
                safe_fs_describe_owner(other->uid, owner, sizeof(owner));
        if (owner[0])
                (void)snprintf(advice, sizeof(advice),
                               "it belongs to %s, so it is not yours to stop: its clients "
                               "reach it with CUDA_MPS_PIPE_DIRECTORY=%s; ask its owner if this "
                               "instance should be yours",
                               owner, quoted);
        else if (is_seed)
                (void)snprintf(advice, sizeof(advice), "it is the seed scripts' daemon");
        else
                (void)snprintf(advice, sizeof(advice),
                               "%sstop it first (echo quit | CUDA_MPS_PIPE_DIRECTORY=%s "
                               "nvidia-cuda-mps-control)",
                               other->has_visible_devices
                                   ? ""
                                   : "it has no CUDA_VISIBLE_DEVICES, so it serves every device "
                                     "it can see; ",
                               quoted);
        if (other->pid > 0)
                (void)snprintf(pid, sizeof(pid), "pid %d, ", (int)other->pid);
        (void)error_set(err, -EBUSY,
                        "another MPS control daemon (%spipe folder %s) already serves %s: "
                        "a second daemon on one device would time-slice with it instead of "
                        "sharing the device; %s",
                        pid, other->pipe_dir, uuid, advice);
        return error_hint(err, is_seed && !owner[0] ? ERROR_HINT_STOP_SEED : ERROR_HINT_NONE);
}

/* A pid file in another folder that names a daemon the scan places elsewhere (its environment
 * readable, its pipe folder another): the daemon of that folder died and its pid was reused by
 * another daemon, ours perhaps. */
static bool pid_file_outdated(const struct ops_context *context,
                              const struct daemon_folder_hit *hit)
{
        for (size_t i = 0; hit->pid > 0 && i < context->daemon_count; i++) {
                const struct mps_daemon *daemon = &context->daemons[i];
                if (daemon->pid == hit->pid)
                        return daemon->environ_known &&
                               !daemon_uses_pipe_dir(daemon, hit->pipe_dir);
        }
        return false;
}

/* `-d` says a daemon runs, yet none lives in the folder: its control_lock is held by a process
 * that is no daemon. Said at once, with the holder when the kernel's lock table names it, rather
 * than waited out as a daemon that does not answer. */
static int already_but_none(int pipe_fd, const char *pipe_dir, struct error *err)
{
        char holder[192] = "";
        struct stat st;
        pid_t pids[1];
        size_t count = 0;
        if (fstatat(pipe_fd, "control_lock", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            lock_holders(&st, pids, 1, &count) == 0 && count > 0 && pids[0] > 0) {
                uid_t uid;
                char owner[128] = "";
                if (lock_holder_uid(pids[0], &uid) == 0)
                        safe_fs_describe_owner(uid, owner, sizeof(owner));
                (void)snprintf(holder, sizeof(holder), " (process %d%s%s holds it)", (int)pids[0],
                               owner[0] ? " of " : "", owner);
        }
        return error_set(err, -EBUSY,
                         "the control program says \"An instance of this daemon is already "
                         "running\" on %s, but no MPS control daemon runs there: something else "
                         "holds its control_lock%s; end that process, or remove %s/control_lock",
                         pipe_dir, holder, pipe_dir);
}

/* The daemon found in our pipe folder: kept if it serves the target and answers. */
static int keep_running(struct mps_endpoint *endpoint, int pipe_fd, const struct mps_daemon *daemon,
                        const char *uuid, long long deadline, struct start_result *result)
{
        struct error *err = &result->error;
        if (!daemon->has_visible_devices || !daemon_serves(daemon, uuid)) {
                (void)error_set(err, -EBUSY,
                                "the MPS control daemon in %s (pid %d) serves "
                                "CUDA_VISIBLE_DEVICES=%s, not %s",
                                endpoint->pipe_dir, (int)daemon->pid,
                                daemon->has_visible_devices ? daemon->visible_devices : "(unset)",
                                uuid);
                return error_hint(err, ERROR_HINT_STOP_AND_START);
        }
        pid_t pid;
        int r = wait_answer(endpoint, pipe_fd, deadline, &pid, err);
        if (r < 0) {
                char why[sizeof(err->message)];
                memcpy(why, err->message, sizeof(why));
                (void)error_set(err, r,
                                "the MPS control daemon in %s (pid %d) runs but does not answer "
                                "(%s)",
                                endpoint->pipe_dir, (int)daemon->pid, why);
                return error_hint(err, ERROR_HINT_STOP_FORCE);
        }
        result->outcome = START_ALREADY_RUNNING;
        result->pid = daemon->pid;
        return 0;
}

int ops_start_prepare(struct ops_context *context, const struct target *target, int *ret_pipe_fd,
                      const struct mps_daemon **ret_ours, struct start_result *result)
{
        struct error *err = &result->error;
        struct layout_paths *paths = &result->paths;
        int r = layout_paths(&context->layout, target->uuid, paths, err);
        if (r < 0)
                return r;
        const struct mps_daemon *other = other_daemon(context, target->uuid, paths->pipe_dir);
        if (other)
                return refuse_other(context, target->uuid, other, err);
        /* Another user's daemon's environment cannot be read: its folder, in a known layout,
         * still shows it. */
        struct daemon_folder_hit hit;
        if (daemon_folder_find_other(target->uuid, context->layout.runtime_dir, paths->pipe_dir,
                                     &hit) == 1 &&
            !pid_file_outdated(context, &hit)) {
                struct mps_daemon found = {.pid = hit.pid, .uid = hit.owner};
                (void)snprintf(found.pipe_dir, sizeof(found.pipe_dir), "%s", hit.pipe_dir);
                return refuse_other(context, target->uuid, &found, err);
        }

        _cleanup_close_ int pipe_fd = -1;
        r = layout_make(&context->layout, target->uuid, &pipe_fd, NULL, err);
        if (r < 0)
                return r;
        const struct mps_daemon *ours = ops_daemon_on(context, paths->pipe_dir);
        if (ours) {
                *ret_ours = ours;
                *ret_pipe_fd = TAKE_FD(pipe_fd);
                return 0;
        }

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
                result->outcome = START_RECOVERED;
        } else if (daemon_folder_live(paths->pipe_dir, NULL) == 0) {
                /* What a quit daemon leaves (control_lock, the sockets) is removed by name: a
                 * control_lock that another user opened while it was there (it is 0666) and now
                 * holds would otherwise make `-d` fail; the new daemon makes fresh files. */
                r = layout_clean_daemon_files(pipe_fd, err);
                if (r < 0)
                        return error_prefix(err, "cannot clean the old daemon's files in %s",
                                            paths->pipe_dir);
        }
        *ret_ours = NULL;
        *ret_pipe_fd = TAKE_FD(pipe_fd);
        return 0;
}

static int start_target(struct ops_context *context, const struct target *target,
                        long long deadline, struct start_result *result)
{
        struct error *err = &result->error;
        struct layout_paths *paths = &result->paths;
        _cleanup_close_ int pipe_fd = -1;
        const struct mps_daemon *ours = NULL;
        int r = ops_start_prepare(context, target, &pipe_fd, &ours, result);
        if (r < 0)
                return r;
        struct mps_endpoint endpoint = {
            .program = context->program,
            .device_uuid = target->uuid,
            .pipe_dir = paths->pipe_dir,
            .log_dir = paths->log_dir,
            .timeout_ms = remaining_ms(deadline),
            .daemon_credentials = context->daemon_user ? &context->daemon_credentials : NULL,
            .multiuser = context->options.config && context->options.config->multiuser,
        };
        if (ours)
                return keep_running(&endpoint, pipe_fd, ours, target->uuid, deadline, result);
        bool recovered = result->outcome == START_RECOVERED;

        r = mps_control_start(&endpoint, err);
        if (r == -EALREADY && daemon_folder_live(paths->pipe_dir, NULL) != 1)
                return already_but_none(pipe_fd, paths->pipe_dir, err);
        if (r == -EALREADY) {
                /* Started by someone outside the node lock since the scan: keep theirs. */
                error_clear(err);
                r = wait_answer(&endpoint, pipe_fd, deadline, &result->pid, err);
                if (r < 0)
                        return r;
                result->outcome = START_ALREADY_RUNNING;
                return 0;
        }
        if (r == -ETIMEDOUT)
                abandon_daemon(paths->pipe_dir, pipe_fd);
        if (r < 0)
                return r;
        r = wait_answer(&endpoint, pipe_fd, deadline, &result->pid, err);
        if (r < 0) {
                char why[sizeof(err->message)];
                memcpy(why, err->message, sizeof(why));
                abandon_daemon(paths->pipe_dir, pipe_fd);
                return error_set(err, r,
                                 "the MPS control daemon started on %s was not ready in time and "
                                 "was stopped again: %s",
                                 paths->pipe_dir, why);
        }
        result->outcome = recovered ? START_RECOVERED : START_STARTED;
        return 0;
}

/* One target's start into its result, timed. */
static int start_timed(struct ops_context *context, const struct target *target, int timeout_ms,
                       struct start_result *result)
{
        long long began = ops_now_ms();
        result->target = target;
        int r = start_target(context, target, began + timeout_ms, result);
        if (r < 0) {
                result->outcome = START_FAILED;
                if (!result->error.message[0])
                        (void)error_set(&result->error, r, "%s", strerror(-r));
        }
        result->elapsed_ms = ops_now_ms() - began;
        return r;
}

static void start_one(void *shared, size_t index)
{
        struct start_job *job = shared;
        if (job->map)
                index = job->map[index];
        (void)start_timed(job->context, &job->targets[index], job->timeout_ms,
                          &job->results[index]);
}

int ops_start_target(struct ops_context *context, const struct target *target,
                     struct start_result *result)
{
        memset(result, 0, sizeof(*result));
        return start_timed(context, target,
                           context->options.timeout_ms > 0 ? context->options.timeout_ms
                                                           : OPS_START_TIMEOUT_MS_DEFAULT,
                           result);
}

static void start_all(struct ops_context *context, const struct target *targets,
                      struct start_result *results, const size_t *map, size_t count)
{
        struct start_job job = {
            .context = context,
            .targets = targets,
            .results = results,
            .map = map,
            .timeout_ms = context->options.timeout_ms > 0 ? context->options.timeout_ms
                                                          : OPS_START_TIMEOUT_MS_DEFAULT,
        };
        parallel_for(count, start_one, &job);
}

struct limits_job {
        struct ops_context *context;
        struct start_result *results;
        int timeout_ms;
};

/* The configured limits and server of one running daemon. */
static void limits_one(void *shared, size_t index)
{
        struct limits_job *job = shared;
        struct start_result *result = &job->results[index];
        struct start_limits *limits = &result->limits;
        limits->asked = job->context->limits[index];
        if (result->outcome == START_FAILED || !target_limits_any(&limits->asked))
                return;
        long long began = ops_now_ms();
        struct mps_endpoint endpoint = {
            .program = job->context->program,
            .device_uuid = result->target->uuid,
            .pipe_dir = result->paths.pipe_dir,
            .log_dir = result->paths.log_dir,
            .timeout_ms = job->timeout_ms,
        };
        struct mps_defaults want = limits_wanted(&limits->asked);
        int r = limits_apply(&endpoint, &want, &limits->read, &limits->error);
        limits->read_back = r == 0 || r == -EIO;
        if (r < 0 || !limits->asked.server)
                return;
        r = limits_server_ahead(&endpoint, limits->asked.server_uid, began + job->timeout_ms,
                                &limits->server, &limits->error);
        if (r == 0) {
                limits->server_ms = ops_now_ms() - began;
                ops_process_user(limits->server, limits->server_user, sizeof(limits->server_user));
        }
}

static void apply_limits(struct ops_context *context, struct start_report *report)
{
        struct limits_job job = {
            .context = context,
            .results = report->results,
            .timeout_ms = context->options.timeout_ms > 0 ? context->options.timeout_ms
                                                          : OPS_START_TIMEOUT_MS_DEFAULT,
        };
        parallel_for(context->target_count, limits_one, &job);
        for (size_t i = 0; i < context->target_count; i++)
                if (report->results[i].limits.error.message[0])
                        report->limits_failed++;
}

/* Waits for NVML and makes its node the context's, TARGET names resolved in it. The errors come
 * in ops_context_open's order: NVML, then the names. */
static int discovery_finish(struct ops_context *context, struct node_reader *discovery,
                            enum ops_failure *ret_failure, struct error *err)
{
        if (!discovery->finished)
                node_reader_wait(discovery);
        if (discovery->result < 0) {
                *ret_failure = discovery->failure;
                *err = discovery->error;
                return discovery->result;
        }
        if (!discovery->node)
                return 0; /* already handed over */
        int r = ops_context_resolve(context, TAKE_PTR(discovery->node), err);
        if (r < 0)
                *ret_failure = OPS_FAILURE_USAGE;
        return r;
}

/* What the node cache says the options' names mean, before NVML can say it. Any doubt (no cache,
 * a cache not trusted or not readable, a name it does not resolve) means nothing is started
 * ahead. */
struct ahead {
        struct node *node;
        struct target *targets;
        size_t count;
        struct start_result *results;
        bool *confirmed; /* NVML lists the target: its result moved to the report */
};

static void ahead_done(struct ahead *ahead)
{
        free(ahead->confirmed);
        free(ahead->results);
        free(ahead->targets);
        node_free(ahead->node);
        memset(ahead, 0, sizeof(*ahead));
}

static void ahead_start(struct ops_context *context, int runtime_fd, struct ahead *ahead)
{
        struct error ignored = {0};
        if (node_cache_read(runtime_fd, &ahead->node) < 0)
                return;
        /* A configuration that does not fit the cached node is refused once NVML confirms the
         * node: nothing starts ahead of that. */
        if (context->options.config &&
            config_check_node(context->options.config, ahead->node, NULL, &ignored) < 0) {
                ahead_done(ahead);
                return;
        }
        if (target_resolve(ahead->node, context->options.names, context->options.name_count,
                           context->options.whole_gpus, false, &ahead->targets, &ahead->count,
                           &ignored) < 0 ||
            (context->options.config && context->options.name_count == 0 &&
             config_select(context->options.config, ahead->node, false, ahead->targets,
                           &ahead->count, &ignored) < 0) ||
            ahead->count == 0) {
                ahead_done(ahead);
                return;
        }
        ahead->results = calloc(ahead->count, sizeof(*ahead->results));
        ahead->confirmed = calloc(ahead->count, sizeof(*ahead->confirmed));
        if (!ahead->results || !ahead->confirmed) {
                ahead_done(ahead);
                return;
        }
        start_all(context, ahead->targets, ahead->results, NULL, ahead->count);
}

/* Stops the daemons started ahead that NVML did not confirm (all of them when NVML failed), and
 * removes the folders that a failed start ahead made for such a device (the driver refuses a UUID
 * it does not know, simgpu always and driver 580 sometimes: docs/driver-facts.md). A daemon that
 * was running before start came is not start's to stop. */
static void withdraw(struct ops_context *context, struct ahead *ahead, struct start_report *report)
{
        size_t count = 0;
        for (size_t i = 0; i < ahead->count; i++) {
                if (ahead->confirmed[i])
                        continue;
                if (ahead->results[i].outcome == START_FAILED) {
                        struct layout_removal removal;
                        struct error ignored = {0};
                        (void)layout_remove(&context->layout, ahead->targets[i].uuid, &removal,
                                            &ignored);
                }
                count += ahead->results[i].outcome == START_STARTED ||
                         ahead->results[i].outcome == START_RECOVERED;
        }
        if (count == 0)
                return;
        report->withdrawals = calloc(count, sizeof(*report->withdrawals));
        if (!report->withdrawals) {
                report->withdrawals_failed = count;
                return;
        }
        /* The scan under the lock predates these daemons: without a new one, stop would take
         * them for absent and remove their folders under them. */
        struct error scan_error = {0};
        int scanned = ops_context_scan(context, &scan_error);
        for (size_t i = 0; i < ahead->count; i++) {
                const struct start_result *started = &ahead->results[i];
                if (ahead->confirmed[i] ||
                    (started->outcome != START_STARTED && started->outcome != START_RECOVERED))
                        continue;
                struct start_withdrawal *withdrawal =
                    &report->withdrawals[report->withdrawal_count++];
                (void)snprintf(withdrawal->uuid, sizeof(withdrawal->uuid), "%s",
                               ahead->targets[i].uuid);
                withdrawal->started = started->outcome;
                if (scanned < 0) {
                        withdrawal->stop.outcome = STOP_FAILED;
                        withdrawal->stop.pid = started->pid;
                        withdrawal->stop.error = scan_error;
                } else {
                        (void)ops_stop_target(context, &ahead->targets[i], &withdrawal->stop);
                }
                withdrawal->stop.target = NULL;
                if (withdrawal->stop.outcome == STOP_FAILED)
                        report->withdrawals_failed++;
        }
}

/* Moves each result worked out ahead to the NVML target with its UUID; *ret_pending lists the
 * targets still to start. */
static int take_confirmed(const struct ops_context *context, struct ahead *ahead,
                          struct start_report *report, size_t **ret_pending,
                          size_t *ret_pending_count)
{
        size_t *pending = calloc(context->target_count + 1, sizeof(*pending));
        if (!pending)
                return -ENOMEM;
        size_t pending_count = 0;
        for (size_t i = 0; i < context->target_count; i++) {
                const struct target *target = &context->targets[i];
                size_t j = 0;
                while (j < ahead->count &&
                       (ahead->confirmed[j] || strcmp(ahead->targets[j].uuid, target->uuid) != 0))
                        j++;
                if (j == ahead->count) {
                        pending[pending_count++] = i;
                        continue;
                }
                ahead->confirmed[j] = true;
                report->results[i] = ahead->results[j];
                report->results[i].target = target;
                report->from_cache++;
        }
        *ret_pending = pending;
        *ret_pending_count = pending_count;
        return 0;
}

/* Daemons of other users whose environment cannot be read, and whose pid file is in no known
 * folder of these targets: which device they serve cannot be told, so a second daemon on it
 * could not be refused. Said as a warning; start goes on. */
static void unknown_daemons(const struct ops_context *context, struct error *warning)
{
        _cleanup_free_ const char **uuids = calloc(context->target_count + 1, sizeof(*uuids));
        if (!uuids)
                return;
        for (size_t i = 0; i < context->target_count; i++)
                uuids[i] = context->targets[i].uuid;
        size_t len = 0, count = 0;
        for (size_t i = 0; i < context->daemon_count; i++) {
                const struct mps_daemon *daemon = &context->daemons[i];
                if (daemon->environ_known ||
                    daemon_folder_accounts_for(daemon, context->layout.runtime_dir, uuids,
                                               context->target_count))
                        continue;
                char owner[128];
                safe_fs_describe_owner(daemon->uid, owner, sizeof(owner));
                int n = snprintf(warning->message + len, sizeof(warning->message) - len,
                                 "%spid %d of %s", count ? ", " : "", (int)daemon->pid, owner);
                if (n < 0 || (size_t)n >= sizeof(warning->message) - len)
                        break;
                len += (size_t)n;
                count++;
        }
        if (count > 0)
                (void)error_prefix(warning,
                                   "cannot tell which devices %s MPS control daemon%s of another "
                                   "user serve%s (%s environment is not readable and %s folder "
                                   "is not in a known layout); a second daemon on one of them "
                                   "would time-slice with it",
                                   count == 1 ? "this" : "these", count == 1 ? "" : "s",
                                   count == 1 ? "s" : "", count == 1 ? "its" : "their",
                                   count == 1 ? "its" : "their");
}

void start_report_done(struct start_report *report)
{
        node_reader_done(report->reader);
        free(report->reader);
        free(report->results);
        free(report->withdrawals);
        memset(report, 0, sizeof(*report));
}

static bool runtime_dir_exists(const struct ops_context *context)
{
        _cleanup_close_ int fd = -1;
        struct error ignored = {0};
        return layout_open_runtime_dir(&context->layout, false, &fd, &ignored) == 0;
}

int ops_start(struct ops_context *context, struct start_report *ret_report,
              enum ops_failure *ret_failure, struct error *err)
{
        _cleanup_(start_report_done) struct start_report report = {0};
        _cleanup_(ahead_done) struct ahead ahead = {0};
        _cleanup_(node_reader_done) struct node_reader discovery = {0};
        *ret_failure = OPS_FAILURE_NONE;
        /* Only root can start a program as another user: said before anything is read. */
        if (context->daemon_user && geteuid() != 0) {
                *ret_failure = OPS_FAILURE_USAGE;
                return ini_error_at(err, -EPERM, context->options.config->path,
                                    context->options.config->user.line,
                                    "user = %s: only root can run the daemons as another user; "
                                    "run mpsmig start as root, or leave user out",
                                    context->options.config->user.name);
        }
        node_reader_begin(&discovery);

        struct error program_error = {0};
        int r = mps_control_find(&context->program, &program_error);
        if (r < 0) {
                int nvml = discovery_finish(context, &discovery, ret_failure, err);
                if (nvml < 0)
                        return nvml;
                *ret_failure = OPS_FAILURE_DRIVER;
                *err = program_error;
                return r;
        }

        /* No runtime folder, no cache: nothing to start ahead, and nothing is made before NVML
         * says there is a driver. */
        _cleanup_close_ int runtime_fd = -1, lock_fd = -1;
        struct error lock_error = {0};
        bool early = runtime_dir_exists(context);
        if (!early) {
                r = discovery_finish(context, &discovery, ret_failure, err);
                if (r < 0)
                        return r;
        }
        r = ops_context_lock(context, &runtime_fd, &lock_fd, &lock_error);
        if (r < 0) {
                int nvml = discovery_finish(context, &discovery, ret_failure, err);
                if (nvml < 0)
                        return nvml;
                /* Another user's runtime folder or lock: a configuration problem (exit 2) whose
                 * message names --runtime-dir. */
                *ret_failure = r == -EACCES || r == -EPERM ? OPS_FAILURE_USAGE : OPS_FAILURE_OTHER;
                *err = lock_error;
                return r;
        }

        if (early)
                ahead_start(context, runtime_fd, &ahead);
        r = discovery_finish(context, &discovery, ret_failure, err);
        if (r < 0) {
                withdraw(context, &ahead, &report);
                if (report.withdrawals_failed > 0) {
                        (void)error_prefix(err,
                                           "%zu MPS control daemon%s started from the node "
                                           "cache could not be stopped again",
                                           report.withdrawals_failed,
                                           report.withdrawals_failed == 1 ? "" : "s");
                        (void)error_hint(err, ERROR_HINT_STATUS);
                }
                return r;
        }

        /* A configuration that does not fit this node starts nothing. */
        r = ops_context_limits(context, err);
        if (r < 0) {
                *ret_failure = r == -ENOMEM ? OPS_FAILURE_OTHER : OPS_FAILURE_USAGE;
                withdraw(context, &ahead, &report);
                return r;
        }
        report.results = calloc(context->target_count + 1, sizeof(*report.results));
        if (!report.results)
                return error_set(err, -ENOMEM, "out of memory");
        _cleanup_free_ size_t *pending = NULL;
        size_t pending_count = 0;
        if (take_confirmed(context, &ahead, &report, &pending, &pending_count) < 0)
                return error_set(err, -ENOMEM, "out of memory");
        withdraw(context, &ahead, &report);
        start_all(context, context->targets, report.results, pending, pending_count);

        for (size_t i = 0; i < context->target_count; i++)
                if (report.results[i].outcome == START_FAILED)
                        report.failed++;
        apply_limits(context, &report);
        unknown_daemons(context, &report.warning);
        (void)node_cache_write(runtime_fd, context->layout.runtime_dir, context->node,
                               &report.cache_error);
        /* The NVML child is likely still shutting NVML down: the caller's report reaps it, after
         * the caller has said what it has to say. */
        report.reader = malloc(sizeof(*report.reader));
        if (report.reader) {
                *report.reader = discovery;
                discovery.begun = false;
        }
        *ret_report = report;
        memset(&report, 0, sizeof(report));
        return 0;
}
