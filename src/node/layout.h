/* Where each target's MPS folders live: the runtime folder (the node lock, and the default
 * layout's <root>/<UUID>/{pipe,log}) or the seed scripts' /tmp/mps_<UUID> and /tmp/mps_log_<UUID>;
 * making them safely, reading the daemon's pid file, and removing only what mpsmig made. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

#define LAYOUT_RUNTIME_DIR_ENV  "MPSMIG_RUNTIME_DIR"
#define LAYOUT_RUNTIME_DIR_ROOT "/run/mpsmig" /* as root, and for users once root made it */
#define LAYOUT_RUNTIME_DIR_USER "mpsmig"      /* under $XDG_RUNTIME_DIR otherwise */
#define LAYOUT_SEED_DIR         "/tmp"        /* the seed scripts' literal folder */
#define LAYOUT_SEED_PIPE_PREFIX "mps_"
#define LAYOUT_SEED_LOG_PREFIX  "mps_log_"
#define LAYOUT_PIPE_NAME        "pipe"
#define LAYOUT_LOG_NAME         "log"
/* Folders are 0755 like the seed's: a non-root client must traverse every parent of the pipe
 * folder to reach the daemon's world-writable `control` socket. */
#define LAYOUT_FOLDER_MODE 0755

/* What the control daemon leaves in its pipe folder (docs/driver-facts.md). */
#define LAYOUT_PID_FILE "nvidia-cuda-mps-control.pid"

enum layout_kind {
        LAYOUT_DEFAULT, /* <runtime dir>/<UUID>/pipe and .../log */
        LAYOUT_SEED,    /* /tmp/mps_<UUID> and /tmp/mps_log_<UUID>, as the seed scripts make */
};

struct layout {
        enum layout_kind kind;
        char runtime_dir[PATH_MAX]; /* absolute, no trailing '/'; holds the node lock */
        /* The daemons run as another user (the configuration's `user =`, default layout only):
         * layout_make hands each target's pipe and log folders to daemon_uid:daemon_gid, while
         * <runtime folder>/<UUID> stays ours, so that the user cannot swap them for links. */
        bool handed;
        uid_t daemon_uid;
        gid_t daemon_gid;
};

/* One target's folders. */
struct layout_paths {
        char instance_dir[PATH_MAX]; /* the default layout's <root>/<UUID>; empty for seed */
        char pipe_dir[PATH_MAX];     /* CUDA_MPS_PIPE_DIRECTORY */
        char log_dir[PATH_MAX];      /* CUDA_MPS_LOG_DIRECTORY */
};

/* "default" / "seed" <-> enum; parse returns -EINVAL for anything else. */
int layout_kind_parse(const char *text, enum layout_kind *ret_kind);
const char *layout_kind_name(enum layout_kind kind);

/*
 * Chooses the runtime folder: `runtime_dir_option` (--runtime-dir) when given, else
 * $MPSMIG_RUNTIME_DIR, else /run/mpsmig as root or when root made it (so users reach the node's
 * daemons), else $XDG_RUNTIME_DIR/mpsmig; -ENOENT with a
 * message when none applies. A relative folder is taken from the current folder. Checks that
 * the pipe folders of this layout fit a unix socket path (-ENAMETOOLONG, naming the limit and
 * the folder's length) so that nothing is started in a folder the daemon cannot bind in.
 */
int layout_init(enum layout_kind kind, const char *runtime_dir_option, struct layout *ret_layout,
                struct error *err);

/* The folders of the target `uuid`. -EINVAL for a UUID that cannot name a folder, -ENAMETOOLONG
 * when its pipe folder is too long for the daemon's sockets. */
int layout_paths(const struct layout *layout, const char *uuid, struct layout_paths *ret_paths,
                 struct error *err);

/* Opens (with `create`, makes) the runtime folder through safe_fs_open_root(). */
int layout_open_runtime_dir(const struct layout *layout, bool create, int *ret_fd,
                            struct error *err);

/* Which folders layout_make() made (as opposed to found). */
struct layout_made {
        bool instance_dir;
        bool pipe_dir;
        bool log_dir;
};

/* Makes the target's folders (each checked, marked when made; the pipe and log folders handed to
 * the daemons' user when layout->handed) and returns its pipe folder open in *ret_pipe_fd;
 * *ret_made (may be NULL) says which were new. */
int layout_make(const struct layout *layout, const char *uuid, int *ret_pipe_fd,
                struct layout_made *ret_made, struct error *err);

/* Opens the target's existing pipe folder with the same checks; -ENOENT (no message) when it
 * does not exist. */
int layout_open_pipe(const struct layout *layout, const char *uuid, int *ret_pipe_fd,
                     struct error *err);

/* The pid in the pipe folder's pid file: -ENOENT when there is none, -EBADMSG when it does not
 * hold a pid. */
int layout_read_pid(int pipe_fd, pid_t *ret_pid);

/* Removes what a dead daemon left in its pipe folder (pid file, log fifo, sockets, lock file),
 * by name, so that the next daemon starts clean. Returns how many were removed. */
int layout_clean_daemon_files(int pipe_fd, struct error *err);

/* What layout_remove() did. */
struct layout_removal {
        unsigned removed;       /* folders removed (made by mpsmig, or the seed scripts' ones) */
        unsigned left_unmarked; /* folders left because mpsmig did not make them */
        char kept_reason[320];  /* why the last such folder was left; empty when none was */
};

/* What the control program writes into a seed pipe folder and log folder: a seed folder that
 * mpsmig did not make is removed when it holds nothing else. */
#define LAYOUT_SEED_PIPE_FILES                                                                     \
        LAYOUT_PID_FILE, "control", "control_privileged", "control_lock", "log"
#define LAYOUT_SEED_LOG_FILES "control.log", "server.log"

/* Removes the target's folders that mpsmig made (marked), children first. The seed scripts'
 * /tmp/mps_<UUID> and /tmp/mps_log_<UUID>, which mpsmig did not make, are removed too when that
 * is safe: owned by the caller, not links, holding only what the control program writes there
 * (LAYOUT_SEED_*_FILES, each of the type it writes: sockets, the log fifo, regular files), each
 * removed by name; otherwise they are left,
 * counted, and kept_reason says why. Other unmarked folders are left and counted. A folder that
 * cannot be removed safely is an error naming it. Call it only when no daemon uses them. */
int layout_remove(const struct layout *layout, const char *uuid, struct layout_removal *ret_removal,
                  struct error *err);
