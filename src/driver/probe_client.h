/* mpsmig-probe seen from mpsmig: finding the program, and reading its JSON report (docs/probe.md)
 * into values. `mpsmig doctor` runs it to prove a client goes through a daemon with the limits
 * the daemon should impose; `mpsmig bench` runs it to time work with and without MPS. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

#define PROBE_PROGRAM      "mpsmig-probe"
#define PROBE_ENV_OVERRIDE "MPSMIG_PROBE" /* absolute path of the probe */

/* The probe's exit statuses (docs/probe.md). */
#define PROBE_EXIT_OK            0
#define PROBE_EXIT_FAILED        1
#define PROBE_EXIT_USAGE         2
#define PROBE_EXIT_ALLOC_REFUSED 3

/* Finds mpsmig-probe: $MPSMIG_PROBE (absolute, executable), else beside the running program
 * (both are installed into one folder), else the first absolute $PATH entry that has it. -ENOENT
 * with a message naming the three. *ret_path is malloc'd. */
int probe_find(char **ret_path, struct error *err);

/* What one probe report says about its first device and its work. */
struct probe_report_values {
        pid_t pid;
        int device_count; /* -1: not read */
        bool has_device;
        char uuid[96];
        char name[256];
        int sm_count;
        unsigned long long total_memory;
        bool kernel_ok;
        bool alloc_tried;
        unsigned long long alloc_bytes;
        char alloc_result[64]; /* "ok" or a CUresult name */
        bool timings_simulated;
        double startup_seconds; /* -1: not measured */
        bool work_done;
        unsigned work_kernels;
        double work_seconds, work_begin, work_end, work_late;
        char status[16]; /* "ok", "failed", "alloc_refused" */
        char error[512]; /* the probe's sentence when something failed; "" otherwise */
};

/* Parses the one JSON object `mpsmig-probe --json` prints. -EBADMSG with a message naming the
 * field when it is not a probe report. */
int probe_report_parse(const char *text, size_t size, struct probe_report_values *ret,
                       struct error *err);
