/* `mpsmig doctor`: what makes MPS silently not work, found per target and for the node, each
 * finding with a severity, what was seen and what to do. Nothing here prints; the daemons are
 * asked concurrently (ops_status, then one probe client per target) and no lock is held while one
 * is asked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "driver/mps_answer.h"
#include "node/layout.h"
#include "ops/ops.h"

/* Thresholds, with their sources in docs/driver-facts-mps-control.md. */
#define DOCTOR_NOFILE_MIN 16384         /* below this, MPS servers fail with SHM errors */
#define DOCTOR_PROBE_HOLD "2"           /* seconds the probe client stays attached to be listed */
#define DOCTOR_PROBE_MS   60000         /* the probe client's deadline */
#define DOCTOR_POLL_MS    100           /* between two looks at the daemon's client list */
#define DOCTOR_LOG_MAX    (1024 * 1024) /* the end of a log that is read */

enum doctor_severity { DOCTOR_OK, DOCTOR_WARNING, DOCTOR_ERROR };

struct doctor_finding {
        const char *check; /* a constant word: "driver", "daemon", "client", ... (docs/cli.md) */
        enum doctor_severity severity;
        char what[640];   /* what was seen */
        char action[400]; /* what to do; "" when nothing */
};

struct doctor_findings {
        struct doctor_finding *items;
        size_t count;
};

/* The limits a target's daemon should impose: what the configuration gives the target (source
 * "configuration"), key by key, else what the daemon itself reports (source "daemon"). */
struct doctor_limits {
        const char *source;
        double thread_percentage; /* 100: none */
        bool pinned_set;
        unsigned long long pinned_bytes;
        char pinned_text[32];
        char pinned_key[96]; /* the key it was read under: "0" or the device's UUID */
};

struct doctor_target {
        const struct target *target;
        struct layout_paths paths;
        struct doctor_findings findings;
        bool probe_ran;
        bool timings_simulated; /* the probe ran on simgpu's libcuda */
};

struct doctor_report {
        struct doctor_findings node; /* driver, environment, ulimit of this shell, libcuda */
        struct doctor_target *targets;
        size_t target_count;
        size_t counts[3]; /* findings by severity, node and targets together */
        bool timings_simulated;
};

struct doctor_options {
        const char *probe_path; /* from probe_find(); NULL: no client is launched (a finding) */
};

/* Looks at every target of the context (ops_status first, then the target checks and a probe
 * client each, in parallel) and at the node. Fills *ret_report (free it with
 * doctor_report_done); a negative errno only when nothing could be looked at. */
int ops_doctor(struct ops_context *context, const struct doctor_options *options,
               struct doctor_report *ret_report, struct error *err);

/* The report of a node whose driver could not be used: one error finding, "driver". */
int doctor_report_no_driver(const struct error *why, struct doctor_report *ret_report);

void doctor_report_done(struct doctor_report *report);

const char *doctor_severity_string(enum doctor_severity severity);

/* Appends a finding; out of memory drops it and remembers nothing (the caller cannot do better). */
void doctor_add(struct doctor_findings *findings, const char *check, enum doctor_severity severity,
                const char *action, const char *format, ...) __attribute__((format(printf, 5, 6)));

/* ---- between the doctor's files ---- */

/* What the target checks share: the status of its daemon and what they learn on the way. */
struct doctor_job {
        struct ops_context *context;
        const struct doctor_options *options;
        const struct status_result *status;
        struct doctor_target *out;
        struct doctor_limits limits;
        uid_t daemon_uid;
        bool daemon_uid_known;
};

/* A pipe folder that clients are pointed at (`whose` begins the sentence: "this shell's"): when
 * no live control daemon is behind it, an error (check "environment") or, for a folder with a
 * dead daemon's pid file, a warning. Nothing when a daemon serves it. */
void doctor_check_pipe_folder(const struct ops_context *context, struct doctor_findings *findings,
                              const char *check, const char *pipe_dir, const char *whose);

/* doctor_checks.c: compute mode, daemon, other daemons, folders and their parents, stale folders
 * of the other layout, the daemon's open-file limit, its logs (which may add a wrong pinned key).
 */
void doctor_check_target(struct doctor_job *job);

/* doctor_client.c: launches the probe with the target's client variables, watches the daemon's
 * client list meanwhile, and judges membership, SM count and pinned limit. */
void doctor_check_client(struct doctor_job *job);
