/* Finding MPS control daemons through /proc, whoever started them: their pid, owner, start time
 * and the device and pipe folder in their environment; proving that a pid really is the control
 * program before it is ever signalled; waiting for one to exit when mpsmig is not its parent. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

#define DAEMON_CONTROL_PROGRAM "nvidia-cuda-mps-control"
#define DAEMON_SERVER_PROGRAM  "nvidia-cuda-mps-server"
/* Where a daemon started without CUDA_MPS_PIPE_DIRECTORY listens. */
#define DAEMON_DEFAULT_PIPE_DIR "/tmp/nvidia-mps"

/* One running control daemon (started with -d, or -f in the foreground). */
struct mps_daemon {
        pid_t pid;
        uid_t uid;                      /* real uid */
        unsigned long long start_ticks; /* /proc/PID/stat starttime: pins the pid's identity */
        bool environ_known;             /* /proc/PID/environ was readable (same user, or root) */
        bool has_visible_devices;       /* CUDA_VISIBLE_DEVICES was set */
        char visible_devices[512];
        /* Without CUDA_VISIBLE_DEVICES a daemon serves what its driver shows it: the devices it
         * lists in device_query, when the caller asked it (daemon_scan does not). */
        bool served_known;
        char served_devices[512];
        char pipe_dir[PATH_MAX]; /* CUDA_MPS_PIPE_DIRECTORY, or the default when unset */
};

/* Every control daemon on the node, zombies excluded, in pid order. *ret_daemons is malloc'd
 * (NULL when none). Processes that vanish during the scan are skipped. */
int daemon_scan(struct mps_daemon **ret_daemons, size_t *ret_count, struct error *err);

/* Reads what daemon_scan reads for one pid. -ESRCH: gone or a zombie; -EPERM: a process that is
 * not the control program running as a daemon (a pid reused by something else). */
int daemon_inspect(pid_t pid, struct mps_daemon *ret_daemon);

/* Whether the daemon serves `uuid`: its CUDA_VISIBLE_DEVICES (a comma-separated list) names it,
 * or, without CUDA_VISIBLE_DEVICES (a node-wide daemon), served_devices names it. A daemon whose
 * environment cannot be read, or a node-wide one whose devices are not known, does not: see
 * daemon_serves_unknown(). */
bool daemon_serves(const struct mps_daemon *daemon, const char *uuid);

/* Whether it cannot be told what the daemon serves: no CUDA_VISIBLE_DEVICES, and served_devices
 * not known (it did not answer device_query). It may serve any device. */
bool daemon_serves_unknown(const struct mps_daemon *daemon);

bool daemon_serves(const struct mps_daemon *daemon, const char *uuid);

/* Whether the daemon listens on `pipe_dir` (compared after removing trailing '/'). */
bool daemon_uses_pipe_dir(const struct mps_daemon *daemon, const char *pipe_dir);

/*
 * Opens a pidfd on `pid` and proves, while the pidfd pins it, that it is still the same control
 * daemon (`start_ticks` when non-zero, and the program checked by daemon_inspect()). The only way
 * mpsmig gets a handle it may signal. -ESRCH when it is gone (nothing to do), -EPERM with a
 * message when the pid now belongs to something else.
 */
int daemon_open(pid_t pid, unsigned long long start_ticks, int *ret_pidfd, struct error *err);

/* Sends `signal` through a pidfd from daemon_open(). 0, or -ESRCH when it has already exited. */
int daemon_signal(int pidfd, int signal);

/* Waits until the process behind `pidfd` has exited (a zombie counts: its parent may never reap
 * it), at most `timeout_ms`. 0 when gone, -ETIMEDOUT. */
int daemon_wait_gone(int pidfd, int timeout_ms);

/* The MPS servers among the daemon's children (verified by program name), for escalation.
 * *ret_pids is malloc'd (NULL when none). */
int daemon_servers(pid_t daemon, pid_t **ret_pids, size_t *ret_count);

/* Opens a pidfd on a server listed by daemon_servers() after checking it is still an MPS server
 * child of `daemon`. -ESRCH when gone, -EPERM when the pid is something else now. */
int daemon_open_server(pid_t daemon, pid_t server, int *ret_pidfd);

/* Seconds since the process started (from its start time and CLOCK_BOOTTIME). */
int process_uptime(pid_t pid, double *ret_seconds);

/* The process's real uid from /proc/PID/status. */
int process_uid(pid_t pid, uid_t *ret_uid);
