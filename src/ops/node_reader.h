/* The node read through NVML in a forked child, so that a caller keeps working meanwhile (start
 * starts daemons, the agent serves its socket) and a driver that hangs or crashes takes only the
 * child with it. Whoever begins a read reaps its child: a long-running process leaves no zombie. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "node/node.h"
#include "ops/ops.h"

#define NODE_READER_TIMEOUT_MS 30000 /* a driver that hangs longer is reported, not waited for */
#define NODE_READER_EXIT_MS    2000  /* how long an answered child may take to shut NVML down */

struct node_reader {
        bool begun;  /* node_reader_begin ran: node_reader_done owes a release */
        pid_t child; /* 0: none (read in this process, or reaped) */
        int pidfd;   /* the child's, -1 when none */
        int pipe_fd; /* the read end of its answer, -1 once read */
        char *text;  /* the answer so far */
        size_t used;
        long long deadline_ms;
        bool finished;     /* the answer is in, or could not be had: result says which */
        bool answered;     /* the child wrote a whole answer */
        int result;        /* 0, or a negative errno with `error` and `failure` */
        struct node *node; /* on success, until taken */
        enum ops_failure failure;
        struct error error;
};

/* Forks the child that loads NVML and writes the node (node_cache_format_with_lost) into a pipe;
 * without a pipe or a fork, reads the node here and now (finished at once). Never fails: a failure
 * is the reader's result. */
void node_reader_begin(struct node_reader *reader);

/* For a poll loop: reads what the pipe holds, without blocking. Returns true once finished (the
 * answer parsed into `node`, or `result` saying why not, the deadline included). */
bool node_reader_feed(struct node_reader *reader);

/* Blocks until finished, at most until the deadline. */
void node_reader_wait(struct node_reader *reader);

/* Reaps the child if it has exited, without blocking. True when no child is left. */
bool node_reader_try_reap(struct node_reader *reader);

/* Releases the reader: a child that did not answer is killed; one that did is given
 * NODE_READER_EXIT_MS to shut NVML down, then killed; either way reaped. The node, if not taken,
 * is freed. NULL-safe; a zeroed reader (never begun) is a no-op. */
void node_reader_done(struct node_reader *reader);
