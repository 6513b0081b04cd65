/* Where `mpsmig run --on auto` puts a program: the target with the fewest MPS clients, counting
 * both the clients its daemon reports and the programs earlier runs placed there that have not
 * attached yet, recorded in a per-target ledger so that simultaneous runs spread evenly. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "node/node.h"

/* The folder under the runtime root that holds one ledger file per target, named by its UUID. */
#define PLACEMENT_DIR_NAME "placements"

/* One program placed on a target: a pid and the start time that tells it from a later process
 * that reuses the pid. */
struct placement_entry {
        pid_t pid;
        unsigned long long start_time; /* /proc/PID/stat field 22, clock ticks since boot */
};

/* One target `auto` may choose, with what its daemon said about it. */
struct placement_candidate {
        const struct target *target;
        const pid_t *client_pids; /* the daemon's clients (ps / get_client_list); not owned */
        size_t client_count;
        size_t load; /* set by placement_choose: live clients UNION live ledger entries */
};

/* The start time of a live process. -ESRCH when there is no such process or it is a zombie
 * (it has exited: it holds no GPU context any more). */
int process_start_time(pid_t pid, unsigned long long *ret_start_time);

/*
 * Places `pid` on one of the candidates and returns its index. `placements_dir` is an open
 * O_DIRECTORY fd of the ledger folder; the caller holds a lock that serialises every placement on
 * this node (the node lock) from before this call until it returns. For every candidate this reads
 * its ledger, forgets the entries whose process is gone, and counts the load; it picks the least
 * loaded, then the one with more memory, then the first in the order given (nvidia-smi order);
 * and rewrites the chosen ledger (atomically) with `pid` added. The other ledgers are rewritten
 * only when pruning dropped something. With `placements_dir` -1 there is no ledger: only the
 * daemons' clients count and nothing is recorded (not race-safe; for when the ledger folder
 * cannot be used).
 */
int placement_choose(int placements_dir, struct placement_candidate *candidates, size_t count,
                     pid_t pid, size_t *ret_index, struct error *err);

/* Adds `pid` to the ledger of one target (for `run --on X`, where nothing is chosen but later
 * `auto` runs must still see it). Same locking rule as placement_choose. */
int placement_record(int placements_dir, const struct target *target, pid_t pid, struct error *err);

/* Takes `pid` out of every ledger of the folder (a program that ended: the Slurm plugin's
 * task_exit), whatever its start time, and drops the dead entries of the ledgers it rewrites.
 * Returns how many entries named it. Same locking rule as placement_choose. */
int placement_forget(int placements_dir, pid_t pid, struct error *err);

/* The ledger of one target, pruned of dead processes (for status and tests). The array is
 * malloc'd (NULL when empty). */
int placement_read(int placements_dir, const char *uuid, struct placement_entry **ret_entries,
                   size_t *ret_count, struct error *err);
