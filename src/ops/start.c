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
                (void)snprintf(advice, sizeof(advice),
                               "it is the seed scripts' daemon: stop it with `mpsmig stop "
                               "--layout seed`, or keep it and manage it with `--layout seed`");
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
        return error_set(err, -EBUSY,
                         "another MPS control daemon (%spipe folder %s) already serves %s: "
                         "a second daemon on one device would time-slice with it instead of "
                         "sharing the device; %s",
                         pid, other->pipe_dir, uuid, advice);
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
        if (!daemon->has_visible_devices || !daemon_serves(daemon, uuid))
                return error_set(err, -EBUSY,
                                 "the MPS control daemon in %s (pid %d) serves "
                                 "CUDA_VISIBLE_DEVICES=%s, not %s: stop it with `mpsmig stop` "
                                 "and start again",
                                 endpoint->pipe_dir, (int)daemon->pid,
                                 daemon->has_visible_devices ? daemon->visible_devices : "(unset)",
                                 uuid);
        pid_t pid;
        int r = wait_answer(endpoint, pipe_fd, deadline, &pid, err);
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
        struct mps_endpoint endpoint = {
            .program = context->program,
            .device_uuid = target->uuid,
            .pipe_dir = paths->pipe_dir,
            .log_dir = paths->log_dir,
            .timeout_ms = remaining_ms(deadline),
            .daemon_credentials = context->daemon_user ? &context->daemon_credentials : NULL,
            .multiuser = context->options.config && context->options.config->multiuser,
        };
        const struct mps_daemon *ours = ops_daemon_on(context, paths->pipe_dir);
        if (ours)
                return keep_running(&endpoint, pipe_fd, ours, target->uuid, deadline, result);

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
        } else if (daemon_folder_live(paths->pipe_dir, NULL) == 0) {
                /* What a quit daemon leaves (control_lock, the sockets) is removed by name: a
                 * control_lock that another user opened while it was there (it is 0666) and now
                 * holds would otherwise make `-d` fail; the new daemon makes fresh files. */
                r = layout_clean_daemon_files(pipe_fd, err);
                if (r < 0)
                        return error_prefix(err, "cannot clean the old daemon's files in %s",
                                            paths->pipe_dir);
        }

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

static void start_one(void *shared, size_t index)
{
        struct start_job *job = shared;
        if (job->map)
                index = job->map[index];
        struct start_result *result = &job->results[index];
        long long began = ops_now_ms();
        result->target = &job->targets[index];
        int r = start_target(job->context, result->target, began + job->timeout_ms, result);
        if (r < 0) {
                result->outcome = START_FAILED;
                if (!result->error.message[0])
                        (void)error_set(&result->error, r, "%s", strerror(-r));
        }
        result->elapsed_ms = ops_now_ms() - began;
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
        ops_parallel(count, start_one, &job);
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
        ops_parallel(context->target_count, limits_one, &job);
        for (size_t i = 0; i < context->target_count; i++)
                if (report->results[i].limits.error.message[0])
                        report->limits_failed++;
}

/* NVML, read while daemons start: on the H100 it costs about 20 ms per command, as much as a
 * control daemon takes to start and answer. It runs in a forked child rather than a thread: NVML
 * loads libcuda, whose mapping and relocation hold the memory-map lock that a thread would share
 * with start's own work (docs/benchmarks.md has the figures). The child is forked while start is
 * still single-threaded and runs no other program: it loads NVML, writes "RESULT FAILURE\n" and
 * the node (node_cache_format) or the error message into a pipe, closes it, and only then shuts
 * NVML down, so that the parent need not wait for that. */
#define DISCOVERY_TIMEOUT_MS 30000 /* a driver that hangs longer is reported, not waited for */

struct discovery {
        pid_t child; /* 0: read in this process instead (fork failed) or already reaped */
        int pipe_fd; /* the read end */
        bool finished;
        bool answered; /* the child wrote a whole answer */
        struct node *node;
        enum ops_failure failure;
        struct error error;
        int result;
};

static _Noreturn void discovery_child(int fd)
{
        struct nvml *nvml = NULL;
        struct node *node = NULL;
        struct error err = {0};
        enum ops_failure failure = OPS_FAILURE_DRIVER;
        char *text = NULL;
        int r = nvml_open(&nvml, &err);
        if (r == 0) {
                failure = OPS_FAILURE_OTHER;
                /* A lost GPU is handed over marked: start serves the healthy ones. */
                r = node_discover_with_lost(nvml, &node, &err);
                if (r > 0)
                        r = 0;
        }
        if (r == 0 && (r = node_cache_format_with_lost(node, &text)) < 0)
                (void)error_set(&err, r, "cannot pass the node on: %s", strerror(-r));
        char header[64];
        int length = snprintf(header, sizeof(header), "%d %d\n", r, r < 0 ? (int)failure : 0);
        /* A failed write leaves the parent a short answer, which it reports as broken. */
        if (fd_write_fully(fd, header, (size_t)length) == 0) {
                if (r == 0)
                        (void)fd_write_fully(fd, text, strlen(text));
                else
                        (void)fd_write_fully(fd, err.message, strlen(err.message));
        }
        (void)close(fd);
        nvml_close(nvml);
        free(text);
        node_free(node);
        _exit(0);
}

static void discovery_begin(struct discovery *discovery)
{
        int fds[2];
        discovery->pipe_fd = -1;
        if (pipe2(fds, O_CLOEXEC) == 0) {
                pid_t pid = fork();
                if (pid == 0) {
                        (void)close(fds[0]);
                        discovery_child(fds[1]);
                }
                (void)close(fds[1]);
                if (pid > 0) {
                        discovery->child = pid;
                        discovery->pipe_fd = fds[0];
                        return;
                }
                (void)close(fds[0]);
        }
        /* No pipe or no fork only costs the overlap: read NVML here and now. */
        discovery->result = ops_read_node(&discovery->node, &discovery->failure, &discovery->error);
        discovery->finished = true;
}

/* Reads the child's answer (at most DISCOVERY_TIMEOUT_MS from now) into the discovery. */
static void discovery_read(struct discovery *discovery)
{
        size_t capacity = NODE_CACHE_MAX_BYTES + 64, used = 0;
        _cleanup_free_ char *text = malloc(capacity + 1);
        long long deadline = ops_now_ms() + DISCOVERY_TIMEOUT_MS;
        bool eof = false;
        while (text && !eof && used < capacity) {
                long long left = deadline - ops_now_ms();
                struct pollfd watch = {.fd = discovery->pipe_fd, .events = POLLIN};
                int ready = left > 0 ? poll(&watch, 1, (int)left) : 0;
                if (ready < 0 && errno == EINTR)
                        continue;
                if (ready <= 0)
                        break;
                ssize_t n = read(discovery->pipe_fd, text + used, capacity - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        eof = true;
                else
                        used += (size_t)n;
        }
        discovery->finished = true;
        int result = 0, failure = 0, header = 0;
        if (!text) {
                discovery->result = error_set(&discovery->error, -ENOMEM, "out of memory");
                discovery->failure = OPS_FAILURE_OTHER;
                return;
        }
        text[used] = '\0';
        if (!eof) {
                discovery->result = error_set(&discovery->error, -ETIMEDOUT,
                                              "NVML did not answer within %d s (a hung driver? "
                                              "see `nvidia-smi` and dmesg)",
                                              DISCOVERY_TIMEOUT_MS / 1000);
                discovery->failure = OPS_FAILURE_DRIVER;
                return;
        }
        if (sscanf(text, "%d %d\n%n", &result, &failure, &header) != 2 || header == 0 ||
            result > 0 || failure < OPS_FAILURE_NONE || failure > OPS_FAILURE_OTHER) {
                discovery->result = error_set(&discovery->error, -EIO,
                                              "the process reading NVML ended without an answer "
                                              "(did NVML crash it?); `mpsmig list` reads NVML "
                                              "directly and shows what fails");
                discovery->failure = OPS_FAILURE_DRIVER;
                return;
        }
        discovery->answered = true;
        if (result < 0) {
                discovery->result = error_set(&discovery->error, result, "%s", text + header);
                discovery->failure = (enum ops_failure)failure;
                return;
        }
        discovery->result =
            node_cache_parse_with_lost(text + header, used - (size_t)header, &discovery->node);
        if (discovery->result < 0) {
                (void)error_set(&discovery->error, discovery->result,
                                "the process reading NVML gave an answer that does not parse");
                discovery->failure = OPS_FAILURE_OTHER;
        }
}

/* Waits for NVML and makes its node the context's, TARGET names resolved in it. The errors come
 * in ops_context_open's order: NVML, then the names. */
static int discovery_finish(struct ops_context *context, struct discovery *discovery,
                            enum ops_failure *ret_failure, struct error *err)
{
        if (!discovery->finished)
                discovery_read(discovery);
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

/* A child that answered is left to shut NVML down (2.5 ms on the H100, nothing start needs to
 * wait for): reaped here if it is done, by init otherwise. One that did not answer in time (a
 * driver hung in it) is killed and reaped. */
static void discovery_abandon(struct discovery *discovery)
{
        if (discovery->child > 0 && !discovery->answered) {
                (void)kill(discovery->child, SIGKILL);
                while (waitpid(discovery->child, NULL, 0) < 0 && errno == EINTR)
                        ;
        } else if (discovery->child > 0) {
                (void)waitpid(discovery->child, NULL, WNOHANG);
        }
        discovery->child = 0;
        if (discovery->pipe_fd >= 0)
                (void)close(TAKE_FD(discovery->pipe_fd));
        node_free(TAKE_PTR(discovery->node));
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
        _cleanup_(discovery_abandon) struct discovery discovery = {.pipe_fd = -1};
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
        discovery_begin(&discovery);

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
                if (report.withdrawals_failed > 0)
                        (void)error_prefix(err,
                                           "%zu MPS control daemon%s started from the node "
                                           "cache could not be stopped again (see `mpsmig "
                                           "status`)",
                                           report.withdrawals_failed,
                                           report.withdrawals_failed == 1 ? "" : "s");
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
        *ret_report = report;
        memset(&report, 0, sizeof(report));
        return 0;
}
