/* The agent's client, for the verbs: when an agent serves the runtime folder, `status`, `env`,
 * `run`, `start` and `stop` are answered through its socket (no NVML, no control program on the
 * caller's side); without one, each returns AGENT_CLIENT_NONE and the verb takes its direct path.
 * The answers come back as the values the direct path gives, so that the verbs print them alike. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent/protocol.h"
#include "base/error.h"
#include "ops/ops.h"
#include "ops/run.h"

/* No agent to ask (no socket, nobody listening, MPSMIG_NO_AGENT set, the seed layout): take the
 * direct path. Said by no message. */
#define AGENT_CLIENT_NONE        (-ENOTCONN)
#define AGENT_CLIENT_DISABLE_ENV "MPSMIG_NO_AGENT"
#define AGENT_CLIENT_TIMEOUT_MS  10000

/* Sends `request` to the agent of `runtime_dir` and waits for its answer (at most timeout_ms).
 * The socket must belong to root or to the caller, and so must the process that answers
 * (SO_PEERCRED), or it is not asked. 0 with *ret_answer; AGENT_CLIENT_NONE; another negative
 * errno with `err` when the agent did not answer. */
int agent_client_ask(const char *runtime_dir, json_t *request, int timeout_ms, json_t **ret_answer,
                     struct error *err);

/* `status` through the agent: the context (layout, the agent's node, one target per row) and
 * results as ops_status would fill them, and the agent's row of each. Names in options resolve
 * against the agent's node. Lost GPUs get their rows when no name is given. */
int agent_client_status(const struct ops_options *options, struct ops_context *ret_context,
                        struct status_result **ret_results, struct agent_row **ret_rows,
                        struct error *err);

/* `run` and `env`'s placement through the agent: the plan run_prepare would give (the caller's
 * pid is recorded when request->record_pid is set; the agent reads it from the socket). */
int agent_client_place(const struct run_request *request, struct run_plan *ret_plan,
                       enum run_failure *ret_failure, struct error *err);

/* `start` and `stop` through the agent: the context of the targets it worked on and their
 * results (an array of context->target_count, malloc'd). */
int agent_client_start(const struct ops_options *options, struct ops_context *ret_context,
                       struct start_result **ret_results, enum ops_failure *ret_failure,
                       struct error *err);
int agent_client_stop(const struct ops_options *options, struct ops_context *ret_context,
                      struct stop_result **ret_results, enum ops_failure *ret_failure,
                      struct error *err);

/* After `mpsmig set` changed daemons on its direct path: tells the agent what each daemon read
 * back (results with read_back), so that its status shows them at once and it asks the daemons
 * again. 0 (also when no agent runs: nothing to tell), or a negative errno with `err`. */
int agent_client_defaults_changed(const struct ops_options *options,
                                  const struct set_result *results, size_t count,
                                  struct error *err);
