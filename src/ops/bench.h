/* `mpsmig bench`: what MPS gains on one target. N probe clients each do the same fixed amount of
 * short-kernel work at once, through `mpsmig run` on the target's daemon and again with no daemon
 * (time-sliced), and one client alone; and the first client's start-up with a lazily started
 * server against one started ahead. Nothing here prints; the clients are child processes run
 * through base/spawn.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "node/layout.h"
#include "ops/ops.h"

#define BENCH_CLIENTS_MAX     48 /* MPS takes 48 clients per device (docs/driver-facts.md) */
#define BENCH_KERNELS_DEFAULT 400
#define BENCH_SPIN_DEFAULT    1000000ULL /* cycles: 400 kernels take about 0.2 s on an H100 */
#define BENCH_CLIENT_MS       600000     /* one client's deadline */
/* Clients start their work together at a CLOCK_MONOTONIC time this far ahead, so that their
 * start-up (process, `mpsmig run`, cuInit) is not in the figures: a second, and 50 ms a client. */
#define BENCH_START_MARGIN_MS     1000
#define BENCH_START_PER_CLIENT_MS 50
/* A client that began later than this share of the makespan after the common start makes the
 * point measured again, once, with a longer margin. */
#define BENCH_LATE_SHARE 0.02

struct bench_options {
        const char *self_path;  /* this mpsmig, run as `mpsmig run --on UUID -- probe ...` */
        const char *probe_path; /* mpsmig-probe */
        unsigned kernels;
        unsigned long long spin_cycles;
        const unsigned *clients; /* the N to measure, each 1..BENCH_CLIENTS_MAX */
        size_t client_count;
        bool startup; /* measure the first client's start-up, lazy server against one ahead */
};

/* N clients at once, with or without MPS. Rates are kernels a second. */
struct bench_point {
        unsigned clients;
        size_t failed;       /* clients that did not report their work */
        double makespan;     /* from the first client's first launch to the last one's end */
        double throughput;   /* clients x kernels / makespan */
        double latest_start; /* the most a client began after the common start time */
        bool retried;        /* measured again with a longer margin, a client having been late */
        char error[400];     /* the first failed client's message */
};

struct bench_report {
        const struct target *target;
        struct layout_paths paths;
        unsigned kernels;
        unsigned long long spin_cycles;
        bool timings_simulated;
        double solo_seconds; /* one client alone, through MPS */
        double solo_rate;
        struct bench_point *mps, *sliced; /* one each per options.clients, in that order */
        size_t count;
        bool startup_measured;
        double startup_lazy;    /* cuInit to first kernel done, first client, no server yet */
        double startup_ahead;   /* the same after start_server, once the server is ready */
        double startup_sliced;  /* the same without MPS */
        char startup_note[400]; /* why start-up was not measured, when it was not */
};

/* Runs the benchmark on the one target of the context (its daemon must run and answer). Fills
 * *ret_report (free it with bench_report_done); a negative errno and `err` when it cannot run at
 * all (no daemon, a client that cannot be started). A failed client is reported, not an error. */
int ops_bench(struct ops_context *context, const struct bench_options *options,
              struct bench_report *ret_report, struct error *err);
void bench_report_done(struct bench_report *report);

/* Writes throughput against N, with MPS and time-sliced, and N times one client alone, as an SVG
 * at `path`, through gnuplot (Debian's gnuplot-nox: docs/benchmarks.md says why). Without
 * gnuplot it writes the gnuplot script to `path`.gp instead and sets *ret_script_only. The SVG is
 * written beside `path` and renamed over it, so that a failure leaves no half-written file. */
int bench_plot(const struct bench_report *report, const char *path, bool *ret_script_only,
               struct error *err);
