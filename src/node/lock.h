/* The node lock: one flock on <runtime folder>/lock serialises every start and stop on a node,
 * so that concurrent invocations see each other's daemons instead of racing to start two. The
 * same kind of lock file serialises placements (`run`) in a ledger folder. */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/error.h"

#define NODE_LOCK_NAME               "lock"
#define NODE_LOCK_TIMEOUT_MS_DEFAULT 30000
/* Only the owner may open a lock file: whoever can open a file can flock it, read-only too, and
 * so stall everyone who needs it. */
#define LOCK_FILE_MODE 0600

/*
 * Takes the lock: opens (or makes, mode 0600) the regular file `lock` in the runtime folder
 * `runtime_fd` (never through a link; it must be ours) and takes an exclusive flock, waiting at
 * most `timeout_ms`. Then writes our pid into it. Returns the lock's fd (CLOEXEC) in *ret_fd:
 * closing it releases the lock. -ETIMEDOUT with a message naming the holder (from the kernel's
 * lock table) when the wait ran out; -EACCES when the folder is another user's, the message
 * pointing to --runtime-dir. `runtime_path` is for messages.
 */
int node_lock_acquire(int runtime_fd, const char *runtime_path, int timeout_ms, int *ret_fd,
                      struct error *err);

/*
 * The same for the lock file `name` in the folder `dir_fd` (`what` names it in messages, such as
 * "node lock"). A lock file of ours that is readable by others (made by an older mpsmig) is made
 * 0600; one held by processes of other users only (opened while it was readable) is replaced by a
 * fresh file, so that no other user can stall its owner. Every holder checks that the name still
 * leads to the file it locked.
 */
int lock_file_acquire(int dir_fd, const char *dir_path, const char *name, const char *what,
                      int timeout_ms, int *ret_fd, struct error *err);

/* Releases the lock (closes the fd). NULL-safe on -1. */
void node_lock_release(int fd);

/* The pids (0 where not visible from here) of the processes the kernel's lock table
 * (/proc/locks) lists as holding a lock on the file `st`, waiters left out; at most `max`. */
int lock_holders(const struct stat *st, pid_t *ret_pids, size_t max, size_t *ret_count);

/* The effective uid of a process, from /proc/PID/status (readable for every process). */
int lock_holder_uid(pid_t pid, uid_t *ret_uid);
