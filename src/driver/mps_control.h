/* The client of nvidia-cuda-mps-control: finds the program, gives every invocation an explicit
 * environment for one device and one pipe folder, starts daemons with `-d`, sends commands on
 * stdin in client mode, and turns the answers into values through mps_answer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/spawn.h"
#include "driver/mps_answer.h"

#define MPS_CONTROL_PROGRAM            "nvidia-cuda-mps-control"
#define MPS_CONTROL_ENV_OVERRIDE       "MPSMIG_MPS_CONTROL" /* absolute path of the program */
#define MPS_CONTROL_TIMEOUT_MS_DEFAULT 10000
/* A daemon serves one control client at a time and turns the others away (docs/driver-facts.md):
 * clients take turns per daemon, waiting for their turn at most MPS_CONTROL_TURN_WAIT_MS_DEFAULT
 * (an endpoint may say less) before they go ahead without it, and a client turned away asks again
 * after a pause that grows from MIN to MAX. The turn costs about 3 ms a query on an H200, so a
 * queue of hundreds clears within the wait (docs/benchmarks.md). */
#define MPS_CONTROL_TURN_WAIT_MS_DEFAULT 10000
#define MPS_CONTROL_BUSY_PAUSE_MIN_MS    2
#define MPS_CONTROL_BUSY_PAUSE_MAX_MS    32
/* The longest pipe folder path whose sockets still fit a sockaddr_un (108 bytes with the NUL)
 * once "/control_privileged" is appended. */
#define MPS_CONTROL_PIPE_DIR_MAX 88

/* One control daemon as its clients address it. Nothing is owned: the strings must outlive it. */
struct mps_endpoint {
        const char *program;     /* absolute path, from mps_control_find() */
        const char *device_uuid; /* CUDA_VISIBLE_DEVICES; NULL: not set (the daemon sees all) */
        const char *pipe_dir;    /* CUDA_MPS_PIPE_DIRECTORY; required */
        const char *log_dir;     /* CUDA_MPS_LOG_DIRECTORY; NULL: not set */
        int timeout_ms;          /* per invocation; 0: MPS_CONTROL_TIMEOUT_MS_DEFAULT */
        int turn_wait_ms;        /* for the daemon's turn; 0: MPS_CONTROL_TURN_WAIT_MS_DEFAULT */
        /* mps_control_start only: the user the daemon runs as (NULL: ours), and -M (servers
         * shared by the clients of every user). Queries run as we do. */
        const struct spawn_credentials *daemon_credentials;
        bool multiuser;
};

/* Finds the control program: $MPSMIG_MPS_CONTROL (absolute, executable) or else the first
 * executable nvidia-cuda-mps-control in the absolute entries of $PATH (relative entries are
 * skipped). -ENOENT with a message naming both when there is none, -EINVAL for a relative
 * override, -EACCES for one that is not executable. *ret_program is malloc'd. */
int mps_control_find(char **ret_program, struct error *err);

/* Builds the environment every control-program child gets, and nothing else:
 * CUDA_VISIBLE_DEVICES, CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_LOG_DIRECTORY from the endpoint, then
 * PATH, LD_LIBRARY_PATH, HOME, LANG and every SIMGPU_*, ASAN_*, UBSAN_*, LSAN_* variable passed
 * through from the current environment when set. `builder` must be empty (ENV_BUILDER_INIT). */
int mps_control_environment(const struct mps_endpoint *endpoint, struct env_builder *builder);

/* Runs `program -d` (`-d -M` with multiuser; as daemon_credentials' user when set) and waits for
 * it (not for the daemon it leaves). 0 when it exited 0;
 * otherwise one sentence in `err`: -EALREADY (a daemon already runs on this pipe folder),
 * -ENODEV (exit 100: the driver does not know the device), -ENOENT (pipe folder not accessible),
 * -ENAMETOOLONG (pipe folder longer than MPS_CONTROL_PIPE_DIR_MAX, refused before running),
 * -ETIMEDOUT, -EIO. */
int mps_control_start(const struct mps_endpoint *endpoint, struct error *err);

/* Runs the program in client mode with `commands` (one per line, '\n'-terminated) on stdin and
 * timeout `timeout_ms` (0: the endpoint's). Every query of this module, this one included, is
 * serialised per daemon across processes and users: it first waits for the daemon's turn (an flock
 * on the pipe folder; at most the endpoint's turn_wait_ms, which the timeout does not include),
 * then asks, again while the daemon answers MPS_TEXT_BUSY, within the timeout. Returns 0 with the
 * raw stdout
 * (*ret_output, malloc'd, NUL-terminated) and exit status whenever the program ran to its end,
 * whatever its status; MPS_ANSWER_NO_DAEMON (-ESRCH) when it said "Cannot find MPS control daemon
 * process"; -EBUSY when the daemon stayed busy with other clients until the timeout; -ETIMEDOUT,
 * or another negative errno when it could not run or was killed by a signal. */
int mps_control_run(const struct mps_endpoint *endpoint, const char *commands, int timeout_ms,
                    char **ret_output, size_t *ret_size, int *ret_status, struct error *err);

/* For a caller that watches many control programs at once in a loop of its own (the agent): starts
 * one client-mode run with `commands` on stdin and returns without waiting (base/spawn_child.h),
 * timeout_ms 0 meaning the endpoint's. No turn is taken and nothing is retried: the caller asks a
 * daemon one query at a time, and asks again after a pause when the outcome is -EBUSY. */
int mps_control_query_start(const struct mps_endpoint *endpoint, const char *commands,
                            int timeout_ms, struct spawn_child *ret_child, struct error *err);

/* What a finished client-mode run says, as mps_control_run would report it: 0 when it ran to its
 * end (whatever its status: the answer is in `result`), -EBUSY when the daemon turned it away
 * (serving another control client), MPS_ANSWER_NO_DAEMON, -ETIMEDOUT or -EIO. */
int mps_control_query_outcome(const struct mps_endpoint *endpoint,
                              const struct spawn_result *result, int timeout_ms, struct error *err);

/* What a foreground daemon's output is kept to between two takes. */
#define MPS_CONTROL_FOREGROUND_OUTPUT_MAX (64 * 1024)

/* Starts `program -f`: a control daemon in the foreground, the caller's child, in a process group
 * of its own (a terminal's Ctrl-C reaches only the caller, which quits it), its stdout (the
 * control.log lines) and stderr captured for the caller to take (spawn_stream_take), no
 * deadline. -ENAMETOOLONG as mps_control_start. */
int mps_control_foreground_start(const struct mps_endpoint *endpoint, struct spawn_child *ret_child,
                                 struct error *err);

/* Everything in one invocation of MPS_OVERVIEW_COMMANDS. -ESRCH when no daemon runs. */
int mps_control_overview(const struct mps_endpoint *endpoint, struct mps_overview *ret_overview,
                         struct error *err);

/* get_client_list SERVER. MPS_ANSWER_NOT_FOUND (-ENOENT) for an unknown server. */
int mps_control_client_list(const struct mps_endpoint *endpoint, pid_t server, pid_t **ret_pids,
                            size_t *ret_count, struct error *err);

/* device_query: the UUIDs of the devices the daemon serves, joined with ',' into `buffer`. */
int mps_control_device_query(const struct mps_endpoint *endpoint, char *buffer, size_t buffer_size,
                             struct error *err);

/* get_server_status SERVER. */
int mps_control_server_status(const struct mps_endpoint *endpoint, pid_t server,
                              enum mps_server_status *ret_status, struct error *err);

/* quit, or `quit -t SECONDS` when timeout_seconds > 0 (the invocation's own deadline is extended
 * by that much). -ESRCH when no daemon runs. */
int mps_control_quit(const struct mps_endpoint *endpoint, unsigned timeout_seconds,
                     struct error *err);

/* shutdown_server SERVER. */
int mps_control_shutdown_server(const struct mps_endpoint *endpoint, pid_t server,
                                struct error *err);

/* Default limits for a daemon to give the servers it starts from now on, each optional. */
struct mps_defaults {
        unsigned thread_percentage;      /* 1-100; 0: leave it */
        unsigned long long pinned_bytes; /* a whole number of MiB above 0, keyed by device 0; 0:
                                          * leave it */
        int client_priority;             /* 0 (normal) or 1 (below normal); -1: leave it */
};
#define MPS_DEFAULTS_KEEP                                                                          \
        {                                                                                          \
                0, 0, -1                                                                           \
        }

/* The commands mps_control_set_defaults sends: each set_default_* `want` asks for, then
 * MPS_DEFAULTS_COMMANDS (whose answers mps_answer_defaults reads). -EINVAL for a value out of
 * range. For a caller that sends them through its own queue (the agent). */
int mps_defaults_commands(const struct mps_defaults *want, char *commands, size_t size,
                          struct error *err);

/* Sets what `want` asks for (validated first: the control program keeps the old value silently
 * on a bad one) and reads every default back, in one invocation: the pinned limit by command
 * keyed by device 0 (the daemon's one device; in the daemon's environment driver 580 does not
 * apply it). *ret_read is what the daemon says now; comparing it with `want` is the caller's, the
 * pinned limit reading back rounded down to whole G (mps_pinned_limit_read_back). -EINVAL for a
 * value out of range, without running anything. MPS_DEFAULTS_KEEP only reads. */
int mps_control_set_defaults(const struct mps_endpoint *endpoint, const struct mps_defaults *want,
                             struct mps_defaults_answer *ret_read, struct error *err);

/* start_server -uid UID: the daemon starts a server for that user now instead of on its first
 * client. It answers at once (3-4 ms on driver 580); the server is ready later
 * (docs/driver-facts.md): look for it with get_server_list and ps. */
int mps_control_start_server(const struct mps_endpoint *endpoint, unsigned uid, struct error *err);

/* ps: the clients with their servers (MPS_TEXT_PS_NO_SERVER gives no rows, no_server set). */
int mps_control_ps(const struct mps_endpoint *endpoint, struct mps_ps *ret_ps, struct error *err);

/* get_default_device_pinned_mem_limit DEVICE ("0" or a UUID): what it reads back under that key
 * (ret_limit->set false when nothing). */
int mps_control_pinned_limit(const struct mps_endpoint *endpoint, const char *device,
                             struct mps_pinned_limit *ret_limit, struct error *err);
