/* `mpsmig doctor`, the whole: the daemons' status asked at once (ops_status), then per target
 * in parallel the checks of doctor_checks.c and the probe client of doctor_client.c, and the
 * node's own findings (driver, this shell's environment and open-file limit, the default pipe
 * folder). See doctor.h. */
#define _GNU_SOURCE
#include "ops/doctor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/parallel.h"
#include "driver/mps_answer.h"
#include "driver/mps_control.h"
#include "node/daemon_scan.h"

const char *doctor_severity_string(enum doctor_severity severity)
{
        switch (severity) {
        case DOCTOR_OK:
                return "ok";
        case DOCTOR_WARNING:
                return "warning";
        case DOCTOR_ERROR:
                break;
        }
        return "error";
}

void doctor_add(struct doctor_findings *findings, const char *check, enum doctor_severity severity,
                const char *action, const char *format, ...)
{
        struct doctor_finding *bigger =
            realloc(findings->items, (findings->count + 1) * sizeof(*bigger));
        if (!bigger)
                return;
        findings->items = bigger;
        struct doctor_finding *finding = &findings->items[findings->count++];
        memset(finding, 0, sizeof(*finding));
        finding->check = check;
        finding->severity = severity;
        (void)snprintf(finding->action, sizeof(finding->action), "%s", action ? action : "");
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(finding->what, sizeof(finding->what), format, ap);
        va_end(ap);
}

static void findings_done(struct doctor_findings *findings)
{
        free(findings->items);
        findings->items = NULL;
        findings->count = 0;
}

void doctor_report_done(struct doctor_report *report)
{
        findings_done(&report->node);
        for (size_t i = 0; report->targets && i < report->target_count; i++)
                findings_done(&report->targets[i].findings);
        free(report->targets);
        memset(report, 0, sizeof(*report));
}

static void count(struct doctor_report *report)
{
        memset(report->counts, 0, sizeof(report->counts));
        for (size_t i = 0; i < report->node.count; i++)
                report->counts[report->node.items[i].severity]++;
        for (size_t t = 0; t < report->target_count; t++)
                for (size_t i = 0; i < report->targets[t].findings.count; i++)
                        report->counts[report->targets[t].findings.items[i].severity]++;
}

int doctor_report_no_driver(const struct error *why, struct doctor_report *ret_report)
{
        struct doctor_report report = {0};
        doctor_add(&report.node, "driver", DOCTOR_ERROR,
                   "install the NVIDIA driver (or name libnvidia-ml with MPSMIG_NVML_LIBRARY); "
                   "no CUDA program can use a GPU until it loads",
                   "the NVIDIA driver cannot be used: %s", why->message);
        if (report.node.count == 0)
                return -ENOMEM;
        count(&report);
        *ret_report = report;
        return 0;
}

/* "13.0" from 13000. */
static void cuda_version_text(int version, char *buffer, size_t size)
{
        if (version > 0)
                (void)snprintf(buffer, size, "%d.%d", version / 1000, version % 1000 / 10);
        else
                (void)snprintf(buffer, size, "unknown");
}

/* A pipe folder that a client's variables name: is a live control daemon behind it? A pid file
 * naming a dead process is a stale folder. */
void doctor_check_pipe_folder(const struct ops_context *context, struct doctor_findings *findings,
                              const char *check, const char *pipe_dir, const char *whose)
{
        struct mps_daemon daemon;
        if (ops_find_daemon(context, pipe_dir, -1, &daemon))
                return;
        char pid_file[PATH_MAX + 64];
        (void)snprintf(pid_file, sizeof(pid_file), "%s/%s", pipe_dir, LAYOUT_PID_FILE);
        _cleanup_fclose_ FILE *f = fopen(pid_file, "re");
        long pid = 0;
        bool stale = f && fscanf(f, "%ld", &pid) == 1 && pid > 0;
        if (strcmp(check, "environment") == 0)
                doctor_add(findings, check, DOCTOR_ERROR,
                           "start the daemon (`mpsmig start`), or take the variables from "
                           "`mpsmig env TARGET`",
                           "%s CUDA_MPS_PIPE_DIRECTORY=%s has no live MPS control daemon%s: "
                           "CUDA programs started with it run WITHOUT MPS, silently",
                           whose, pipe_dir, stale ? " (its pid file names a dead process)" : "");
        else if (stale)
                doctor_add(findings, check, DOCTOR_WARNING,
                           "remove the folder's daemon files once nothing uses it, or start a "
                           "daemon there",
                           "%s %s is the stale folder of a dead MPS control daemon (pid %ld): "
                           "programs that use it run without MPS",
                           whose, pipe_dir, pid);
}

static void node_checks(const struct ops_context *context, struct doctor_report *report)
{
        char cuda[16];
        cuda_version_text(context->node->cuda_driver_version, cuda, sizeof(cuda));
        doctor_add(&report->node, "driver", DOCTOR_OK, NULL,
                   "NVIDIA driver %s (CUDA %s) loads: %zu GPU%s, %zu MIG device%s",
                   context->node->driver_version, cuda, context->node->gpu_count,
                   context->node->gpu_count == 1 ? "" : "s", context->node->mig_device_count,
                   context->node->mig_device_count == 1 ? "" : "s");
        struct rlimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < DOCTOR_NOFILE_MIN)
                doctor_add(&report->node, "ulimit", DOCTOR_WARNING,
                           "raise it (`ulimit -n 16384`, LimitNOFILE= in a unit) before "
                           "starting daemons",
                           "this shell's open-file limit (ulimit -n) is %llu: daemons started "
                           "from it hand it to their MPS servers, which fail with SHM errors "
                           "below %d",
                           (unsigned long long)limit.rlim_cur, DOCTOR_NOFILE_MIN);
        const char *pipe = getenv("CUDA_MPS_PIPE_DIRECTORY");
        if (pipe && pipe[0])
                doctor_check_pipe_folder(context, &report->node, "environment", pipe,
                                         "this shell's");
        else
                doctor_check_pipe_folder(context, &report->node, "stale", DAEMON_DEFAULT_PIPE_DIR,
                                         "the default pipe folder");
}

struct doctor_shared {
        struct ops_context *context;
        const struct doctor_options *options;
        const struct status_result *results;
        struct doctor_target *targets;
};

/* The limits the daemon reports: its default thread percentage, and its default pinned limit
 * under key 0 or, when that is unset, under the device's UUID (both keys are enforced). */
static void daemon_limits(struct doctor_job *job)
{
        const struct status_result *status = job->status;
        job->limits = (struct doctor_limits){.source = "daemon", .thread_percentage = 100};
        if (status->state != DAEMON_RUNNING)
                return;
        job->limits.thread_percentage = status->default_thread_percentage;
        struct mps_pinned_limit pinned = status->default_pinned_limit;
        const char *key = "0";
        if (!pinned.set) {
                struct mps_endpoint endpoint = {
                    .program = job->context->program,
                    .device_uuid = job->out->target->uuid,
                    .pipe_dir = job->out->paths.pipe_dir,
                    .log_dir = job->out->paths.log_dir,
                    .timeout_ms = OPS_STATUS_TIMEOUT_MS_DEFAULT,
                };
                struct error ignored = {0};
                if (mps_control_pinned_limit(&endpoint, job->out->target->uuid, &pinned, &ignored) <
                    0)
                        pinned.set = false;
                key = job->out->target->uuid;
        }
        if (pinned.set) {
                job->limits.pinned_set = true;
                job->limits.pinned_bytes = pinned.bytes;
                (void)snprintf(job->limits.pinned_text, sizeof(job->limits.pinned_text), "%s",
                               pinned.text);
                (void)snprintf(job->limits.pinned_key, sizeof(job->limits.pinned_key), "%s", key);
        }
}

/* What the configuration gives the target replaces what its daemon reports, key by key: a
 * daemon that lost its limits (restarted by hand, `set` since) is then caught by the client. A
 * target the configuration cannot be resolved for (a share of memory NVML did not give) keeps
 * the daemon's. */
static void configured_limits(struct doctor_job *job)
{
        const struct config *config = job->context->options.config;
        const struct target *target = job->out->target;
        if (!config || target->kind == TARGET_LOST_GPU || target->kind == TARGET_ORPHAN)
                return;
        struct target_limits limits;
        struct error ignored = {0};
        if (config_limits_for(config, target, &limits, &ignored) < 0)
                return;
        if (limits.threads > 0) {
                job->limits.source = "configuration";
                job->limits.thread_percentage = limits.threads;
        }
        if (limits.pinned_bytes > 0) {
                job->limits.source = "configuration";
                job->limits.pinned_set = true;
                job->limits.pinned_bytes = limits.pinned_bytes;
                mps_pinned_limit_format(limits.pinned_bytes, job->limits.pinned_text,
                                        sizeof(job->limits.pinned_text));
                (void)snprintf(job->limits.pinned_key, sizeof(job->limits.pinned_key), "0");
        }
}

static void doctor_one(void *data, size_t index)
{
        struct doctor_shared *shared = data;
        struct doctor_target *out = &shared->targets[index];
        const struct status_result *status = &shared->results[index];
        out->target = status->target;
        out->paths = status->paths;
        struct doctor_job job = {
            .context = shared->context,
            .options = shared->options,
            .status = status,
            .out = out,
        };
        if (status->pid > 0 && status->state != DAEMON_STALE &&
            process_uid(status->pid, &job.daemon_uid) == 0)
                job.daemon_uid_known = true;
        daemon_limits(&job);
        configured_limits(&job);
        doctor_check_target(&job);
        if (out->target->kind != TARGET_LOST_GPU && out->target->kind != TARGET_ORPHAN)
                doctor_check_client(&job);
}

int ops_doctor(struct ops_context *context, const struct doctor_options *options,
               struct doctor_report *ret_report, struct error *err)
{
        struct doctor_report report = {0};
        _cleanup_free_ struct status_result *results =
            calloc(context->target_count ? context->target_count : 1, sizeof(*results));
        report.targets =
            calloc(context->target_count ? context->target_count : 1, sizeof(*report.targets));
        if (!results || !report.targets) {
                free(report.targets);
                return error_set(err, -ENOMEM, "out of memory");
        }
        report.target_count = context->target_count;
        int r = ops_status(context, results, err);
        if (r < 0) {
                free(report.targets);
                return r;
        }
        node_checks(context, &report);
        struct doctor_shared shared = {
            .context = context,
            .options = options,
            .results = results,
            .targets = report.targets,
        };
        parallel_for(context->target_count, doctor_one, &shared);
        status_results_done(results, context->target_count);

        size_t probed = 0;
        for (size_t i = 0; i < report.target_count; i++)
                if (report.targets[i].probe_ran) {
                        probed++;
                        report.timings_simulated |= report.targets[i].timings_simulated;
                }
        if (!options->probe_path)
                doctor_add(&report.node, "libcuda", DOCTOR_WARNING,
                           "install mpsmig-probe beside mpsmig (or name it with MPSMIG_PROBE)",
                           "mpsmig-probe was not found: no client was launched, so neither a "
                           "bypass of MPS nor the limits a client gets were checked");
        else if (probed)
                doctor_add(&report.node, "libcuda", DOCTOR_OK, NULL,
                           "libcuda loads and runs kernels%s",
                           report.timings_simulated
                               ? " (simgpu's double: its timings are simulated, not measured)"
                               : "");
        count(&report);
        *ret_report = report;
        return 0;
}
