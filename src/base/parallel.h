/* A bounded pool of threads that works through `count` indexes at once: the verbs ask, start and
 * stop every target in parallel, each worker mostly waiting on a child process. */
#pragma once

#include <stddef.h>

#define PARALLEL_MAX 64 /* threads at once, the caller's included */

/* Runs work(shared, index) for every index below `count` on up to PARALLEL_MAX threads (the
 * caller's among them), and returns when all are done. A failure to create threads only makes
 * the work slower: every index is still worked on. */
void parallel_for(size_t count, void (*work)(void *shared, size_t index), void *shared);
