/* A daemon's default limits as asked (by the configuration, or `mpsmig set`): set, read back and
 * compared knowing the control program's rounding; and a server started ahead of the first
 * client and waited for until it takes clients. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "driver/mps_control.h"
#include "ops/config.h"

/* What a target's resolved limits ask of its daemon. */
struct mps_defaults limits_wanted(const struct target_limits *limits);

/* Whether the control program reads a pinned limit of `bytes` back as something else (1500M as
 * 1G): not a mismatch, but worth saying. */
bool limits_pinned_rounded(unsigned long long bytes);

/* Compares what was asked with what the daemon reads back, the pinned limit as the program rounds
 * it. 0 when all matches; -EIO with `mismatch` naming each difference. */
int limits_compare(const struct mps_defaults *want, const struct mps_defaults_answer *read,
                   char *mismatch, size_t size);

/* Sets `want` on the daemon and reads every default back (*ret_read, also when they differ).
 * -EIO with `err` naming each difference when the daemon did not take them; the query's own
 * errors otherwise. */
int limits_apply(const struct mps_endpoint *endpoint, const struct mps_defaults *want,
                 struct mps_defaults_answer *ret_read, struct error *err);

/* Makes sure the daemon has a server ready for clients: when it has none, `start_server -uid UID`,
 * then waits (until `deadline_ms`, CLOCK_MONOTONIC) until `ps` finds it. A server already there
 * (for any user) is kept. *ret_server is its pid. */
int limits_server_ahead(const struct mps_endpoint *endpoint, unsigned uid, long long deadline_ms,
                        pid_t *ret_server, struct error *err);
