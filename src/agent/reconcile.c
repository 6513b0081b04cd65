/* The agent following the node: NVML read in a forked child (ops/node_reader.c) at start, on
 * SIGHUP and at the poll; the desired targets compared with those supervised: a new MIG instance
 * gets a daemon, a vanished one (a destroyed instance, a lost GPU's devices, a device whose folders
 * outlived it) is stopped and its folders removed, a GPU that returns is served again. Stopping is
 * done by a forked stopper that runs ops_stop, as `mpsmig stop` does, while the loop goes on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/desired.h"
#include "agent/log.h"
#include "agent/protocol.h"
#include "agent/state.h"
#include "base/cleanup.h"
#include "base/fd_io.h"
#include "base/flock_wait.h"
#include "node/node_cache.h"
#include "node/target_name.h"

#define STOPPER_ANSWER_MAX (4 * 1024 * 1024)

void agent_read_node(struct agent *agent)
{
        if (agent->reading) {
                agent->read_again = true;
                return;
        }
        node_reader_begin(&agent->reader);
        agent->reading = true;
        agent->read_again = false;
        agent_reader_step(agent);
}

static int add_target(struct agent *agent, struct agent_target *target)
{
        if (agent->target_count == agent->target_capacity) {
                size_t capacity = agent->target_capacity ? agent->target_capacity * 2 : 64;
                struct agent_target **bigger =
                    realloc(agent->targets, capacity * sizeof(*agent->targets));
                if (!bigger)
                        return -ENOMEM;
                agent->targets = bigger;
                agent->target_capacity = capacity;
        }
        agent->targets[agent->target_count++] = target;
        return 0;
}

/* The agent target for `uuid`, made (NEW) when it has none. */
static struct agent_target *target_for(struct agent *agent, const char *uuid)
{
        struct agent_target *target = agent_find(agent, uuid);
        if (target)
                return target;
        target = agent_target_new(uuid);
        if (!target || add_target(agent, target) < 0) {
                agent_target_free(target);
                return NULL;
        }
        return target;
}

/* A GPU lost, or back, since the last read: said once. */
static void report_gpus(const struct node *before, const struct node *after)
{
        for (size_t i = 0; i < after->gpu_count; i++) {
                const struct gpu *gpu = &after->gpus[i];
                bool was_lost = false, known = false;
                for (size_t j = 0; before && j < before->gpu_count; j++)
                        if (before->gpus[j].index == gpu->index) {
                                known = true;
                                was_lost = before->gpus[j].lost;
                        }
                if (gpu->lost && (!was_lost || !before))
                        agent_log(LOG_ERR,
                                  "GPU %u%s%s is lost: %s (it needs a reset or a reboot); the "
                                  "daemons of its devices are stopped",
                                  gpu->index, gpu->pci_bus_id[0] ? " at " : "", gpu->pci_bus_id,
                                  gpu->lost_reason);
                else if (!gpu->lost && was_lost && known)
                        agent_log(LOG_NOTICE, "GPU %u (%s) answers again: its targets are served",
                                  gpu->index, gpu->uuid);
        }
}

/* Devices with folders of the layout that NVML does not list (the agent's own of an earlier run,
 * a `mpsmig start` of a layout that has changed since): stopped and removed like a vanished
 * instance. */
static void add_orphans(struct agent *agent, const struct node *node)
{
        struct ops_context scan = {
            .options = {.layout_kind = LAYOUT_DEFAULT, .whole_gpus = true, .orphans = true},
            .layout = agent->context.layout,
        };
        _cleanup_free_ char *text = NULL;
        struct node *copy = NULL;
        struct error ignored = {0};
        if (node_cache_format_with_lost(node, &text) < 0 ||
            node_cache_parse_with_lost(text, strlen(text), &copy) < 0)
                return;
        if (ops_context_resolve(&scan, copy, &ignored) >= 0)
                for (size_t i = 0; i < scan.target_count; i++) {
                        if (scan.targets[i].kind != TARGET_ORPHAN)
                                continue;
                        struct agent_target *target = target_for(agent, scan.targets[i].uuid);
                        if (target && !target->wanted) {
                                target->remove = true;
                                (void)snprintf(target->name, sizeof(target->name), "-");
                        }
                }
        ops_context_done(&scan);
}

static void apply_node(struct agent *agent, struct node *node)
{
        report_gpus(agent->node_known ? agent->context.node : NULL, node);
        _cleanup_free_ char *text = NULL;
        if (node_cache_format_with_lost(node, &text) < 0) {
                agent_log(LOG_ERR, "out of memory: the node read is dropped");
                node_free(node);
                return;
        }
        struct error err = {0};
        if (ops_context_resolve(&agent->context, node, &err) < 0) {
                agent_log(LOG_ERR, "cannot list the node's targets: %s", err.message);
                return;
        }
        free(agent->node_text);
        agent->node_text = TAKE_PTR(text);
        /* At the first read, the file's sections are checked against the node as a reload checks
         * them: one that names nothing here is said; the others apply. */
        if (!agent->node_known && agent->config &&
            config_check_node(agent->config, agent->context.node, NULL, &err) < 0) {
                agent_log(LOG_ERR, "%s; the sections that fit this node are applied", err.message);
                error_clear(&err);
        }
        agent->node_known = true;

        _cleanup_free_ struct desired_target *desired = NULL;
        size_t desired_count = 0;
        if (agent_desired_targets(agent->context.node, &agent->options, agent->config, &desired,
                                  &desired_count, &err) < 0) {
                agent_log(LOG_ERR,
                          "cannot tell the desired targets: %s; the node is kept as it was",
                          err.message);
                return;
        }
        _cleanup_free_ struct target *all = NULL;
        size_t all_count = 0;
        (void)node_targets(agent->context.node, true, &all, &all_count);

        for (size_t i = 0; i < agent->target_count; i++)
                agent->targets[i]->wanted = false;
        for (size_t i = 0; i < desired_count; i++) {
                struct agent_target *target = target_for(agent, desired[i].target.uuid);
                if (!target) {
                        agent_log(LOG_ERR, "out of memory: %s is not served",
                                  desired[i].target.uuid);
                        continue;
                }
                target->wanted = true;
                target->remove = false;
                target->kind = desired[i].target.kind;
                if (target_short_name(&desired[i].target, target->name, sizeof(target->name)) < 0)
                        (void)snprintf(target->name, sizeof(target->name), "?");
                agent_target_set_limits(agent, target, &desired[i].limits);
                /* A refused target (another daemon on its device) is tried again at each read;
                 * one that answers is asked again for its clients, which placements count. */
                if (target->state == SUPERVISION_REFUSED)
                        target->state = SUPERVISION_NEW;
                else if (target->state == SUPERVISION_READY)
                        agent_target_want_overview(target);
        }
        for (size_t i = 0; i < agent->target_count; i++) {
                struct agent_target *target = agent->targets[i];
                if (target->wanted)
                        continue;
                bool listed = false;
                for (size_t j = 0; j < all_count && !listed; j++)
                        if (strcmp(all[j].uuid, target->uuid) == 0) {
                                listed = true;
                                (void)target_short_name(&all[j], target->name,
                                                        sizeof(target->name));
                        }
                if (!listed || !target->explicit)
                        target->remove = true;
                else if (target->state == SUPERVISION_REFUSED)
                        target->state = SUPERVISION_NEW;
                if (!listed)
                        (void)snprintf(target->name, sizeof(target->name), "-");
        }
        add_orphans(agent, agent->context.node);
        agent_stop_unwanted(agent);
        agent_start_due(agent);
        agent_notify_progress(agent);
}

void agent_reader_step(struct agent *agent)
{
        if (!agent->reading)
                return;
        bool finished = node_reader_feed(&agent->reader);
        bool reaped = node_reader_try_reap(&agent->reader);
        if (!finished || !reaped)
                return;
        agent->reading = false;
        if (agent->reader.result < 0) {
                agent_log(LOG_ERR, "cannot read the node through NVML: %s%s",
                          agent->reader.error.message,
                          agent->node_known ? "; the node as last read is kept" : "");
        } else {
                struct node *node = TAKE_PTR(agent->reader.node);
                agent->node_read_ms = monotonic_now_ms();
                apply_node(agent, node);
        }
        node_reader_done(&agent->reader);
        if (agent->reloading) {
                agent->reloading = false;
                agent->ready_sent = false; /* READY=1 again once every target answers */
        }
        if (agent->read_again && !agent->shutting_down)
                agent_read_node(agent);
        agent_notify_progress(agent);
}

/* ---- stoppers ---- */

static _Noreturn void stopper_child(struct agent *agent, char (*uuids)[NODE_UUID_MAX], size_t count,
                                    bool force, int fd)
{
        /* What the agent blocked and holds is not the stopper's: its own signals, and only the
         * pipe of its answer (stdio stays, for the sanitizers' reports). */
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        fd_close_inherited(fd);

        struct ops_context context = {
            .options = {.layout_kind = LAYOUT_DEFAULT,
                        .runtime_dir = agent->options.runtime_dir,
                        .timeout_ms = agent->options.stop_timeout_ms > 0
                                          ? agent->options.stop_timeout_ms
                                          : AGENT_STOP_TIMEOUT_MS_DEFAULT,
                        .force = force},
            .layout = agent->context.layout,
            .program = agent->context.program,
        };
        struct target *targets = calloc(count + 1, sizeof(*targets));
        struct stop_result *results = calloc(count + 1, sizeof(*results));
        struct error err = {0};
        int failed = -ENOMEM;
        if (targets && results) {
                for (size_t i = 0; i < count; i++)
                        targets[i] = (struct target){.kind = TARGET_ORPHAN, .uuid = uuids[i]};
                context.targets = targets;
                context.target_count = count;
                failed = ops_stop(&context, results, &err);
        }
        json_t *answer =
            agent_stop_results_json(failed < 0 ? &err : NULL, results, failed < 0 ? 0 : count);
        char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        if (text)
                (void)fd_write_fully(fd, text, strlen(text));
        _exit(failed == 0 ? 0 : 1);
}

int agent_stop_targets(struct agent *agent, struct agent_target **targets, size_t count,
                       bool shutdown, bool force, struct agent_client *client)
{
        struct stopper *stopper = calloc(1, sizeof(*stopper));
        if (!stopper)
                return -ENOMEM;
        stopper->uuids = calloc(count + 1, sizeof(*stopper->uuids));
        int fds[2] = {-1, -1};
        if (!stopper->uuids || pipe2(fds, O_CLOEXEC) < 0) {
                free(stopper->uuids);
                free(stopper);
                return -ENOMEM;
        }
        for (size_t i = 0; i < count; i++) {
                (void)snprintf(stopper->uuids[i], NODE_UUID_MAX, "%s", targets[i]->uuid);
                agent_target_cancel_query(targets[i]);
                targets[i]->state = SUPERVISION_STOPPING;
        }
        stopper->count = count;
        pid_t pid = fork();
        if (pid == 0) {
                (void)close(fds[0]);
                stopper_child(agent, stopper->uuids, count, force, fds[1]);
        }
        (void)close(fds[1]);
        if (pid < 0) {
                int r = -errno;
                (void)close(fds[0]);
                free(stopper->uuids);
                free(stopper);
                for (size_t i = 0; i < count; i++)
                        targets[i]->state = SUPERVISION_NEW;
                return r;
        }
        int flags = fcntl(fds[0], F_GETFL);
        if (flags >= 0)
                (void)fcntl(fds[0], F_SETFL, flags | O_NONBLOCK);
        stopper->pid = pid;
        stopper->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        stopper->pipe_fd = fds[0];
        stopper->shutdown = shutdown;
        stopper->force = force;
        stopper->client = client;
        stopper->next = agent->stoppers;
        agent->stoppers = stopper;
        return 0;
}

size_t agent_stopper_pollfds(const struct agent *agent, struct pollfd *fds, size_t max)
{
        size_t n = 0;
        for (const struct stopper *s = agent->stoppers; s && n + 2 <= max; s = s->next) {
                if (s->pipe_fd >= 0)
                        fds[n++] = (struct pollfd){.fd = s->pipe_fd, .events = POLLIN};
                else if (s->pidfd >= 0)
                        fds[n++] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
        }
        return n;
}

/* Reads what the stopper wrote; true at its end of file. */
static bool stopper_read(struct stopper *s)
{
        while (s->pipe_fd >= 0) {
                if (s->used + 4096 + 1 > s->capacity && s->capacity < STOPPER_ANSWER_MAX) {
                        size_t capacity = s->capacity ? s->capacity * 2 : 8192;
                        char *bigger = realloc(s->text, capacity);
                        if (!bigger)
                                return false;
                        s->text = bigger;
                        s->capacity = capacity;
                }
                ssize_t n = s->used + 1 < s->capacity
                                ? read(s->pipe_fd, s->text + s->used, s->capacity - s->used - 1)
                                : 0;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return false;
                if (n > 0) {
                        s->used += (size_t)n;
                        continue;
                }
                (void)close(s->pipe_fd);
                s->pipe_fd = -1;
        }
        if (s->text)
                s->text[s->used] = '\0';
        return true;
}

static bool stopper_reaped(struct stopper *s, int *status)
{
        pid_t r;
        while ((r = waitpid(s->pid, status, WNOHANG)) < 0 && errno == EINTR)
                ;
        return r == s->pid;
}

/* The stopper is done: the targets it stopped take their state, its client gets the results. */
static void stopper_done(struct agent *agent, struct stopper *s, int status)
{
        json_error_t parse_error;
        json_t *answer = s->text ? json_loads(s->text, 0, &parse_error) : NULL;
        int failed = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        if (!answer) {
                answer = json_pack("{s:b, s:{s:s, s:i}}", "ok", 0, "error", "message",
                                   "the stopper ended without saying what it did", "errno", -EIO);
                failed = 1;
        }
        for (size_t i = 0; i < s->count; i++) {
                struct agent_target *target = agent_find(agent, s->uuids[i]);
                if (!target || target->state != SUPERVISION_STOPPING)
                        continue;
                /* The daemon quit: ours is reaped now (it is a zombie already). */
                spawn_child_done(&target->child);
                agent_target_forget_daemon(target);
                target->state = target->remove || target->held || s->shutdown ? SUPERVISION_STOPPED
                                                                              : SUPERVISION_NEW;
        }
        if (!s->shutdown && failed)
                agent_log(LOG_ERR, "could not stop every MPS control daemon asked: %s",
                          s->text ? s->text : "no answer");
        if (s->shutdown)
                agent->shutdown_failures = failed;
        if (s->client) {
                json_object_set_new(answer, "version", json_integer(AGENT_PROTOCOL_VERSION));
                if (agent->node_text)
                        json_object_set_new(answer, "node", json_string(agent->node_text));
                agent_client_answer(s->client, answer);
                s->client->phase = CLIENT_WRITING;
        }
        json_decref(answer);
        /* Forgets the removed targets that are stopped now. */
        size_t kept = 0;
        for (size_t i = 0; i < agent->target_count; i++) {
                struct agent_target *target = agent->targets[i];
                if (target->remove && target->state == SUPERVISION_STOPPED && !s->shutdown) {
                        agent_target_free(target);
                        continue;
                }
                agent->targets[kept++] = target;
        }
        agent->target_count = kept;
}

void agent_stoppers_step(struct agent *agent)
{
        struct stopper **link = &agent->stoppers;
        while (*link) {
                struct stopper *s = *link;
                int status = 0;
                bool read = stopper_read(s);
                if (!read || !stopper_reaped(s, &status)) {
                        link = &s->next;
                        continue;
                }
                *link = s->next;
                stopper_done(agent, s, status);
                if (s->pidfd >= 0)
                        (void)close(s->pidfd);
                free(s->text);
                free(s->uuids);
                free(s);
        }
        agent_start_due(agent);
        agent_clients_progress(agent);
}

void agent_stop_unwanted(struct agent *agent)
{
        if (agent->shutting_down)
                return;
        _cleanup_free_ struct agent_target **batch =
            calloc(agent->target_count + 1, sizeof(*batch));
        if (!batch)
                return;
        size_t count = 0;
        for (size_t i = 0; i < agent->target_count; i++) {
                struct agent_target *target = agent->targets[i];
                if (target->remove && target->state != SUPERVISION_STOPPING &&
                    target->state != SUPERVISION_STOPPED)
                        batch[count++] = target;
        }
        if (count == 0)
                return;
        for (size_t i = 0; i < count; i++)
                agent_log(
                    LOG_NOTICE,
                    "%s: NVML no longer lists it (or it is no longer wanted): its MPS control "
                    "daemon is stopped and its folders removed",
                    batch[i]->uuid);
        if (agent_stop_targets(agent, batch, count, false, false, NULL) < 0)
                agent_log(LOG_ERR, "cannot start a stopper: %s", strerror(errno));
}
