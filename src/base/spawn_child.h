/* A child process started and not yet waited for: its pidfd and pipes, so that whoever started it
 * can watch it in a poll loop of its own (the agent watches many at once) or wait for it at once
 * (spawn_run). The child is reaped only by the one who started it. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

struct spawn_options;
struct spawn_result;

/* Room for every fd a child asks to be watched: pidfd, stdout, stderr, stdin. */
#define SPAWN_CHILD_POLLFDS 4

/* What a child wrote on one stream, up to `max` bytes; the rest is read and dropped. */
struct spawn_stream {
        int fd; /* our read end, -1 once closed */
        char *data;
        size_t size;
        size_t capacity;
        size_t max;
        bool truncated;
};

/* Filled by spawn_start; read its fields, change them only through the functions below. */
struct spawn_child {
        pid_t pid;
        int pidfd; /* -1 where the kernel has no pidfd_open: spawn_child_step polls instead */
        int stdin_fd;
        const char *stdin_data; /* the caller's buffer, which must outlive the child */
        size_t stdin_size;
        size_t stdin_written;
        struct spawn_stream out, err;
        long long deadline_ms; /* monotonic; 0: none */
        int grace_ms;          /* after the SIGTERM of a passed deadline, before SIGKILL */
        int status;            /* waitpid's, once reaped */
        bool reaped;
        bool timed_out;
        bool killed; /* ended by spawn_child_done, not by itself */
};

/*
 * Starts the child that `options` describe (spawn.h) and returns at once: its pid, a pidfd, its
 * stdin fed from options->stdin_data, its stdout (unless options->stdout_to_null) and stderr
 * captured through non-blocking pipes. options->timeout_ms 0 gives no deadline. On success the
 * child must be released with spawn_child_done(), which never leaves it unreaped.
 */
int spawn_start(const struct spawn_options *options, struct spawn_child *ret_child,
                struct error *err);

/* The fds to poll for the child, each with its events; returns how many (at most
 * SPAWN_CHILD_POLLFDS). None once it is reaped, or for a zeroed child (pid 0). */
size_t spawn_child_pollfds(const struct spawn_child *child, struct pollfd *fds);

/* The time (monotonic ms) by which spawn_child_step must run again for the deadline (or, without
 * a pidfd, to poll the child); 0 when nothing is due. */
long long spawn_child_wakeup_ms(const struct spawn_child *child);

/* The non-blocking work: feeds stdin, reads what the pipes hold, reaps the child if it exited,
 * and enforces the deadline (SIGTERM, then SIGKILL after the grace). Call it after poll() said any
 * of its fds is ready, or at its wakeup time. Returns 1 once the child is reaped (what its pipes
 * held then is read too: a grandchild that kept them open does not hold the caller up), 0 while
 * it runs, -ENOMEM (the child is then killed and reaped), -EINVAL for a child never started. */
int spawn_child_step(struct spawn_child *child);

/* Sends `signal` to the child through its pidfd (or its pid, which cannot have been reused before
 * it is reaped). 0, or a negative errno; nothing once reaped. */
int spawn_child_signal(struct spawn_child *child, int signal);

/* Hands out what stream `stream` (&child->out or &child->err) captured since the last take
 * (malloc'd, NUL-terminated, NULL when nothing), so that a long-lived child's output can be
 * forwarded as it comes instead of kept. */
char *spawn_stream_take(struct spawn_stream *stream, size_t *ret_size);

/* The result of a reaped child (spawn_result as spawn_run returns it); the captured text moves
 * into it. -EINVAL before it is reaped, -ENOMEM. */
int spawn_child_result(struct spawn_child *child, struct spawn_result *ret_result);

/* Releases the child: one still running is killed (SIGKILL) and reaped; fds closed, text freed;
 * pid set to 0. NULL-safe, idempotent, and a no-op on a zeroed child (pid 0: never started). */
void spawn_child_done(struct spawn_child *child);
