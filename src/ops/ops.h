/* The MPS lifecycle on a node: start, stop and status of one control daemon per target, each
 * target worked on in parallel, start and stop serialised per node by the node lock. The cli
 * prints what these return; nothing here prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "driver/mps_answer.h"
#include "driver/mps_control.h"
#include "node/daemon_scan.h"
#include "node/layout.h"
#include "node/node.h"
#include "ops/config.h"

#define OPS_START_TIMEOUT_MS_DEFAULT  10000 /* until a new daemon answers */
#define OPS_STOP_TIMEOUT_MS_DEFAULT   10000 /* `quit -t`: how long clients get */
#define OPS_STATUS_TIMEOUT_MS_DEFAULT 5000  /* a daemon slower than this is "not answering" */
#define OPS_FORCE_QUIT_SECONDS        1     /* stop --force: `quit -t 1` */
#define OPS_FORCE_WAIT_MS             2000  /* stop --force: then this long before escalating */
#define OPS_ESCALATION_WAIT_MS        2000  /* after each escalation step */
#define OPS_NODE_WIDE_QUERY_MS        1000  /* device_query of a daemon without a device */

/* What the user asked for, shared by start, stop and status. */
struct ops_options {
        enum layout_kind layout_kind;
        const char *runtime_dir; /* --runtime-dir; NULL: $MPSMIG_RUNTIME_DIR or the default */
        bool whole_gpus;
        int timeout_ms;     /* 0: the verb's default */
        bool force;         /* stop only */
        char *const *names; /* TARGET arguments (target_name.h); none: every target */
        size_t name_count;
        int lock_timeout_ms; /* 0: NODE_LOCK_TIMEOUT_MS_DEFAULT */
        /* status and stop: also the devices NVML no longer lists that still have folders of the
         * layout (TARGET_ORPHAN), after NVML's targets; a TARGET that is such a device's whole
         * UUID names it. */
        bool orphans;
        /* The configuration file (ops/config.h); NULL: none. Without TARGET names its include
         * and exclude choose the targets; start and set apply its limits. */
        const struct config *config;
        /* start, set, config check: a UUID or GPU index that the file names must be on the node
         * (stop and status serve a node whose layout changed). */
        bool config_strict;
};

/* Why ops_context_open failed, for the exit status. */
enum ops_failure {
        OPS_FAILURE_NONE,
        OPS_FAILURE_USAGE,  /* a bad runtime folder, a TARGET that names nothing: exit 2 */
        OPS_FAILURE_DRIVER, /* no usable NVIDIA driver: exit 2 */
        OPS_FAILURE_OTHER,  /* exit 1 */
};

/* Everything a verb works from: the layout, the node and its chosen targets, the control
 * program, and the control daemons running on the node when the verb began. */
struct ops_context {
        struct ops_options options;
        struct layout layout;
        struct node *node;
        struct target *targets;
        size_t target_count;
        char *program; /* the control program's absolute path */
        struct mps_daemon *daemons;
        size_t daemon_count;
        char (*orphan_uuids)[NODE_UUID_MAX]; /* what TARGET_ORPHAN targets point into */
        size_t orphan_count;
        /* One per target, what the configuration gives it (ops_context_limits); NULL until then. */
        struct target_limits *limits;
        /* The configuration's `user =` names another user than ours: start runs the daemons as
         * that user (and layout.handed gives their folders to it). */
        bool daemon_user;
        struct spawn_credentials daemon_credentials;
};

/* Fills the context: layout, NVML discovery, TARGET resolution, control program. The daemon scan
 * is left to the verb (start and stop scan under the node lock). */
int ops_context_open(const struct ops_options *options, struct ops_context *ret_context,
                     enum ops_failure *ret_failure, struct error *err);

/* The first step of ops_context_open alone: the options and the layout (a failure is a usage
 * error), and the daemons' user from the configuration. `start` takes the rest in its own order,
 * reading NVML while it starts daemons. */
int ops_context_prepare(const struct ops_options *options, struct ops_context *ret_context,
                        struct error *err);

/* Loads NVML, reads the node (lost GPUs kept, marked: node_discover_with_lost) and unloads NVML
 * again. *ret_failure says DRIVER (no usable NVML) or OTHER (a GPU that did not answer). */
int ops_read_node(struct node **ret_node, enum ops_failure *ret_failure, struct error *err);

/* Makes `node` the context's node (the context frees it, on failure too) and resolves the
 * options' TARGET names in it into context->targets. */
int ops_context_resolve(struct ops_context *context, struct node *node, struct error *err);
void ops_context_done(struct ops_context *context);

/* ops_context_resolve's work when options.orphans is set (orphans.c): the orphans of the layout
 * are found in its folders (default layout: marked <UUID> folders of the runtime folder; seed
 * layout: /tmp/mps_<UUID> of devices the node cache lists), NVML's targets resolved from the
 * other names, and the orphans appended (all of them without names). Returns the target count. */
int ops_resolve_with_orphans(struct ops_context *context, struct error *err);

/* Keeps of context->targets those the configuration's include and exclude choose, when no
 * TARGET was named (targets named on the command line win over the file). */
int ops_context_select(struct ops_context *context, struct error *err);

/* Fills context->limits from the configuration, after checking its sections against the node
 * (config_check_node): -EINVAL with FILE:LINE for a section that names nothing here or a share of
 * memory NVML did not give. Without a configuration every target gets no limits. */
int ops_context_limits(struct ops_context *context, struct error *err);

/* Appends one TARGET_LOST_GPU per lost GPU when no TARGET was named (status shows them). 0 or
 * -ENOMEM. */
int ops_context_add_lost_gpus(struct ops_context *context);

/* Scans /proc for control daemons into context->daemons (replacing an earlier scan). */
int ops_context_scan(struct ops_context *context, struct error *err);

/* Takes the node lock in the runtime folder (made if missing), then scans /proc, so that what
 * start and stop decide from the scan holds until they let go. The lock is held while *ret_lock_fd
 * stays open; *ret_runtime_fd is the runtime folder. */
int ops_context_lock(struct ops_context *context, int *ret_runtime_fd, int *ret_lock_fd,
                     struct error *err);

/* The daemon listening on `pipe_dir`, or NULL. */
const struct mps_daemon *ops_daemon_on(const struct ops_context *context, const char *pipe_dir);

/* The daemon of a pipe folder: the scan's match, or else the live control daemon that the
 * folder's pid file names when its environment cannot be read (another user's daemon, seen by a
 * user: its pipe folder is unknown, the pid file vouches for it). `pipe_fd` may be -1. Fills
 * *ret_daemon and returns true when there is one. */
bool ops_find_daemon(const struct ops_context *context, const char *pipe_dir, int pipe_fd,
                     struct mps_daemon *ret_daemon);

/* The name of user `uid`, or the number when it has none: for reports. */
void ops_user_name(uid_t uid, char *buffer, size_t size);

/* The name of the user process `pid` runs as ("?" when it cannot be read). */
void ops_process_user(pid_t pid, char *buffer, size_t size);

/* Milliseconds on CLOCK_MONOTONIC, for deadlines and durations. */
long long ops_now_ms(void);

/* ---- stop ---- */

enum stop_outcome {
        STOP_STOPPED,
        STOP_NOT_RUNNING,
        STOP_STALE_CLEANED, /* a pid file named a dead daemon: its leftovers were removed */
        STOP_FAILED,
};

/* The last step a stop needed. */
enum stop_step {
        STOP_STEP_NONE,
        STOP_STEP_QUIT,     /* the daemon quit when asked */
        STOP_STEP_SHUTDOWN, /* after shutdown_server of each of its servers */
        STOP_STEP_SIGTERM,
        STOP_STEP_SIGKILL,
};

struct stop_result {
        const struct target *target;
        struct layout_paths paths;
        enum stop_outcome outcome;
        enum stop_step step;
        pid_t pid;                /* the daemon stopped, or the stale pid */
        unsigned folders_removed; /* made by mpsmig */
        unsigned folders_left;    /* not made by mpsmig (the seed scripts'): left in place */
        char folders_note[320];   /* why a folder was kept, when one was; empty otherwise */
        long long elapsed_ms;
        struct error error; /* STOP_FAILED: why; otherwise a note or empty */
};

/*
 * Stops the daemon of every target in parallel under the node lock: `quit -t` (options.timeout_ms
 * rounded up to seconds), a wait for its pid to exit (that long plus OPS_ESCALATION_WAIT_MS), then
 * shutdown_server for each server, SIGTERM, SIGKILL, each followed by OPS_ESCALATION_WAIT_MS,
 * signalling only a pid proven to be that daemon (or its servers). With `force`: `quit -t
 * OPS_FORCE_QUIT_SECONDS`, OPS_FORCE_WAIT_MS, then the signals. Then removes the folders mpsmig
 * made. Returns how many failed, or a negative errno.
 */
int ops_stop(struct ops_context *context, struct stop_result *results, struct error *err);

/* Drops the whole-GPU targets that have no pipe folder in the layout (so no daemon of this layout
 * can run there): `stop` and `status` without TARGETs and without --whole-gpus reach whole GPUs
 * that were started with --whole-gpus, without listing every idle GPU as "not running". Other
 * kinds of target are kept. */
void ops_stop_keep_used_whole_gpus(struct ops_context *context);

/* Stops the daemon of one target as ops_stop does (without --force), from the caller's daemon
 * scan, under the node lock the caller holds. 0 or a negative errno, result->error saying why. */
int ops_stop_target(struct ops_context *context, const struct target *target,
                    struct stop_result *result);

const char *stop_outcome_string(enum stop_outcome outcome);
const char *stop_step_string(enum stop_step step);

/* ---- start ---- */

struct node_reader;

enum start_outcome {
        START_STARTED,
        START_ALREADY_RUNNING,
        START_RECOVERED, /* a pid file named a dead daemon: its leftovers were cleaned first */
        START_FAILED,
};

/* What start did about a target's configured limits and its server started ahead. */
struct start_limits {
        struct target_limits asked; /* from the configuration; target_limits_any() false: none */
        bool read_back;             /* `read` holds what the daemon reads back */
        struct mps_defaults_answer read;
        pid_t server;         /* the server ready for clients (started ahead, or found); 0: none */
        char server_user[64]; /* the user its process runs as */
        long long server_ms;  /* until it was ready */
        struct error error;   /* the limits or the server did not take: why; empty otherwise */
};

struct start_result {
        const struct target *target;
        struct layout_paths paths;
        enum start_outcome outcome;
        pid_t pid;            /* the daemon, when running */
        pid_t stale_pid;      /* START_RECOVERED: the dead daemon its pid file named */
        long long elapsed_ms; /* this target's work, up to its daemon answering */
        struct error error;   /* START_FAILED: why, in one sentence */
        struct start_limits limits;
};

/* A daemon that start began from the node cache for a device NVML then did not list (the MIG
 * layout changed since the cache was written): stopped again before start returned. */
struct start_withdrawal {
        char uuid[NODE_UUID_MAX];
        enum start_outcome started; /* START_STARTED or START_RECOVERED */
        struct stop_result stop;    /* how it was stopped; its target is NULL */
};

struct start_report {
        struct start_result *results; /* one per context->targets entry, in that order */
        size_t failed;
        size_t limits_failed; /* daemons that run but did not take their limits or server */
        size_t from_cache;    /* results worked on before NVML answered, from the node cache */
        struct start_withdrawal *withdrawals;
        size_t withdrawal_count;
        size_t withdrawals_failed;  /* daemons that could not be stopped again */
        struct error cache_error;   /* the node cache could not be updated (start still worked) */
        struct error warning;       /* daemons of other users whose devices cannot be told */
        struct node_reader *reader; /* the NVML child, reaped by start_report_done */
};

/*
 * `start` from a prepared context (ops_context_prepare): reads the node through NVML in a thread
 * and, meanwhile, under the node lock, starts the daemons of the targets that the node cache
 * (node_cache.h) resolves the options' names to. When NVML answers, the context gets the node and
 * its targets; a target started ahead that NVML confirms keeps its result, a daemon started ahead
 * for a device NVML does not list is stopped again (a withdrawal), the targets the cache did not
 * know are started now, and the cache is updated. Each daemon is waited for (at most
 * options.timeout_ms) until it answers. Then every running daemon gets the limits the
 * configuration gives its target (set, read back, compared: start_limits) and, where it names a
 * user, a server started ahead and waited for until it takes clients. Returns 0 with *ret_report
 * filled (free it with start_report_done), or a negative errno with `err` and *ret_failure when
 * nothing could be started: NVML, the TARGET names, the configuration over this node, the
 * control program, the runtime folder, the lock. Daemons started ahead are stopped again in that
 * case.
 */
int ops_start(struct ops_context *context, struct start_report *ret_report,
              enum ops_failure *ret_failure, struct error *err);
/* Frees the report and reaps the NVML child start forked (waiting for it to shut NVML down,
 * bounded): call it once the report has been shown. */
void start_report_done(struct start_report *report);

/* Starts the daemon of one target as ops_start does (`-d`, then waits until it answers, at most
 * options.timeout_ms), from the caller's daemon scan and NVML's node, under the node lock the
 * caller holds. 0 or a negative errno, result->error saying why. */
int ops_start_target(struct ops_context *context, const struct target *target,
                     struct start_result *result);

/*
 * The first half of a target's start, for a caller that starts the daemon its own way (the agent,
 * in the foreground as its child): refuses another daemon serving the device (-EBUSY, the
 * message naming it), makes the target's folders (result->paths), and cleans what a dead daemon
 * left (result->outcome START_RECOVERED, result->stale_pid). *ret_pipe_fd is the pipe folder,
 * open; *ret_ours the daemon of the scan already running in it (NULL when none). Under the node
 * lock, from a fresh scan.
 */
int ops_start_prepare(struct ops_context *context, const struct target *target, int *ret_pipe_fd,
                      const struct mps_daemon **ret_ours, struct start_result *result);

const char *start_outcome_string(enum start_outcome outcome);

/* ---- status ---- */

enum daemon_state {
        DAEMON_RUNNING,
        DAEMON_NOT_RUNNING,
        DAEMON_STALE,         /* its pid file names a process that is gone */
        DAEMON_NOT_ANSWERING, /* alive, but a query did not come back in time */
        DAEMON_ERROR,         /* its folders could not be read safely: see the error */
        DAEMON_GPU_LOST,      /* a TARGET_LOST_GPU row: NVML cannot reach the GPU */
};

struct status_server {
        pid_t pid;
        uid_t uid;
        bool uid_known;
        char user[64]; /* the uid's name, or the number */
        pid_t *clients;
        size_t client_count;
};

struct status_result {
        const struct target *target;
        struct layout_paths paths;
        enum daemon_state state;
        pid_t pid;             /* the daemon (or the stale pid) */
        double uptime_seconds; /* running or not answering */
        struct status_server *servers;
        size_t server_count;
        size_t client_count; /* over every server */
        double default_thread_percentage;
        struct mps_pinned_limit default_pinned_limit;
        int default_client_priority;
        /* Other control daemons that serve this target's device from another pipe folder. */
        struct mps_daemon *others;
        size_t other_count;
        bool orphaned;      /* a TARGET_ORPHAN: NVML no longer lists its device */
        struct error error; /* not answering / error: why */
};

/* Asks every target's daemon in parallel, without the node lock (status changes nothing).
 * `results` has context->target_count entries; free them with status_results_done(). Returns 0
 * or a negative errno when nothing could be asked. */
int ops_status(struct ops_context *context, struct status_result *results, struct error *err);
void status_results_done(struct status_result *results, size_t count);

/* Fills result->servers (each with its user) and the client counts from a daemon's overview: the
 * servers get_server_list named and the clients `ps` put under each. 0 or -ENOMEM. */
int ops_status_fill_servers(const struct mps_overview *overview, struct status_result *result);

const char *daemon_state_string(enum daemon_state state);

/* ---- set ---- */

/* What `mpsmig set` asks of every target's daemon. */
struct set_request {
        struct mps_defaults want; /* pinned_bytes is ignored when pinned_percent is given */
        unsigned pinned_percent;  /* 1-100: that share of each target's memory; 0: none */
};

enum set_outcome {
        SET_APPLIED,     /* set and read back as asked (a pinned limit as the program rounds it) */
        SET_NOT_RUNNING, /* no daemon answers for the target: nothing to change */
        SET_MISMATCH,    /* the daemon reads back something else */
        SET_FAILED,      /* the query failed */
};

/* A server that runs while the defaults change: it keeps the limits it started with. */
struct set_server {
        pid_t pid;
        char user[64];
};

struct set_result {
        const struct target *target;
        struct layout_paths paths;
        enum set_outcome outcome;
        struct mps_defaults want; /* for this target (a percentage made bytes) */
        bool before_known;        /* `before` holds the defaults the daemon had */
        struct mps_defaults_answer before;
        bool read_back; /* `read` holds what the daemon reads back */
        struct mps_defaults_answer read;
        struct set_server *servers; /* running when the defaults changed */
        size_t server_count;
        struct error error; /* not running, mismatch, failed: why */
};

/*
 * Changes the default limits of every target's running daemon, in parallel, without the node lock
 * (start and stop are not held up; each query takes the daemon's turn): reads its servers and
 * defaults, sets what `request` asks, reads them back and compares. MPS gives new defaults to
 * servers started afterwards; the servers running then keep theirs, and are listed. `results` has
 * context->target_count entries; free them with set_results_done(). 0, or a negative errno when
 * nothing could be asked.
 */
int ops_set(struct ops_context *context, const struct set_request *request,
            struct set_result *results, struct error *err);
void set_results_done(struct set_result *results, size_t count);

const char *set_outcome_string(enum set_outcome outcome);
