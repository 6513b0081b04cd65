/* `mpsmig bench` (bench.h): batches of probe clients started at once, each told to begin its work
 * at one common CLOCK_MONOTONIC time, their reports read back and reduced to a makespan; through
 * `mpsmig run` for MPS, straight to the device with an empty private pipe folder for
 * time-slicing; then the first client's start-up against a server started lazily or ahead. */
#define _GNU_SOURCE
#include "ops/bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "base/parallel.h"
#include "base/spawn.h"
#include "driver/mps_control.h"
#include "driver/probe_client.h"
#include "ops/limits.h"

extern char **environ;

/* How long bench waits for the daemon to list no server after shutting its servers down. */
#define BENCH_SERVER_GONE_MS 10000
/* How long bench waits for the server it asks to start ahead to be listed by `ps`. */
#define BENCH_SERVER_START_MS 10000
/* After start_server, how long before the first client comes: on the H200 a client 0.5 s later
 * found the server ready (docs/driver-facts-mps-control.md), one at once did not. */
#define BENCH_SERVER_READY_MS 500

/* One batch: what every client of it runs, and what each reported. */
struct batch {
        const struct bench_options *options;
        char *const *argv;
        char *const *envp;
        const char *path;
        struct probe_report_values *values;
        bool *ok;
        char (*errors)[300];
};

static double now_seconds(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void client_one(void *data, size_t index)
{
        struct batch *batch = data;
        struct spawn_options spawn = {
            .path = batch->path,
            .argv = batch->argv,
            .envp = batch->envp,
            .timeout_ms = BENCH_CLIENT_MS,
        };
        struct spawn_result result;
        struct error err = {0};
        char outcome[160];
        batch->ok[index] = false;
        if (spawn_run(&spawn, &result, &err) < 0) {
                (void)snprintf(batch->errors[index], sizeof(batch->errors[index]), "%.299s",
                               err.message);
                return;
        }
        if (!result.exited || result.exit_status != 0) {
                (void)spawn_result_describe(&result, BENCH_CLIENT_MS, outcome, sizeof(outcome));
                (void)snprintf(batch->errors[index], sizeof(batch->errors[index]),
                               "a client %.90s: %.180s", outcome,
                               result.err_size ? result.err : "no message");
        } else if (probe_report_parse(result.out, result.out_size, &batch->values[index], &err) <
                   0) {
                (void)snprintf(batch->errors[index], sizeof(batch->errors[index]), "%.299s",
                               err.message);
        } else {
                batch->ok[index] = true;
        }
        spawn_result_done(&result);
}

/* This process's environment without CUDA_*, then the variables given (NAME=value each). */
static int client_environment(struct env_builder *builder, const char *const *extra)
{
        for (char **e = environ; *e; e++)
                if (strncmp(*e, "CUDA_", 5) != 0 && strchr(*e, '=') &&
                    env_builder_add(builder, *e) < 0)
                        return -ENOMEM;
        for (size_t i = 0; extra && extra[i]; i++)
                if (env_builder_add(builder, extra[i]) < 0)
                        return -ENOMEM;
        return 0;
}

struct bench_run {
        struct ops_context *context;
        const struct bench_options *options;
        struct bench_report *report;
        char sliced_dir[64];  /* an empty private folder: no daemon, so no MPS */
        char visible[128];    /* CUDA_VISIBLE_DEVICES=<UUID> */
        char sliced_pipe[96]; /* CUDA_MPS_PIPE_DIRECTORY=<sliced_dir> */
};

/* Runs `count` clients at once, with the probe arguments given after the probe's path; with
 * `mps` through `mpsmig run` on the target. Returns the clients' reports. */
static int run_batch(struct bench_run *run, unsigned count, bool mps, char *const *probe_args,
                     struct probe_report_values *values, bool *ok, char (*errors)[300])
{
        const struct bench_options *options = run->options;
        const struct ops_context *context = run->context;
        const char *argv[32];
        size_t n = 0;
        if (mps) {
                argv[n++] = options->self_path;
                argv[n++] = "run";
                argv[n++] = "--on";
                argv[n++] = run->report->target->uuid;
                argv[n++] = "--layout";
                argv[n++] = layout_kind_name(context->layout.kind);
                argv[n++] = "--runtime-dir";
                argv[n++] = context->layout.runtime_dir;
                argv[n++] = "--";
        }
        argv[n++] = options->probe_path;
        for (size_t i = 0; probe_args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = probe_args[i];
        argv[n] = NULL;
        const char *sliced[] = {run->visible, run->sliced_pipe, NULL};
        _cleanup_(env_builder_done) struct env_builder builder = ENV_BUILDER_INIT;
        char *const *envp = client_environment(&builder, mps ? NULL : sliced) == 0
                                ? env_builder_array(&builder)
                                : NULL;
        if (!envp)
                return -ENOMEM;
        struct batch batch = {
            .options = options,
            .argv = (char *const *)argv,
            .envp = envp,
            .path = argv[0],
            .values = values,
            .ok = ok,
            .errors = errors,
        };
        parallel_for(count, client_one, &batch);
        return 0;
}

/* N clients doing the work at once, told to begin `margin` seconds from now. */
static int measure_once(struct bench_run *run, unsigned count, bool mps, double margin,
                        struct bench_point *point)
{
        const struct bench_options *options = run->options;
        char kernels[16], spin[32], start[48];
        double start_at = now_seconds() + margin;
        (void)snprintf(kernels, sizeof(kernels), "%u", options->kernels);
        (void)snprintf(spin, sizeof(spin), "%llu", options->spin_cycles);
        (void)snprintf(start, sizeof(start), "%.6f", start_at);
        char *const args[] = {"--json", "--work",     kernels, "--spin",
                              spin,     "--start-at", start,   NULL};
        _cleanup_free_ struct probe_report_values *values = calloc(count, sizeof(*values));
        _cleanup_free_ bool *ok = calloc(count, sizeof(*ok));
        _cleanup_free_ char(*errors)[300] = calloc(count, sizeof(*errors));
        if (!values || !ok || !errors)
                return -ENOMEM;
        int r = run_batch(run, count, mps, args, values, ok, errors);
        if (r < 0)
                return r;
        *point = (struct bench_point){.clients = count};
        double begin = 0, end = 0;
        for (unsigned i = 0; i < count; i++) {
                if (!ok[i] || !values[i].work_done) {
                        if (point->failed++ == 0)
                                (void)snprintf(point->error, sizeof(point->error), "%s",
                                               ok[i] ? "a client did no work" : errors[i]);
                        continue;
                }
                run->report->timings_simulated |= values[i].timings_simulated;
                if (begin == 0 || values[i].work_begin < begin)
                        begin = values[i].work_begin;
                if (values[i].work_end > end)
                        end = values[i].work_end;
                if (values[i].work_late > point->latest_start)
                        point->latest_start = values[i].work_late;
        }
        if (point->failed < count && end > begin) {
                point->makespan = end - begin;
                point->throughput =
                    (double)(count - point->failed) * options->kernels / point->makespan;
        }
        return 0;
}

/* One point of the curve. When a client began its work late (its start-up outlasted the
 * margin: 32 clients on the H200 took 1.8 s more than 2.6 s), the clients did not work together
 * and the point is measured once more with a margin that covers what was seen. */
static int measure(struct bench_run *run, unsigned count, bool mps, struct bench_point *point)
{
        double margin = (BENCH_START_MARGIN_MS + BENCH_START_PER_CLIENT_MS * count) / 1000.0;
        int r = measure_once(run, count, mps, margin, point);
        if (r < 0 || point->failed || point->latest_start <= BENCH_LATE_SHARE * point->makespan)
                return r;
        double late = point->latest_start;
        r = measure_once(run, count, mps, margin + 2 * late, point);
        if (r == 0)
                point->retried = true;
        return r;
}

/* One client's start-up (cuInit to its first kernel done), or -1. */
static double startup_of(struct bench_run *run, bool mps, char *why, size_t why_size)
{
        char *const args[] = {"--json", NULL};
        struct probe_report_values values = {0};
        bool ok = false;
        char errors[1][300] = {""};
        if (run_batch(run, 1, mps, args, &values, &ok, errors) < 0 || !ok ||
            values.startup_seconds < 0) {
                (void)snprintf(why, why_size, "a start-up client failed: %s",
                               ok ? "no start-up time" : errors[0]);
                return -1;
        }
        return values.startup_seconds;
}

/* Shuts down every server of the daemon and waits until it lists none. */
static int servers_down(const struct mps_endpoint *endpoint, char *why, size_t why_size)
{
        struct error err = {0};
        double deadline = now_seconds() + BENCH_SERVER_GONE_MS / 1000.0;
        for (;;) {
                struct mps_overview overview;
                if (mps_control_overview(endpoint, &overview, &err) < 0) {
                        (void)snprintf(why, why_size, "%.399s", err.message);
                        return -EIO;
                }
                size_t servers = overview.server_count, clients = overview.ps.count;
                for (size_t i = 0; i < servers && clients == 0; i++)
                        (void)mps_control_shutdown_server(endpoint, overview.servers[i], &err);
                mps_overview_done(&overview);
                if (clients) {
                        (void)snprintf(why, why_size,
                                       "not measured: the daemon serves %zu client%s of other "
                                       "programs, which shutting its server down would end",
                                       clients, clients == 1 ? "" : "s");
                        return -EBUSY;
                }
                if (servers == 0)
                        return 0;
                if (now_seconds() > deadline) {
                        (void)snprintf(why, why_size,
                                       "not measured: the daemon's server did not exit within "
                                       "%d s of shutdown_server",
                                       BENCH_SERVER_GONE_MS / 1000);
                        return -ETIMEDOUT;
                }
                struct timespec pause = {.tv_nsec = 50 * 1000000L};
                (void)nanosleep(&pause, NULL);
        }
}

static void measure_startup(struct bench_run *run)
{
        struct bench_report *report = run->report;
        struct mps_endpoint endpoint = {
            .program = run->context->program,
            .device_uuid = report->target->uuid,
            .pipe_dir = report->paths.pipe_dir,
            .log_dir = report->paths.log_dir,
        };
        char *why = report->startup_note;
        size_t size = sizeof(report->startup_note);
        struct error err = {0};
        if (servers_down(&endpoint, why, size) < 0)
                return;
        report->startup_lazy = startup_of(run, true, why, size);
        if (report->startup_lazy < 0 || servers_down(&endpoint, why, size) < 0)
                return;
        pid_t server = 0;
        if (limits_server_ahead(&endpoint, (unsigned)getuid(),
                                monotonic_now_ms() + BENCH_SERVER_START_MS, &server, &err) < 0) {
                (void)snprintf(why, size, "not measured: %.380s", err.message);
                return;
        }
        struct timespec settle = {.tv_sec = BENCH_SERVER_READY_MS / 1000,
                                  .tv_nsec = BENCH_SERVER_READY_MS % 1000 * 1000000L};
        (void)nanosleep(&settle, NULL);
        report->startup_ahead = startup_of(run, true, why, size);
        if (report->startup_ahead < 0)
                return;
        report->startup_sliced = startup_of(run, false, why, size);
        if (report->startup_sliced < 0)
                return;
        report->startup_measured = true;
}

static int bench_target(struct bench_run *run, struct error *err)
{
        const struct bench_options *options = run->options;
        struct bench_report *report = run->report;
        struct bench_point solo;
        int r = measure(run, 1, true, &solo);
        if (r < 0)
                return error_set(err, r, "cannot run the clients: %s", strerror(-r));
        if (solo.failed || solo.makespan <= 0)
                return error_set(err, -EIO, "one client alone through %s's daemon failed: %s",
                                 report->target->uuid, solo.error);
        report->solo_seconds = solo.makespan;
        report->solo_rate = options->kernels / solo.makespan;
        for (size_t i = 0; i < options->client_count; i++) {
                unsigned n = options->clients[i];
                r = measure(run, n, false, &report->sliced[i]);
                if (r == 0 && n == 1)
                        report->mps[i] = solo;
                else if (r == 0)
                        r = measure(run, n, true, &report->mps[i]);
                if (r < 0)
                        return error_set(err, r, "cannot run the clients: %s", strerror(-r));
        }
        if (options->startup)
                measure_startup(run);
        else
                (void)snprintf(report->startup_note, sizeof(report->startup_note),
                               "not measured (--no-startup)");
        return 0;
}

int ops_bench(struct ops_context *context, const struct bench_options *options,
              struct bench_report *ret_report, struct error *err)
{
        if (context->target_count == 0)
                return error_set(err, -ENODEV, "no MPS target to benchmark");
        _cleanup_free_ struct status_result *status =
            calloc(context->target_count, sizeof(*status));
        if (!status)
                return error_set(err, -ENOMEM, "out of memory");
        int r = ops_status(context, status, err);
        if (r < 0)
                return r;
        /* The target named, else the first whose daemon runs. */
        size_t chosen = 0;
        while (context->target_count > 1 && chosen + 1 < context->target_count &&
               status[chosen].state != DAEMON_RUNNING)
                chosen++;
        enum daemon_state state = status[chosen].state;
        struct layout_paths paths = status[chosen].paths;
        status_results_done(status, context->target_count);
        const struct target *target = &context->targets[chosen];
        const char *name = target->uuid;
        if (state != DAEMON_RUNNING)
                return error_set(err, -ESRCH,
                                 context->target_count > 1
                                     ? "no target's MPS control daemon runs (%s is %s): `mpsmig "
                                       "start %s` first"
                                     : "the MPS control daemon of %s is %s: `mpsmig start %s` "
                                       "first",
                                 name, daemon_state_string(state), name);
        struct bench_report report = {
            .target = target,
            .paths = paths,
            .kernels = options->kernels,
            .spin_cycles = options->spin_cycles,
            .count = options->client_count,
        };
        report.mps = calloc(options->client_count ? options->client_count : 1, sizeof(*report.mps));
        report.sliced =
            calloc(options->client_count ? options->client_count : 1, sizeof(*report.sliced));
        if (!report.mps || !report.sliced) {
                bench_report_done(&report);
                return error_set(err, -ENOMEM, "out of memory");
        }
        struct bench_run run = {.context = context, .options = options, .report = &report};
        (void)snprintf(run.sliced_dir, sizeof(run.sliced_dir), "/tmp/mpsmig-bench.XXXXXX");
        if (!mkdtemp(run.sliced_dir)) {
                r = error_set(err, -errno,
                              "cannot make a private folder for the time-sliced clients: %s",
                              strerror(errno));
                bench_report_done(&report);
                return r;
        }
        (void)snprintf(run.visible, sizeof(run.visible), "CUDA_VISIBLE_DEVICES=%s", target->uuid);
        (void)snprintf(run.sliced_pipe, sizeof(run.sliced_pipe), "CUDA_MPS_PIPE_DIRECTORY=%s",
                       run.sliced_dir);
        r = bench_target(&run, err);
        (void)rmdir(run.sliced_dir);
        if (r < 0) {
                bench_report_done(&report);
                return r;
        }
        *ret_report = report;
        return 0;
}

void bench_report_done(struct bench_report *report)
{
        free(report->mps);
        free(report->sliced);
        report->mps = report->sliced = NULL;
        report->count = 0;
}
