/* The node agent, `mpsmig daemon`: one long-running process that is the parent of every target's
 * MPS control daemon (each started in the foreground, so that a death is known at once), restarts
 * what dies with a capped backoff, follows the node's MIG layout, and answers the other verbs on a
 * local socket. See docs/agent.md. */
#pragma once

#include <stdbool.h>

#include "base/error.h"

#define AGENT_POLL_MS_DEFAULT         30000 /* the node is read again this often */
#define AGENT_BACKOFF_MIN_MS          100   /* the first restart waits this long */
#define AGENT_BACKOFF_MAX_MS          30000 /* and the pause doubles up to this */
#define AGENT_HEALTHY_MS              10000 /* a daemon that lived this long resets the backoff */
#define AGENT_CRASH_LOOP_DEATHS       5     /* this many quick deaths in a row: a crash loop */
#define AGENT_OVERVIEW_MAX_AGE_MS     2000  /* a status older than this is asked again */
#define AGENT_STOP_TIMEOUT_MS_DEFAULT 10000 /* what SIGTERM gives the daemons' clients */

struct agent_options {
        const char *config_path; /* --config; NULL: $MPSMIG_CONFIG or the default file */
        const char *runtime_dir; /* NULL: $MPSMIG_RUNTIME_DIR, the file's, or the default */
        bool whole_gpus;         /* also every GPU with MIG disabled or unsupported */
        int poll_ms;             /* 0: AGENT_POLL_MS_DEFAULT; < 0: no poll */
        int start_timeout_ms;    /* 0: OPS_START_TIMEOUT_MS_DEFAULT */
        int stop_timeout_ms;     /* 0: AGENT_STOP_TIMEOUT_MS_DEFAULT */
};

/* Runs the agent in the foreground until SIGTERM or SIGINT, after which every daemon it serves is
 * stopped (`quit`, escalated as `mpsmig stop` does) and its folders removed. Logs one line per
 * event on stderr, with a syslog priority prefix ("<4>") as journald reads it. Returns 0 after a
 * clean stop, or a negative errno with `err` when it could not begin (another agent serves the
 * runtime folder, no driver, a bad folder) or could not stop every daemon. */
int agent_run(const struct agent_options *options, struct error *err);
