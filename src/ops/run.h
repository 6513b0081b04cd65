/* Putting a program on an instance: `mpsmig run` and `mpsmig env` name a target (or let `auto`
 * choose one, race-safely), prove its MPS daemon runs and answers, and give the program the
 * environment of a client of that daemon. Nothing here prints; run_exec only returns on failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "node/layout.h"
#include "ops/env.h"
#include "ops/ops.h"

/* A daemon that has not answered a client-mode query in this long is "not answering": the real
 * one answers in milliseconds, the margin is for a node busy starting many programs at once. */
#define RUN_QUERY_TIMEOUT_MS 5000
/* How long a run waits for the placement lock (held by the runs before it, each for the few
 * milliseconds its ledger read, choice and write take) before placing without it. */
#define RUN_LOCK_TIMEOUT_MS 60000
/* The placement lock, in the ledger folder. */
#define PLACEMENT_LOCK_NAME "lock"

struct run_request {
        enum layout_kind layout_kind;
        const char *runtime_dir; /* --runtime-dir; NULL: $MPSMIG_RUNTIME_DIR or the default */
        const char *on;          /* a target name (target_name.h) or "auto"; NULL: "auto" */
        const char *profile;     /* --profile: only instances of this profile; NULL: any */
        struct client_limits limits;
        bool single;      /* `env`: `on` must name exactly one target, no `auto` */
        pid_t record_pid; /* `run`: the pid to record in the placement ledger; 0: none */
};

/* Why run_prepare failed, for the exit status (see enum ops_failure). */
enum run_failure {
        RUN_FAILURE_NONE,
        RUN_FAILURE_USAGE,   /* a target that names nothing, a bad folder: exit 2 */
        RUN_FAILURE_DRIVER,  /* no usable driver or control program: exit 2 */
        RUN_FAILURE_REFUSED, /* no daemon to serve the program (not running, stale, hung): 1 */
        RUN_FAILURE_OTHER,   /* exit 1 */
};

/* What was decided. */
struct run_plan {
        struct ops_context context;
        const struct target *target; /* the chosen target (points into context.node) */
        char short_name[32];         /* "0:1:0" */
        struct layout_paths paths;
        pid_t daemon_pid;
        size_t candidate_count;    /* targets whose daemon answered and could be chosen */
        size_t load;               /* the chosen target's clients before this run */
        bool recorded;             /* record_pid is in the chosen target's ledger */
        struct error ledger_error; /* when a ledger could not be used: why (placement then
                                    * counted only the daemons' clients, not race-safe) */
        struct client_environment environment;
};

/*
 * Resolves `request->on`, asks the daemons of the candidates (in parallel, RUN_QUERY_TIMEOUT_MS,
 * without any lock) and keeps those that answer: one named target whose daemon does not answer is
 * refused with a sentence naming it, its state and `mpsmig start <name>`; a refusal makes no
 * folder. With `record_pid`, then, under the placement lock of the ledger folder (only for the
 * ledger's read, choice and write): with several candidates (auto, a profile) it chooses with
 * placement_choose() and records the pid; with one it records the pid (so that later `auto` runs
 * count it). Then builds the client environment. Free the plan with run_plan_done().
 */
int run_prepare(const struct run_request *request, struct run_plan *ret_plan,
                enum run_failure *ret_failure, struct error *err);
void run_plan_done(struct run_plan *plan);

/* The targets `request->on` and `request->profile` name in `node` (run_prepare's first step, and
 * the agent's): `auto` for all of them unless request->single, which wants exactly one. A name
 * that names nothing, or several for `env`, is an error for the user (-ENOENT, -EINVAL). The
 * array is malloc'd; its entries point into `node`. */
int run_resolve(const struct node *node, const struct run_request *request,
                struct target **ret_targets, size_t *ret_count, struct error *err);

/* Takes `pid` out of the placement ledgers that a run_prepare() with the same layout and runtime
 * folder recorded it in (a program that ended before its start time could tell it from a later
 * process with its pid: the Slurm plugin's task_exit), under the placement lock. Returns how
 * many entries named it (0: none). */
int run_release(const struct run_request *request, pid_t pid, struct error *err);

/* The private ledger folder of a user whose runtime folder belongs to another user:
 * $XDG_RUNTIME_DIR/mpsmig/placements when that is ours, else /tmp/mpsmig-<uid>/placements (the
 * /tmp folder made 0700, refused when another user made it). Made when missing; its path in
 * `buffer`, an open fd in *ret_fd. */
int run_ledger_folder(char *buffer, size_t size, int *ret_fd, struct error *err);

/* Finds the program as execvp would: a name with a '/' as it is, else the first executable
 * regular file of that name in $PATH (an empty entry is the current folder; no $PATH:
 * /bin:/usr/bin). -ENOENT when there is none, -EACCES when only non-executable ones exist.
 * *ret_path is malloc'd. */
int run_find_program(const char *name, char **ret_path, struct error *err);

/* Replaces this process with `path` (argv as given), its environment the current one with the
 * plan's variables set over it. Returns only on failure: a negative errno and `err`. */
int run_exec(const struct run_plan *plan, const char *path, char *const *argv, struct error *err);
