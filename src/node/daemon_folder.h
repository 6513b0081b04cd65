/* Control daemons found through their folders rather than /proc: a user cannot read the
 * environment of another user's daemon, but can look into the pipe folders of the known layouts
 * (another runtime folder's <UUID>/pipe, the seed's /tmp/mps_<UUID>) for a live one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "node/daemon_scan.h"

/*
 * Whether a control daemon lives in the pipe folder `pipe_dir`: its pid file names a live
 * control daemon (daemon_inspect), or, without one, its `control` socket accepts a connection.
 * 1 (with the pid in *ret_pid when known, else 0), 0 when none (no folder, a stale pid file, a
 * socket nobody listens on), or a negative errno when it cannot be told. Only reads and
 * connects: the folder may belong to anyone.
 */
int daemon_folder_live(const char *pipe_dir, pid_t *ret_pid);

/* Whether the pipe folder holds a control socket (a daemon made it as it began to listen), without
 * connecting to it: a daemon serves one control client at a time, and a starting one must not be
 * kept from its first query by a look. */
bool daemon_folder_has_socket(const char *pipe_dir);

/* One daemon found in a known folder of another layout or runtime folder. */
struct daemon_folder_hit {
        pid_t pid;   /* 0 when only its socket answered */
        uid_t owner; /* the pipe folder's owner */
        char pipe_dir[PATH_MAX];
};

/*
 * Looks for a live daemon of `uuid` in the pipe folders of the known layouts, other than
 * `own_pipe_dir` (compared by identity, so a second name of the same folder is not "another"):
 * <runtime>/<uuid>/pipe for /run/mpsmig, $MPSMIG_RUNTIME_DIR, $XDG_RUNTIME_DIR/mpsmig and
 * `runtime_dir`, and /tmp/mps_<uuid>. 1 with *ret_hit filled, or 0.
 */
int daemon_folder_find_other(const char *uuid, const char *runtime_dir, const char *own_pipe_dir,
                             struct daemon_folder_hit *ret_hit);

/* Whether `daemon` (found by the scan) is the daemon of a known folder of one of `uuids`. */
bool daemon_folder_accounts_for(const struct mps_daemon *daemon, const char *runtime_dir,
                                const char *const *uuids, size_t count);
