/* The agent's one thread: one poll() over a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP), a timerfd
 * set to the earliest deadline (a restart's backoff, a query's retry or deadline, the poll of the
 * node, a client's deadline), every daemon's pidfd and pipes, the queries' children, the NVML
 * reader, the stoppers, the listening socket and its clients. No sleep, no polling of pid files:
 * every wakeup has a cause. Also the systemd notifications, sent as the state changes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/protocol.h"
#include "agent/state.h"
#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "driver/mps_control.h"
#include "node/layout.h"
#include "node/lock.h"

#define SHUTDOWN_MARGIN_MS 2000 /* past the stopper's own escalation, before SIGKILL */

/* READY=1 once every target has settled (answering, or refused, or backing off after a death),
 * STATUS= when the count of those answering changes; said once per change. */
void agent_notify_progress(struct agent *agent)
{
        if (agent->shutting_down || !agent->node_known || agent->reading)
                return;
        size_t ready = 0, settled = 0, total = 0, backoff = 0, refused = 0;
        for (size_t i = 0; i < agent->target_count; i++) {
                const struct agent_target *target = agent->targets[i];
                if (target->remove || target->held || (!target->wanted && !target->explicit))
                        continue;
                total++;
                ready += target->state == SUPERVISION_READY;
                backoff += target->state == SUPERVISION_BACKOFF;
                refused += target->state == SUPERVISION_REFUSED;
                settled += target->state == SUPERVISION_READY ||
                           target->state == SUPERVISION_REFUSED ||
                           (target->state == SUPERVISION_BACKOFF && target->restarts > 0);
        }
        char status[256];
        (void)snprintf(status, sizeof(status), "STATUS=%zu of %zu MPS control daemons answer%s",
                       ready, total,
                       backoff || refused ? "" : (ready == total ? "" : ", the others start"));
        if (backoff || refused) {
                size_t used = strlen(status);
                (void)snprintf(status + used, sizeof(status) - used,
                               " (%zu restarting, %zu "
                               "refused)",
                               backoff, refused);
        }
        bool send_ready = !agent->ready_sent && settled == total;
        if (!send_ready && strcmp(status, agent->status_sent) == 0)
                return;
        char message[300];
        (void)snprintf(message, sizeof(message), "%s%s", send_ready ? "READY=1\n" : "", status);
        (void)notifier_send(&agent->notifier, message);
        (void)snprintf(agent->status_sent, sizeof(agent->status_sent), "%s", status);
        if (send_ready) {
                agent->ready_sent = true;
                agent_log(LOG_NOTICE, "ready: %s", status + strlen("STATUS="));
        }
}

static int open_signals(struct agent *agent, struct error *err)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return error_set(err, -errno, "cannot block signals: %s", strerror(errno));
        agent->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (agent->signal_fd < 0)
                return error_set(err, -errno, "cannot make a signalfd: %s", strerror(errno));
        /* A client that hangs up must not end the agent while it writes the answer. */
        (void)signal(SIGPIPE, SIG_IGN);
        agent->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (agent->timer_fd < 0)
                return error_set(err, -errno, "cannot make a timerfd: %s", strerror(errno));
        return 0;
}

/* One agent per runtime folder: agent.lock, held for the agent's life. */
static int take_agent_lock(struct agent *agent, struct error *err)
{
        _cleanup_close_ int runtime_fd = -1;
        int r = layout_open_runtime_dir(&agent->context.layout, true, &runtime_fd, err);
        if (r < 0)
                return r;
        r = lock_file_acquire(runtime_fd, agent->context.layout.runtime_dir, AGENT_LOCK_NAME,
                              "agent lock", 1, &agent->lock_fd, err);
        if (r == -ETIMEDOUT)
                return error_set(err, -EBUSY,
                                 "another agent serves %s (it holds %s/%s): one agent per runtime "
                                 "folder",
                                 agent->context.layout.runtime_dir,
                                 agent->context.layout.runtime_dir, AGENT_LOCK_NAME);
        return r;
}

static void arm_timer(struct agent *agent, long long at_ms)
{
        struct itimerspec spec = {{0, 0}, {0, 0}};
        if (at_ms > 0) {
                if (at_ms <= monotonic_now_ms())
                        at_ms = monotonic_now_ms() + 1;
                /* monotonic_now_ms is CLOCK_MONOTONIC: the timer's clock. */
                spec.it_value.tv_sec = at_ms / 1000;
                spec.it_value.tv_nsec = (at_ms % 1000) * 1000000L;
        }
        (void)timerfd_settime(agent->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

static long long earliest(long long a, long long b)
{
        return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

static long long next_wakeup(const struct agent *agent)
{
        long long at = 0;
        for (size_t i = 0; i < agent->target_count; i++)
                at = earliest(at, agent_target_wakeup(agent->targets[i]));
        at = earliest(at, agent_clients_wakeup(agent));
        if (agent->reading)
                at = earliest(at, agent->reader.deadline_ms);
        if (!agent->shutting_down && agent->poll_at_ms > 0)
                at = earliest(at, agent->poll_at_ms);
        if (agent->shutting_down)
                at = earliest(at, agent->shutdown_by_ms);
        for (const struct agent_client *c = agent->clients; c; c = c->next)
                if (c->phase == CLIENT_WAITING && c->waiting)
                        at = earliest(at, c->deadline_ms);
        return at;
}

static void begin_shutdown(struct agent *agent, int signal)
{
        if (agent->shutting_down)
                return;
        agent->shutting_down = true;
        (void)notifier_send(&agent->notifier, "STOPPING=1\nSTATUS=stopping every MPS control "
                                              "daemon");
        agent_log(LOG_NOTICE, "%s: stopping every MPS control daemon", strsignal(signal));
        agent_close_listener(agent);
        int stop_ms = agent->options.stop_timeout_ms > 0 ? agent->options.stop_timeout_ms
                                                         : AGENT_STOP_TIMEOUT_MS_DEFAULT;
        agent->shutdown_by_ms =
            monotonic_now_ms() + stop_ms + 4 * OPS_ESCALATION_WAIT_MS + SHUTDOWN_MARGIN_MS;
        _cleanup_free_ struct agent_target **all = calloc(agent->target_count + 1, sizeof(*all));
        size_t count = 0;
        for (size_t i = 0; all && i < agent->target_count; i++)
                if (agent->targets[i]->state != SUPERVISION_STOPPING)
                        all[count++] = agent->targets[i];
        if (count > 0 && agent_stop_targets(agent, all, count, true, false, NULL) < 0)
                agent_log(LOG_ERR,
                          "cannot start the stopper: %s; the daemons are ended by "
                          "signal",
                          strerror(errno));
        else
                agent->shutdown_stopper_started = count > 0;
}

static void read_signals(struct agent *agent)
{
        struct signalfd_siginfo info;
        while (read(agent->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
                switch (info.ssi_signo) {
                case SIGTERM:
                case SIGINT:
                        begin_shutdown(agent, (int)info.ssi_signo);
                        break;
                case SIGHUP:
                        if (agent->shutting_down)
                                break;
                        agent_log(LOG_NOTICE, "SIGHUP: reading the configuration and the node "
                                              "again");
                        agent->reloading = true;
                        agent_reload_config(agent);
                        {
                                char message[96];
                                struct timespec now;
                                (void)clock_gettime(CLOCK_MONOTONIC, &now);
                                (void)snprintf(message, sizeof(message),
                                               "RELOADING=1\nMONOTONIC_USEC=%llu",
                                               (unsigned long long)now.tv_sec * 1000000ULL +
                                                   (unsigned long long)now.tv_nsec / 1000);
                                (void)notifier_send(&agent->notifier, message);
                        }
                        agent_read_node(agent);
                        break;
                default:
                        break; /* SIGCHLD: every child is stepped below */
                }
        }
}

/* Everything that may have happened: each part looks at its own fds without blocking. */
static void step_everything(struct agent *agent)
{
        read_signals(agent);
        uint64_t expirations;
        while (read(agent->timer_fd, &expirations, sizeof(expirations)) > 0)
                ;
        agent_reader_step(agent);
        for (size_t i = 0; i < agent->target_count; i++)
                agent_target_step(agent, agent->targets[i]);
        agent_stoppers_step(agent);
        agent_accept(agent);
        agent_clients_step(agent);
        agent_clients_progress(agent);
        long long now = monotonic_now_ms();
        if (!agent->shutting_down && agent->poll_at_ms > 0 && now >= agent->poll_at_ms) {
                int poll_ms =
                    agent->options.poll_ms > 0 ? agent->options.poll_ms : AGENT_POLL_MS_DEFAULT;
                agent->poll_at_ms = now + poll_ms;
                agent_read_node(agent);
        }
        if (!agent->shutting_down)
                agent_start_due(agent);
}

static bool shutdown_done(struct agent *agent)
{
        if (!agent->shutting_down)
                return false;
        bool stoppers = agent->stoppers != NULL;
        bool children = false;
        for (size_t i = 0; i < agent->target_count; i++)
                children = children || agent->targets[i]->child.pid > 0;
        if (!stoppers && !children)
                return true;
        if (monotonic_now_ms() < agent->shutdown_by_ms)
                return false;
        /* Past every escalation the stopper has: what is left is ended here. */
        agent_log(LOG_ERR, "the daemons did not stop in time: ending what is left with SIGKILL");
        agent->shutdown_failures++;
        for (struct stopper *s = agent->stoppers; s; s = s->next)
                (void)kill(s->pid, SIGKILL);
        for (size_t i = 0; i < agent->target_count; i++)
                spawn_child_done(&agent->targets[i]->child);
        return !agent->stoppers;
}

static size_t gather_fds(const struct agent *agent, struct pollfd **fds, size_t *capacity)
{
        size_t need =
            4 + agent->target_count * (2 * SPAWN_CHILD_POLLFDS + 1) + 2 * agent->client_count + 2;
        for (const struct stopper *s = agent->stoppers; s; s = s->next)
                need += 2;
        if (need > *capacity) {
                struct pollfd *bigger = realloc(*fds, need * sizeof(**fds));
                if (!bigger)
                        return 0;
                *fds = bigger;
                *capacity = need;
        }
        struct pollfd *f = *fds;
        size_t n = 0;
        f[n++] = (struct pollfd){.fd = agent->signal_fd, .events = POLLIN};
        f[n++] = (struct pollfd){.fd = agent->timer_fd, .events = POLLIN};
        if (agent->listen_fd >= 0)
                f[n++] = (struct pollfd){.fd = agent->listen_fd, .events = POLLIN};
        if (agent->reading && agent->reader.pipe_fd >= 0)
                f[n++] = (struct pollfd){.fd = agent->reader.pipe_fd, .events = POLLIN};
        else if (agent->reading && agent->reader.pidfd >= 0)
                f[n++] = (struct pollfd){.fd = agent->reader.pidfd, .events = POLLIN};
        for (size_t i = 0; i < agent->target_count; i++)
                n += agent_target_pollfds(agent->targets[i], f + n);
        n += agent_stopper_pollfds(agent, f + n, *capacity - n);
        n += agent_client_pollfds(agent, f + n, *capacity - n);
        return n;
}

static void agent_done(struct agent *agent)
{
        for (size_t i = 0; i < agent->target_count; i++)
                agent_target_free(agent->targets[i]);
        free(agent->targets);
        while (agent->clients) {
                struct agent_client *c = agent->clients;
                agent->clients = c->next;
                (void)close(c->fd);
                json_decref(c->waiting);
                free(c->uuids);
                free(c->in);
                free(c->out);
                free(c);
        }
        node_reader_done(&agent->reader);
        agent_close_listener(agent);
        free(agent->node_text);
        ops_context_done(&agent->context);
        config_free(agent->config);
        notifier_close(&agent->notifier);
        if (agent->signal_fd >= 0)
                (void)close(agent->signal_fd);
        if (agent->timer_fd >= 0)
                (void)close(agent->timer_fd);
        if (agent->lock_fd >= 0)
                (void)close(agent->lock_fd);
}

/* What the file says that only a new agent takes: its runtime folder, the daemons' user and
 * group, -M. */
static bool same_for_life(const struct config *a, const struct config *b)
{
        return strcmp(a->runtime_dir, b->runtime_dir) == 0 && a->user.set == b->user.set &&
               a->user.id == b->user.id && a->group.set == b->group.set &&
               a->group.id == b->group.id && a->multiuser == b->multiuser;
}

void agent_reload_config(struct agent *agent)
{
        struct error err = {0};
        struct config *fresh = NULL;
        int r = config_load(agent->options.config_path, &fresh, &err);
        if (r == 0 && agent->node_known)
                r = config_check_node(fresh, agent->context.node, NULL, &err);
        if (r < 0) {
                agent_log(LOG_ERR, "the configuration is not reloaded, the running one is kept: %s",
                          err.message);
                config_free(fresh);
                return;
        }
        if (!same_for_life(agent->config, fresh))
                agent_log(LOG_WARNING,
                          "%s: runtime_dir, user, group and multiuser take effect when the agent "
                          "is started again; the running agent keeps those it began with",
                          fresh->path[0] ? fresh->path : "the configuration");
        agent_log(LOG_NOTICE,
                  "configuration %s read: its limits are applied after the node is read",
                  fresh->path[0] ? fresh->path : "(no file)");
        config_free(agent->config);
        agent->config = fresh;
        agent->context.options.config = fresh;
}

static int begin(struct agent *agent, struct error *err)
{
        int r = config_load(agent->options.config_path, &agent->config, err);
        if (r < 0)
                return r;
        const struct config *config = agent->config;
        const char *from_env = getenv(LAYOUT_RUNTIME_DIR_ENV);
        if (!agent->options.runtime_dir && !(from_env && from_env[0]) && config->runtime_dir[0]) {
                (void)snprintf(agent->runtime_dir, sizeof(agent->runtime_dir), "%s",
                               config->runtime_dir);
                agent->options.runtime_dir = agent->runtime_dir;
        }
        if (agent->options.start_timeout_ms == 0)
                agent->options.start_timeout_ms = config->start_timeout_ms;
        if (agent->options.stop_timeout_ms == 0)
                agent->options.stop_timeout_ms = config->stop_timeout_ms;
        agent->multiuser = config->multiuser;
        struct ops_options options = {
            .layout_kind = LAYOUT_DEFAULT,
            .runtime_dir = agent->options.runtime_dir,
            .whole_gpus = agent->options.whole_gpus,
            .timeout_ms = agent->options.start_timeout_ms,
            .config = config,
        };
        r = ops_context_prepare(&options, &agent->context, err);
        if (r < 0)
                return r;
        r = mps_control_find(&agent->context.program, err);
        if (r < 0)
                return r;
        r = notifier_open(&agent->notifier);
        if (r < 0)
                return error_set(err, r, "NOTIFY_SOCKET=%s is not a socket path",
                                 getenv("NOTIFY_SOCKET"));
        r = open_signals(agent, err);
        if (r < 0)
                return r;
        r = take_agent_lock(agent, err);
        if (r < 0)
                return r;
        return agent_listen(agent, err);
}

int agent_run(const struct agent_options *options, struct error *err)
{
        struct agent agent = {
            .options = *options,
            .signal_fd = -1,
            .timer_fd = -1,
            .listen_fd = -1,
            .lock_fd = -1,
        };
        int r = begin(&agent, err);
        if (r < 0) {
                agent_done(&agent);
                return r;
        }
        agent_log(LOG_NOTICE, "serving %s (socket %s), %s", agent.context.layout.runtime_dir,
                  agent.socket_path,
                  options->whole_gpus || agent.config->whole_gpus ? "MIG devices and whole GPUs"
                                                                  : "MIG devices");
        if (options->poll_ms >= 0)
                agent.poll_at_ms =
                    monotonic_now_ms() +
                    (options->poll_ms > 0 ? options->poll_ms : AGENT_POLL_MS_DEFAULT);
        agent_read_node(&agent);

        _cleanup_free_ struct pollfd *fds = NULL;
        size_t capacity = 0;
        while (!shutdown_done(&agent)) {
                /* The first read failing is a node the agent cannot serve: said, and ended. */
                if (!agent.reading && !agent.node_known && !agent.shutting_down) {
                        (void)error_set(err, agent.reader.result ? agent.reader.result : -EIO,
                                        "cannot read the node through NVML: %s",
                                        agent.reader.error.message);
                        agent_done(&agent);
                        return err->code;
                }
                size_t n = gather_fds(&agent, &fds, &capacity);
                arm_timer(&agent, next_wakeup(&agent));
                if (poll(fds, n, -1) < 0 && errno != EINTR) {
                        r = error_set(err, -errno, "poll: %s", strerror(errno));
                        break;
                }
                step_everything(&agent);
        }
        int failures = agent.shutdown_failures;
        if (r == 0)
                agent_log(LOG_NOTICE, "stopped%s",
                          failures ? " (not every daemon stopped cleanly)" : "");
        agent_done(&agent);
        if (r == 0 && failures)
                r = error_set(err, -EIO, "not every MPS control daemon could be stopped cleanly");
        return r;
}
