/* The doctor's client: mpsmig-probe launched with the variables `mpsmig env` gives a client of the
 * target (and with --alloc above the pinned limit the daemon should impose), while this thread
 * looks at the daemon's `ps` until the probe has exited. Then: did the probe's pid show under a
 * server (else "client bypassed MPS"), does the SM count it saw fit the thread percentage, was
 * the allocation above the limit refused. */
#define _GNU_SOURCE
#include "ops/doctor.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/spawn.h"
#include "driver/mps_control.h"
#include "driver/probe_client.h"
#include "ops/env.h"

extern char **environ;

#define SEEN_MAX 64

struct probe_run {
        const struct spawn_options *spawn;
        struct spawn_result result;
        struct error error;
        int r;
        atomic_bool done;
};

static void *probe_thread(void *data)
{
        struct probe_run *run = data;
        run->r = spawn_run(run->spawn, &run->result, &run->error);
        atomic_store(&run->done, true);
        return NULL;
}

/* This process's environment without CUDA_* (a caller's own MPS variables or limits must not
 * decide what the probe sees), then the client's variables. */
static int probe_environment(const struct client_environment *client, struct env_builder *builder)
{
        for (char **e = environ; *e; e++) {
                if (strncmp(*e, "CUDA_", 5) == 0 || !strchr(*e, '='))
                        continue;
                int r = env_builder_add(builder, *e);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < client->count; i++) {
                int r =
                    env_builder_set(builder, client->variables[i].name, client->variables[i].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool is_probe_command(const char *command)
{
        const char *base = command ? strrchr(command, '/') : NULL;
        base = base ? base + 1 : command;
        return base && strncmp(base, PROBE_PROGRAM, strlen(PROBE_PROGRAM)) == 0;
}

/* Looks at `ps` until the probe has exited, recording the probe clients it lists. */
static void watch_clients(const struct mps_endpoint *endpoint, struct probe_run *run,
                          pid_t seen[SEEN_MAX], pid_t servers[SEEN_MAX], size_t *seen_count)
{
        while (!atomic_load(&run->done)) {
                struct mps_ps ps;
                struct error ignored = {0};
                if (mps_control_ps(endpoint, &ps, &ignored) == 0) {
                        for (size_t i = 0; i < ps.count; i++) {
                                if (!is_probe_command(ps.rows[i].command))
                                        continue;
                                bool known = false;
                                for (size_t k = 0; k < *seen_count; k++)
                                        known |= seen[k] == ps.rows[i].pid;
                                if (!known && *seen_count < SEEN_MAX) {
                                        seen[*seen_count] = ps.rows[i].pid;
                                        servers[(*seen_count)++] = ps.rows[i].server;
                                }
                        }
                        mps_ps_done(&ps);
                }
                struct timespec pause = {.tv_nsec = DOCTOR_POLL_MS * 1000000L};
                (void)nanosleep(&pause, NULL);
        }
}

/* The most SMs a client may see under `percentage` of `full`: whole TPCs of the share, but at
 * least the H100's floor of 8 of 132 SMs scaled to the device (docs/driver-facts-mps-control.md:
 * 132 SMs at 100 %, 52 at 40 %, 32 at 25 %, 8 at 1 %), plus one TPC of margin. */
static unsigned most_sms(unsigned full, double percentage)
{
        unsigned share = (unsigned)((double)full * percentage / 100.0 + 0.999999);
        unsigned floor_sms = 2 * (full * 8 / (132 * 2));
        if (share < floor_sms)
                share = floor_sms;
        share += 2;
        return share < full ? share : full;
}

static unsigned full_sms(const struct target *target)
{
        return target->mig_device ? target->mig_device->sm_count : target->gpu->sm_count;
}

static unsigned long long device_memory(const struct target *target)
{
        return target->mig_device ? target->mig_device->memory_bytes : target->gpu->memory_bytes;
}

static void judge_threads(struct doctor_job *job, const struct probe_report_values *values)
{
        struct doctor_findings *f = &job->out->findings;
        const struct doctor_limits *limits = &job->limits;
        unsigned full = full_sms(job->out->target);
        if (full == 0 || !values->has_device)
                return;
        unsigned seen = (unsigned)values->sm_count,
                 most = most_sms(full, limits->thread_percentage);
        if (limits->thread_percentage >= 100 && seen < full)
                doctor_add(f, "threads", DOCTOR_WARNING,
                           "a server keeps the percentage it started with: shut the idle server "
                           "down (`shutdown_server PID`) or set it per server",
                           "the client saw %u of %u SMs though the %s's default active thread "
                           "percentage is 100: its server runs under a lower one",
                           seen, full, limits->source);
        else if (limits->thread_percentage < 100 && seen > most)
                doctor_add(f, "threads", DOCTOR_ERROR,
                           "servers started before the default was set keep theirs: shut the "
                           "idle server down (`shutdown_server PID`) so that the next one "
                           "starts with it",
                           "the active thread percentage is not applied: the client saw %u of "
                           "%u SMs, the %s's %.4g %% allows at most %u",
                           seen, full, limits->source, limits->thread_percentage, most);
        else
                doctor_add(f, "threads", DOCTOR_OK, NULL,
                           "the client saw %u of %u SMs, as an active thread percentage of %.4g "
                           "(%s) gives",
                           seen, full, limits->thread_percentage, limits->source);
}

/* An allocation sure to be above the limit: the read-back is rounded down to whole GiB
 * (1500M reads back as 1G), so a whole GiB more, or 1 MiB for limits below 1 GiB. */
static unsigned long long above_limit(const struct doctor_limits *limits)
{
        const unsigned long long gib = 1ULL << 30, mib = 1ULL << 20;
        return limits->pinned_bytes + (limits->pinned_bytes >= gib ? gib : mib);
}

static void judge_pinned(struct doctor_job *job, const struct probe_report_values *values,
                         unsigned long long tried)
{
        struct doctor_findings *f = &job->out->findings;
        const struct doctor_limits *limits = &job->limits;
        if (!limits->pinned_set) {
                doctor_add(f, "pinned-limit", DOCTOR_OK, NULL,
                           "no default pinned memory limit is set (under 0 or the device's "
                           "UUID)");
                return;
        }
        if (tried == 0) {
                doctor_add(f, "pinned-limit", DOCTOR_OK, NULL,
                           "the pinned limit %s (%s, key %s) is not below the device's memory: "
                           "nothing to try",
                           limits->pinned_text, limits->source, limits->pinned_key);
                return;
        }
        if (values->alloc_tried && strcmp(values->alloc_result, "CUDA_ERROR_OUT_OF_MEMORY") == 0)
                doctor_add(f, "pinned-limit", DOCTOR_OK, NULL,
                           "a client's allocation of %llu MiB, above the pinned limit %s (%s, key "
                           "%s), was refused: the limit holds",
                           tried >> 20, limits->pinned_text, limits->source, limits->pinned_key);
        else if (values->alloc_tried && strcmp(values->alloc_result, "ok") == 0)
                doctor_add(f, "pinned-limit", DOCTOR_ERROR,
                           "a server keeps the limits it started with: shut the idle server down "
                           "(`shutdown_server PID`) so that the next one starts with the limit",
                           "the pinned memory limit %s (%s, key %s) is not enforced: a client "
                           "allocated %llu MiB",
                           limits->pinned_text, limits->source, limits->pinned_key, tried >> 20);
}

static void judge(struct doctor_job *job, const struct probe_run *run, const pid_t seen[SEEN_MAX],
                  const pid_t servers[SEEN_MAX], size_t seen_count, unsigned long long tried)
{
        struct doctor_findings *f = &job->out->findings;
        const char *pipe_dir = job->out->paths.pipe_dir;
        char outcome[160];
        if (run->r < 0) {
                doctor_add(f, "client", DOCTOR_ERROR, NULL, "the probe client could not run: %s",
                           run->error.message);
                return;
        }
        const struct spawn_result *res = &run->result;
        if (!res->exited || res->exit_status == PROBE_EXIT_FAILED ||
            res->exit_status == PROBE_EXIT_USAGE) {
                (void)spawn_result_describe(res, DOCTOR_PROBE_MS, outcome, sizeof(outcome));
                doctor_add(f, "client", DOCTOR_ERROR,
                           "run `mpsmig-probe` with the variables of `mpsmig env` to see it fail",
                           "a CUDA client given this target's variables fails (the probe %s): "
                           "%.300s",
                           outcome, res->err_size ? res->err : "no message");
                return;
        }
        struct probe_report_values values;
        struct error parse_error = {0};
        if (probe_report_parse(res->out, res->out_size, &values, &parse_error) < 0) {
                doctor_add(f, "client", DOCTOR_ERROR, NULL, "%s", parse_error.message);
                return;
        }
        job->out->probe_ran = true;
        job->out->timings_simulated = values.timings_simulated;
        if (job->status->state != DAEMON_RUNNING) {
                doctor_add(f, "client", DOCTOR_ERROR, "start the daemon: `mpsmig start`",
                           "client bypassed MPS: a probe client (pid %d) given this target's "
                           "variables ran WITHOUT MPS, exit status 0 and no warning, as the driver "
                           "does when no live daemon is behind CUDA_MPS_PIPE_DIRECTORY=%s",
                           (int)values.pid, pipe_dir);
                return;
        }
        size_t at = seen_count;
        for (size_t i = 0; i < seen_count; i++)
                if (seen[i] == values.pid)
                        at = i;
        if (at == seen_count) {
                doctor_add(f, "client", DOCTOR_ERROR,
                           "look for a second daemon or a wrong CUDA_VISIBLE_DEVICES; `mpsmig "
                           "status` shows the daemon's clients",
                           "client bypassed MPS: a probe client (pid %d) given this target's "
                           "variables ran for %s s but never showed in the daemon's client list",
                           (int)values.pid, DOCTOR_PROBE_HOLD);
                return;
        }
        doctor_add(f, "client", DOCTOR_OK, NULL,
                   "a probe client (pid %d) went through the daemon: listed under server %d, "
                   "start-up %.3f s%s",
                   (int)values.pid, (int)servers[at], values.startup_seconds,
                   values.timings_simulated ? " (simulated)" : "");
        judge_threads(job, &values);
        judge_pinned(job, &values, tried);
}

void doctor_check_client(struct doctor_job *job)
{
        struct doctor_findings *f = &job->out->findings;
        const char *probe = job->options->probe_path;
        if (!probe)
                return;
        struct client_limits no_limits = CLIENT_LIMITS_INIT;
        struct client_environment client;
        struct error err = {0};
        if (client_environment_build(job->out->target, job->out->paths.pipe_dir,
                                     job->out->paths.log_dir, &no_limits, &client, &err) < 0) {
                doctor_add(f, "client", DOCTOR_ERROR, NULL, "%s", err.message);
                return;
        }
        _cleanup_(env_builder_done) struct env_builder builder = ENV_BUILDER_INIT;
        char *const *envp =
            probe_environment(&client, &builder) == 0 ? env_builder_array(&builder) : NULL;
        if (!envp) {
                doctor_add(f, "client", DOCTOR_ERROR, NULL, "out of memory");
                return;
        }
        bool running = job->status->state == DAEMON_RUNNING;
        unsigned long long tried = 0;
        char alloc[32];
        if (running && job->limits.pinned_set &&
            above_limit(&job->limits) < device_memory(job->out->target)) {
                tried = above_limit(&job->limits);
                (void)snprintf(alloc, sizeof(alloc), "%llu", tried);
        }
        const char *argv[] = {probe,
                              "--json",
                              "--hold",
                              running ? DOCTOR_PROBE_HOLD : "0",
                              tried ? "--alloc" : NULL,
                              tried ? alloc : NULL,
                              NULL};
        struct spawn_options spawn = {
            .path = probe,
            .argv = (char *const *)argv,
            .envp = envp,
            .timeout_ms = DOCTOR_PROBE_MS,
        };
        struct probe_run run = {.spawn = &spawn};
        atomic_init(&run.done, false);
        pthread_t thread;
        if (pthread_create(&thread, NULL, probe_thread, &run) != 0) {
                doctor_add(f, "client", DOCTOR_ERROR, NULL, "cannot start a thread");
                return;
        }
        pid_t seen[SEEN_MAX], servers[SEEN_MAX];
        size_t seen_count = 0;
        struct mps_endpoint endpoint = {
            .program = job->context->program,
            .device_uuid = job->out->target->uuid,
            .pipe_dir = job->out->paths.pipe_dir,
            .log_dir = job->out->paths.log_dir,
            .timeout_ms = OPS_STATUS_TIMEOUT_MS_DEFAULT,
        };
        if (running)
                watch_clients(&endpoint, &run, seen, servers, &seen_count);
        (void)pthread_join(thread, NULL);
        judge(job, &run, seen, servers, seen_count, tried);
        if (run.r == 0)
                spawn_result_done(&run.result);
}
