/* The node lock: one flock on <runtime folder>/lock serialises every start and stop on a node,
 * so that concurrent invocations see each other's daemons instead of racing to start two. */
#pragma once

#include "base/error.h"

#define NODE_LOCK_NAME               "lock"
#define NODE_LOCK_TIMEOUT_MS_DEFAULT 30000

/*
 * Takes the lock: opens (or makes, mode 0644) the regular file `lock` in the runtime folder
 * `runtime_fd` (never through a link; it must be ours) and takes an exclusive flock, waiting at
 * most `timeout_ms`. Then writes our pid into it so that a waiter can name the holder. Returns
 * the lock's fd (CLOEXEC) in *ret_fd: closing it releases the lock. -ETIMEDOUT with a message
 * naming the holder's pid when the wait ran out. `runtime_path` is for messages.
 */
int node_lock_acquire(int runtime_fd, const char *runtime_path, int timeout_ms, int *ret_fd,
                      struct error *err);

/* Releases the lock (closes the fd). NULL-safe on -1. */
void node_lock_release(int fd);
