/* One target's daemon under the agent: started in the foreground as the agent's child (or a
 * running one adopted), asked whether it answers, asked for its overview, and when it dies,
 * started again after a pause that doubles with each quick death up to a cap (a crash loop is a
 * state, never a stop). At most one control query per daemon is in flight: the daemon serves one
 * control client at a time (docs/driver-facts.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/state.h"
#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "driver/mps_control.h"
#include "node/daemon_folder.h"
#include "node/daemon_scan.h"
#include "node/lock.h"
#include "ops/limits.h"

#define ANSWER_RETRY_MS   5    /* between checks while a new daemon is not listening yet */
#define SOCKET_LOOK_MS    1    /* between looks for a new daemon's control socket */
#define QUERY_TIMEOUT_MS  5000 /* a daemon slower than this is not answering */
#define BUSY_PAUSE_MIN_MS 2
#define BUSY_PAUSE_MAX_MS 32
#define LOCK_WAIT_MS      2000 /* the node lock, held by a `mpsmig start` or `stop` meanwhile */
#define LOCK_RETRY_MS     500
#define START_RETRY_MS    1000 /* a start that failed for want of the lock or a scan */
#define SERVER_POLL_MS    10   /* between looks at a server started ahead that is not ready */

struct agent_target *agent_target_new(const char *uuid)
{
        struct agent_target *target = calloc(1, sizeof(*target));
        if (!target)
                return NULL;
        (void)snprintf(target->uuid, sizeof(target->uuid), "%s", uuid);
        (void)snprintf(target->name, sizeof(target->name), "-");
        target->adopted_pidfd = -1;
        target->turn_fd = -1;
        target->state = SUPERVISION_NEW;
        target->limits.priority = -1;
        return target;
}

static void release_turn(struct agent_target *target)
{
        if (target->turn_fd >= 0)
                (void)close(target->turn_fd);
        target->turn_fd = -1;
}

void agent_target_cancel_query(struct agent_target *target)
{
        spawn_child_done(&target->query);
        release_turn(target);
}

static void drop_overview(struct agent_target *target)
{
        if (target->have_overview)
                mps_overview_done(&target->overview);
        target->have_overview = false;
        error_clear(&target->overview_error);
}

void agent_target_free(struct agent_target *target)
{
        if (!target)
                return;
        agent_target_cancel_query(target);
        spawn_child_done(&target->child);
        if (target->adopted_pidfd >= 0)
                (void)close(target->adopted_pidfd);
        drop_overview(target);
        for (size_t i = 0; i < target->reservation_count; i++)
                (void)close(target->reservations[i].pidfd);
        free(target->reservations);
        free(target);
}

struct agent_target *agent_find(const struct agent *agent, const char *uuid)
{
        for (size_t i = 0; i < agent->target_count; i++)
                if (strcmp(agent->targets[i]->uuid, uuid) == 0)
                        return agent->targets[i];
        return NULL;
}

bool agent_target_has_daemon(const struct agent_target *target)
{
        return target->child.pid > 0 || target->adopted_pidfd >= 0;
}

const char *supervision_string(const struct agent_target *target)
{
        switch (target->state) {
        case SUPERVISION_NEW:
                return "new";
        case SUPERVISION_STARTING:
                return "starting";
        case SUPERVISION_READY:
                return "ready";
        case SUPERVISION_BACKOFF:
                return target->crash_loop ? "crash loop" : "backoff";
        case SUPERVISION_REFUSED:
                return "refused";
        case SUPERVISION_STOPPING:
                return "stopping";
        case SUPERVISION_STOPPED:
                break;
        }
        return "stopped";
}

void agent_target_want_overview(struct agent_target *target)
{
        target->want_overview = true;
}

void agent_target_forget_daemon(struct agent_target *target)
{
        agent_target_cancel_query(target);
        if (target->adopted_pidfd >= 0)
                (void)close(target->adopted_pidfd);
        target->adopted_pidfd = -1;
        target->adopted = false;
        target->pid = 0;
        target->configure = CONFIGURE_NONE;
        target->server_start_sent = false;
        drop_overview(target);
}

void agent_target_prune_reservations(struct agent_target *target)
{
        size_t kept = 0;
        for (size_t i = 0; i < target->reservation_count; i++) {
                struct pollfd exited = {.fd = target->reservations[i].pidfd, .events = POLLIN};
                if (poll(&exited, 1, 0) > 0) {
                        (void)close(target->reservations[i].pidfd);
                        continue;
                }
                target->reservations[kept++] = target->reservations[i];
        }
        target->reservation_count = kept;
}

/* The last line the daemon wrote (its control.log lines on stdout, errors on stderr), kept for
 * the cause of its death; the rest is dropped (it is in control.log). */
static void keep_last_words(struct agent_target *target)
{
        struct spawn_stream *streams[] = {&target->child.out, &target->child.err};
        for (size_t s = 0; s < ELEMENTSOF(streams); s++) {
                size_t size;
                _cleanup_free_ char *text = spawn_stream_take(streams[s], &size);
                if (!text)
                        continue;
                while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == '\r'))
                        text[--size] = '\0';
                if (size == 0)
                        continue;
                const char *last = strrchr(text, '\n');
                (void)snprintf(target->words, sizeof(target->words), "%s", last ? last + 1 : text);
        }
}

static void log_target(int priority, const struct agent_target *target, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void log_target(int priority, const struct agent_target *target, const char *format, ...)
{
        char message[1536];
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        agent_log(priority, "%s %s: %s", target->name, target->uuid, message);
}

/* A daemon died (or ended because it never answered): why, and when it starts again. */
static void died(struct agent *agent, struct agent_target *target, const char *cause)
{
        long long now = monotonic_now_ms();
        pid_t pid = target->pid;
        agent_target_forget_daemon(target);
        if (target->state == SUPERVISION_STOPPING || target->state == SUPERVISION_STOPPED ||
            agent->shutting_down)
                return; /* asked for */
        target->restarts++;
        target->last_exit_ms = now;
        (void)snprintf(target->last_exit, sizeof(target->last_exit), "%s%s%s%s", cause,
                       target->words[0] ? " (last words: \"" : "", target->words,
                       target->words[0] ? "\")" : "");
        target->words[0] = '\0';
        if (now - target->started_ms >= AGENT_HEALTHY_MS)
                target->quick_deaths = 1;
        else
                target->quick_deaths++;
        unsigned shift = target->quick_deaths - 1 < 16 ? target->quick_deaths - 1 : 16;
        unsigned long long backoff = (unsigned long long)AGENT_BACKOFF_MIN_MS << shift;
        target->backoff_ms =
            backoff > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS : (unsigned)backoff;
        target->crash_loop = target->quick_deaths >= AGENT_CRASH_LOOP_DEATHS;
        target->restart_at_ms = now + target->backoff_ms;
        target->state = SUPERVISION_BACKOFF;
        if (target->crash_loop)
                log_target(LOG_ERR, target,
                           "crash loop: the MPS control daemon (pid %d) %s, its %u%s death in a "
                           "row within %d s of its start; restart %u in %u ms",
                           (int)pid, target->last_exit, target->quick_deaths,
                           target->quick_deaths == 1   ? "st"
                           : target->quick_deaths == 2 ? "nd"
                           : target->quick_deaths == 3 ? "rd"
                                                       : "th",
                           AGENT_HEALTHY_MS / 1000, target->restarts, target->backoff_ms);
        else
                log_target(LOG_WARNING, target,
                           "the MPS control daemon (pid %d) %s; restart %u in %u ms", (int)pid,
                           target->last_exit, target->restarts, target->backoff_ms);
        agent_notify_progress(agent);
}

static void refuse(struct agent *agent, struct agent_target *target, const struct error *why)
{
        bool same = target->state == SUPERVISION_REFUSED &&
                    strcmp(target->error.message, why->message) == 0;
        target->error = *why;
        target->state = SUPERVISION_REFUSED;
        if (!same || !target->error_logged)
                log_target(LOG_WARNING, target, "cannot start its MPS control daemon: %s",
                           why->message);
        target->error_logged = true;
        agent_notify_progress(agent);
}

/* Adopts the daemon found running in the target's pipe folder (left by `mpsmig start`, or by an
 * agent before this one): it is watched through a pidfd, asked whether it answers, and started
 * anew, as our own child, when it dies. */
static void adopt(struct agent *agent, struct agent_target *target, const struct mps_daemon *daemon)
{
        struct error err = {0};
        if (!daemon->has_visible_devices || !daemon_serves(daemon, target->uuid)) {
                (void)error_set(&err, -EBUSY,
                                "the MPS control daemon in %s (pid %d) serves "
                                "CUDA_VISIBLE_DEVICES=%s, not %s",
                                target->paths.pipe_dir, (int)daemon->pid,
                                daemon->has_visible_devices ? daemon->visible_devices : "(unset)",
                                target->uuid);
                (void)error_hint(&err, ERROR_HINT_STOP_AND_START);
                refuse(agent, target, &err);
                return;
        }
        int pidfd = -1;
        if (daemon_open(daemon->pid, daemon->start_ticks, &pidfd, &err) < 0) {
                refuse(agent, target, &err);
                return;
        }
        target->adopted = true;
        target->adopted_pidfd = pidfd;
        target->pid = daemon->pid;
        target->started_ms = monotonic_now_ms();
        target->answer_by_ms = target->started_ms + (agent->options.start_timeout_ms > 0
                                                         ? agent->options.start_timeout_ms
                                                         : OPS_START_TIMEOUT_MS_DEFAULT);
        target->state = SUPERVISION_STARTING;
        target->query_at_ms = 0;
        log_target(LOG_INFO, target, "adopted the MPS control daemon already running (pid %d)",
                   (int)daemon->pid);
}

static void start_one(struct agent *agent, struct agent_target *target)
{
        struct start_result result = {0};
        struct target wanted = {.kind = target->kind, .uuid = target->uuid};
        _cleanup_close_ int pipe_fd = -1;
        const struct mps_daemon *ours = NULL;
        int r = ops_start_prepare(&agent->context, &wanted, &pipe_fd, &ours, &result);
        target->paths = result.paths;
        if (r < 0) {
                refuse(agent, target, &result.error);
                return;
        }
        target->error_logged = false;
        error_clear(&target->error);
        if (ours) {
                adopt(agent, target, ours);
                return;
        }
        struct mps_endpoint endpoint = {
            .program = agent->context.program,
            .device_uuid = target->uuid,
            .pipe_dir = target->paths.pipe_dir,
            .log_dir = target->paths.log_dir,
            .daemon_credentials =
                agent->context.daemon_user ? &agent->context.daemon_credentials : NULL,
            .multiuser = agent->multiuser,
        };
        struct error err = {0};
        r = mps_control_foreground_start(&endpoint, &target->child, &err);
        if (r < 0) {
                refuse(agent, target, &err);
                return;
        }
        target->recovered = result.outcome == START_RECOVERED;
        target->pid = target->child.pid;
        target->started_ms = monotonic_now_ms();
        target->answer_by_ms = target->started_ms + (agent->options.start_timeout_ms > 0
                                                         ? agent->options.start_timeout_ms
                                                         : OPS_START_TIMEOUT_MS_DEFAULT);
        target->state = SUPERVISION_STARTING;
        target->query_at_ms = target->started_ms;
        target->busy_pause_ms = 0;
}

static bool start_due(const struct agent *agent, const struct agent_target *target, long long now)
{
        if (agent->shutting_down || target->held || target->remove ||
            (!target->wanted && !target->explicit) || agent_target_has_daemon(target))
                return false;
        return target->state == SUPERVISION_NEW ||
               (target->state == SUPERVISION_BACKOFF && now >= target->restart_at_ms);
}

void agent_start_due(struct agent *agent)
{
        long long now = monotonic_now_ms();
        size_t due = 0;
        for (size_t i = 0; i < agent->target_count; i++)
                due += start_due(agent, agent->targets[i], now);
        if (due == 0)
                return;
        /* One lock and one scan for every target started in this pass: what the scan shows holds
         * until the lock is let go (a `mpsmig start` of the direct path waits meanwhile). */
        struct error err = {0};
        _cleanup_close_ int runtime_fd = -1, lock_fd = -1;
        int r = layout_open_runtime_dir(&agent->context.layout, true, &runtime_fd, &err);
        if (r == 0)
                r = node_lock_acquire(runtime_fd, agent->context.layout.runtime_dir, LOCK_WAIT_MS,
                                      &lock_fd, &err);
        if (r == 0)
                r = ops_context_scan(&agent->context, &err);
        for (size_t i = 0; i < agent->target_count; i++) {
                struct agent_target *target = agent->targets[i];
                if (!start_due(agent, target, now))
                        continue;
                if (r < 0) {
                        /* Tried again soon; said once. */
                        target->state = SUPERVISION_BACKOFF;
                        target->restart_at_ms =
                            now + (r == -ETIMEDOUT ? LOCK_RETRY_MS : START_RETRY_MS);
                        if (!target->error_logged || strcmp(target->error.message, err.message))
                                log_target(LOG_WARNING, target, "cannot start yet: %s",
                                           err.message);
                        target->error = err;
                        target->error_logged = true;
                        continue;
                }
                start_one(agent, target);
        }
}

/* ---- the control queue ---- */

static void become_ready(struct agent *agent, struct agent_target *target)
{
        target->configure = CONFIGURE_NONE;
        target->server_start_sent = false;
        if (target->state == SUPERVISION_STARTING)
                target->state = SUPERVISION_READY;
        target->want_overview = true;
        agent_notify_progress(agent);
}

/* The limits did not read back as asked, or the server ahead did not come: said in status and
 * logged; the daemon serves anyway (as `mpsmig start` leaves it). */
static void configure_failed(struct agent *agent, struct agent_target *target, const char *why)
{
        if (strcmp(target->limits_mismatch, why) != 0)
                log_target(LOG_WARNING, target, "the configuration was not applied as asked: %s",
                           why);
        (void)snprintf(target->limits_mismatch, sizeof(target->limits_mismatch), "%s", why);
        become_ready(agent, target);
}

/* The limits are set: next, the server ahead when the file asks for one. */
static void limits_done(struct agent *agent, struct agent_target *target)
{
        if (!target->limits.server) {
                become_ready(agent, target);
                return;
        }
        target->configure = CONFIGURE_SERVER;
        target->server_start_sent = false;
        target->query_at_ms = 0;
}

static void begin_configure(struct agent *agent, struct agent_target *target)
{
        target->limits_mismatch[0] = '\0';
        target->configure_by_ms = monotonic_now_ms() + (agent->options.start_timeout_ms > 0
                                                            ? agent->options.start_timeout_ms
                                                            : OPS_START_TIMEOUT_MS_DEFAULT);
        target->configure = CONFIGURE_LIMITS;
        target->query_at_ms = 0;
        struct target_limits only = target->limits;
        only.server = false;
        if (!target_limits_any(&only))
                limits_done(agent, target);
}

static bool limits_differ(const struct target_limits *a, const struct target_limits *b)
{
        return a->threads != b->threads || a->pinned_bytes != b->pinned_bytes ||
               a->priority != b->priority || a->server != b->server ||
               (a->server && a->server_uid != b->server_uid);
}

void agent_target_set_limits(struct agent *agent, struct agent_target *target,
                             const struct target_limits *limits)
{
        bool changed = limits_differ(&target->limits, limits);
        target->limits = *limits;
        if (!changed || !agent_target_has_daemon(target) || target->state != SUPERVISION_READY)
                return; /* a daemon still starting takes them once it answers */
        if (!target_limits_any(limits)) {
                log_target(LOG_NOTICE, target,
                           "the configuration no longer sets its limits: the daemon keeps those "
                           "it has until it is restarted");
                return;
        }
        log_target(LOG_NOTICE, target, "the configuration changed its limits: applying them");
        /* As `mpsmig set` says: a server takes the defaults when it starts, so one running keeps
         * the old ones until it is replaced (when idle, or by `mpsmig stop` and `start`). */
        for (size_t i = 0; target->have_overview && i < target->overview.server_count; i++)
                log_target(LOG_NOTICE, target,
                           "its running MPS server (pid %d) keeps the limits it started with "
                           "until it is replaced",
                           (int)target->overview.servers[i]);
        begin_configure(agent, target);
}

static void begin_query(struct agent *agent, struct agent_target *target, enum query_kind kind)
{
        struct mps_endpoint endpoint = {
            .program = agent->context.program,
            .device_uuid = target->uuid,
            .pipe_dir = target->paths.pipe_dir,
            .log_dir = target->paths.log_dir,
            .timeout_ms = QUERY_TIMEOUT_MS,
        };
        /* The daemon's turn, as every mpsmig takes it, when it is free: a control client of the
         * direct path (or of a person) is then not turned away by ours. Not waited for. */
        int fd = open(target->paths.pipe_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
                (void)close(fd);
                fd = -1;
        }
        target->turn_fd = fd;
        struct error err = {0};
        /* Kept with the target: the query's stdin is written from it while the loop goes on. */
        char *commands = target->query_commands;
        const size_t size = sizeof(target->query_commands);
        (void)snprintf(commands, size, "get_server_list\n");
        if (kind == QUERY_OVERVIEW)
                (void)snprintf(commands, size, "%s", MPS_OVERVIEW_COMMANDS);
        else if (kind == QUERY_START_SERVER)
                (void)snprintf(commands, size, "start_server -uid %u\n", target->limits.server_uid);
        else if (kind == QUERY_LIMITS) {
                struct mps_defaults want = limits_wanted(&target->limits);
                if (mps_defaults_commands(&want, commands, size, &err) < 0) {
                        release_turn(target);
                        configure_failed(agent, target, err.message);
                        return;
                }
        }
        if (mps_control_query_start(&endpoint, commands, QUERY_TIMEOUT_MS, &target->query, &err) <
            0) {
                release_turn(target);
                target->query_at_ms = monotonic_now_ms() + START_RETRY_MS;
                if (kind == QUERY_OVERVIEW)
                        target->overview_error = err;
                return;
        }
        target->query_kind = kind;
}

static void answered(struct agent *agent, struct agent_target *target)
{
        long long took = monotonic_now_ms() - target->started_ms;
        error_clear(&target->error);
        target->error_logged = false;
        if (target->adopted)
                log_target(LOG_INFO, target, "the adopted MPS control daemon (pid %d) answers",
                           (int)target->pid);
        else
                log_target(LOG_INFO, target,
                           "the MPS control daemon (pid %d) answers, %lld ms after its start%s",
                           (int)target->pid, took,
                           target->recovered ? " (a dead daemon's leftovers were cleaned first)"
                                             : "");
        /* Ready only once the configuration's limits and server ahead are in place. */
        if (target_limits_any(&target->limits))
                begin_configure(agent, target);
        else
                become_ready(agent, target);
}

static void finish_limits(struct agent *agent, struct agent_target *target, int r,
                          const struct spawn_result *result, struct error *err)
{
        struct mps_defaults want = limits_wanted(&target->limits);
        struct mps_defaults_answer read;
        if (r == 0 && result->exit_status != 0)
                r = error_set(err, -EIO, "the MPS control program exited with status %d",
                              result->exit_status);
        if (r == 0)
                r = mps_answer_defaults(result->out, result->out_size, want.thread_percentage > 0,
                                        &read, err);
        if (r < 0) {
                configure_failed(agent, target, err->message);
                return;
        }
        char mismatch[sizeof(target->limits_mismatch)];
        if (limits_compare(&want, &read, mismatch, sizeof(mismatch)) < 0) {
                configure_failed(agent, target, mismatch);
                return;
        }
        log_target(LOG_INFO, target, "limits applied and read back");
        limits_done(agent, target);
}

/* An overview while the server ahead is awaited: ready, started now, or looked at again. */
static void server_looked_at(struct agent *agent, struct agent_target *target, long long now)
{
        if (target->have_overview && target->overview.server_count > 0 &&
            !target->overview.ps.no_server) {
                log_target(LOG_INFO, target, "a server is ready ahead of the first client (pid %d)",
                           (int)target->overview.servers[0]);
                become_ready(agent, target);
                return;
        }
        if (now >= target->configure_by_ms) {
                char why[160];
                (void)snprintf(why, sizeof(why),
                               "the MPS server started ahead for uid %u was not ready in time",
                               target->limits.server_uid);
                configure_failed(agent, target, why);
                return;
        }
        /* No server at all: start one; one starting (listed, not yet in ps): look again. */
        if (!target->server_start_sent &&
            (!target->have_overview || target->overview.server_count == 0))
                target->configure = CONFIGURE_SERVER_STARTED;
        target->query_at_ms = now + SERVER_POLL_MS;
}

static void finish_query(struct agent *agent, struct agent_target *target)
{
        struct spawn_result result = {0};
        struct error err = {0};
        struct mps_endpoint endpoint = {.program = agent->context.program,
                                        .pipe_dir = target->paths.pipe_dir};
        int r = spawn_child_result(&target->query, &result);
        if (r == 0)
                r = mps_control_query_outcome(&endpoint, &result, QUERY_TIMEOUT_MS, &err);
        agent_target_cancel_query(target);
        long long now = monotonic_now_ms();
        if (r == -EBUSY) {
                /* Another control client holds the daemon: ask again after a growing pause. */
                target->busy_pause_ms =
                    target->busy_pause_ms ? target->busy_pause_ms * 2 : BUSY_PAUSE_MIN_MS;
                if (target->busy_pause_ms > BUSY_PAUSE_MAX_MS)
                        target->busy_pause_ms = BUSY_PAUSE_MAX_MS;
                target->query_at_ms = now + target->busy_pause_ms;
                spawn_result_done(&result);
                return;
        }
        target->busy_pause_ms = 0;
        if (target->query_kind == QUERY_LIMITS) {
                finish_limits(agent, target, r, &result, &err);
                spawn_result_done(&result);
                return;
        }
        if (target->query_kind == QUERY_START_SERVER) {
                if (r == 0 && result.exit_status != 0)
                        r = error_set(&err, -EIO,
                                      "start_server: the MPS control program exited "
                                      "with status %d",
                                      result.exit_status);
                spawn_result_done(&result);
                if (r < 0) {
                        configure_failed(agent, target, err.message);
                        return;
                }
                target->server_start_sent = true;
                target->configure = CONFIGURE_SERVER;
                target->query_at_ms = now + SERVER_POLL_MS;
                return;
        }
        if (target->query_kind == QUERY_ANSWER) {
                _cleanup_free_ pid_t *servers = NULL;
                size_t count = 0;
                if (r == 0 && result.exit_status == 0 &&
                    mps_answer_pid_list("get_server_list", result.out, result.out_size, &servers,
                                        &count, &err) == 0)
                        answered(agent, target);
                else
                        target->query_at_ms = now + ANSWER_RETRY_MS;
                spawn_result_done(&result);
                return;
        }
        target->want_overview = false;
        if (r == 0 && result.exit_status != 0)
                r = error_set(&err, -EIO, "the MPS control program exited with status %d",
                              result.exit_status);
        struct mps_overview overview;
        if (r == 0 && mps_answer_overview(result.out, result.out_size, &overview, &err) == 0) {
                drop_overview(target);
                target->overview = overview;
                target->have_overview = true;
                target->overview_ms = now;
        } else if (r != MPS_ANSWER_NO_DAEMON) {
                /* Gone is for its pidfd to say; anything else is a daemon that does not answer. */
                target->overview_error = err;
                target->overview_ms = now;
        }
        spawn_result_done(&result);
        if (target->configure == CONFIGURE_SERVER)
                server_looked_at(agent, target, now);
}

/* A daemon started (or adopted) that has not answered in time. Ours is ended (SIGKILL: it never
 * served anyone) and restarted after its backoff; an adopted one is left alone and said. */
static void answer_overdue(struct agent *agent, struct agent_target *target)
{
        int seconds = (int)((target->answer_by_ms - target->started_ms) / 1000);
        if (target->adopted) {
                struct error err = {0};
                (void)error_set(&err, -ETIMEDOUT,
                                "the MPS control daemon in %s (pid %d) runs but does not answer",
                                target->paths.pipe_dir, (int)target->pid);
                (void)error_hint(&err, ERROR_HINT_STOP_FORCE);
                agent_target_forget_daemon(target);
                refuse(agent, target, &err);
                return;
        }
        agent_target_cancel_query(target);
        (void)spawn_child_signal(&target->child, SIGKILL);
        while (spawn_child_step(&target->child) == 0)
                (void)poll(NULL, 0, 1);
        spawn_child_done(&target->child);
        char cause[96];
        (void)snprintf(cause, sizeof(cause), "did not answer within %d s and was killed", seconds);
        died(agent, target, cause);
}

void agent_target_step(struct agent *agent, struct agent_target *target)
{
        if (target->child.pid > 0) {
                int r = spawn_child_step(&target->child);
                keep_last_words(target);
                if (r != 0) {
                        struct spawn_result result = {0};
                        char cause[200] = "ended";
                        if (spawn_child_result(&target->child, &result) == 0)
                                (void)spawn_result_describe(&result, 0, cause, sizeof(cause));
                        spawn_result_done(&result);
                        spawn_child_done(&target->child);
                        died(agent, target, cause);
                }
        }
        if (target->adopted_pidfd >= 0) {
                struct pollfd exited = {.fd = target->adopted_pidfd, .events = POLLIN};
                if (poll(&exited, 1, 0) > 0)
                        died(agent, target,
                             "ended (it was not started by this agent, so its exit status is "
                             "unknown)");
        }
        if (target->query.pid > 0 && spawn_child_step(&target->query) != 0)
                finish_query(agent, target);
        agent_target_prune_reservations(target);

        long long now = monotonic_now_ms();
        if (target->state == SUPERVISION_STARTING && target->configure == CONFIGURE_NONE &&
            now >= target->answer_by_ms && agent_target_has_daemon(target)) {
                answer_overdue(agent, target);
                return;
        }
        if (target->query.pid > 0 || !agent_target_has_daemon(target) || now < target->query_at_ms)
                return;
        if (target->configure == CONFIGURE_LIMITS)
                begin_query(agent, target, QUERY_LIMITS);
        else if (target->configure == CONFIGURE_SERVER_STARTED)
                begin_query(agent, target, QUERY_START_SERVER);
        else if (target->configure == CONFIGURE_SERVER)
                begin_query(agent, target, QUERY_OVERVIEW);
        else if (target->state == SUPERVISION_STARTING && !target->adopted &&
                 !daemon_folder_has_socket(target->paths.pipe_dir))
                /* The daemon we started has not made its socket yet: a query now would only
                 * be told there is no daemon. Looking is a stat, so look often. */
                target->query_at_ms = now + SOCKET_LOOK_MS;
        else if (target->state == SUPERVISION_STARTING)
                begin_query(agent, target, QUERY_ANSWER);
        else if (target->state == SUPERVISION_READY && target->want_overview)
                begin_query(agent, target, QUERY_OVERVIEW);
}

static long long earliest(long long a, long long b)
{
        return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

long long agent_target_wakeup(const struct agent_target *target)
{
        long long at = 0;
        if (target->child.pid > 0)
                at = earliest(at, spawn_child_wakeup_ms(&target->child));
        if (target->query.pid > 0)
                at = earliest(at, spawn_child_wakeup_ms(&target->query));
        if (target->state == SUPERVISION_BACKOFF)
                at = earliest(at, target->restart_at_ms);
        if (target->state == SUPERVISION_STARTING && target->configure == CONFIGURE_NONE)
                at = earliest(at, target->answer_by_ms);
        bool wants = target->state == SUPERVISION_STARTING || target->configure != CONFIGURE_NONE ||
                     (target->state == SUPERVISION_READY && target->want_overview);
        if (wants && target->query.pid <= 0 && agent_target_has_daemon(target))
                at = earliest(at, target->query_at_ms > 0 ? target->query_at_ms : 1);
        return at;
}

size_t agent_target_pollfds(const struct agent_target *target, struct pollfd *fds)
{
        size_t n = spawn_child_pollfds(&target->child, fds);
        n += spawn_child_pollfds(&target->query, fds + n);
        if (target->adopted_pidfd >= 0)
                fds[n++] = (struct pollfd){.fd = target->adopted_pidfd, .events = POLLIN};
        return n;
}
