/* The agent's socket protocol, shared by the agent and its clients so that the two cannot drift:
 * one JSON request and one JSON answer per connection, each with a version (docs/agent.md). This
 * file turns the values the verbs work with (errors with their hints, status results, stop
 * results) into JSON and back. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "ops/ops.h"

#define AGENT_PROTOCOL_VERSION 1
#define AGENT_SOCKET_NAME      "agent.sock"
#define AGENT_LOCK_NAME        "agent.lock"
#define AGENT_REQUEST_MAX      (64 * 1024)
#define AGENT_ANSWER_MAX       (16 * 1024 * 1024)

/* How a request failed, for the front end's exit status (as enum run_failure / ops_failure). */
#define AGENT_FAILURE_USAGE   "usage"   /* a name that names nothing: exit 2 */
#define AGENT_FAILURE_REFUSED "refused" /* no daemon to serve a program: exit 1 */
#define AGENT_FAILURE_DENIED  "denied"  /* not allowed for this user: exit 1 */
#define AGENT_FAILURE_OTHER   "other"   /* exit 1 */

/* What the agent tells of one target beyond what `status` shows without it. */
struct agent_row {
        char supervision[16]; /* ready, starting, backoff, crash loop, refused, stopping, ... */
        unsigned restarts;
        char last_exit[320];        /* the last death's cause; empty when none */
        long long last_exit_ago_ms; /* -1: none */
        long long next_restart_ms;  /* backoff: in how long; -1: none */
        bool adopted;               /* a daemon the agent found running and did not start */
        long long observed_ago_ms;  /* how old the servers and clients shown are; -1: never */
        size_t reservations;        /* programs placed by `run` still running */
        char limits_mismatch[400];  /* the configuration's limits not applied as asked: why */
};

/* {"version": 1, "ok": false, "failure": FAILURE, "error": {...}}: an error with its hint. */
json_t *agent_error_answer(const struct error *err, const char *failure);
/* An error object ({"errno", "message", "hint", "hint_target"}) and back. NULL for none. */
json_t *agent_error_json(const struct error *err);
void agent_error_from_json(const json_t *object, struct error *err);

/* A status result and the agent's row, as one target of a status answer. */
json_t *agent_status_row_json(const struct status_result *result, const struct agent_row *row);
/* Back (result->target, paths and others are the caller's to fill): 0 or -EBADMSG, -ENOMEM. */
int agent_status_row_parse(const json_t *object, struct status_result *result,
                           struct agent_row *row);

/* Stop results: {"ok", "failed", "targets": [...]}, or the error when nothing could be stopped
 * (`failure` non-NULL). */
json_t *agent_stop_results_json(const struct error *failure, const struct stop_result *results,
                                size_t count);
/* The result of `uuid` in a stop answer (target and paths left to the caller). 0, -ENOENT. */
int agent_stop_result_parse(const json_t *answer, const char *uuid, struct stop_result *result);
