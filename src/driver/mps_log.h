/* Reading what an MPS control daemon wrote into control.log and server.log: lines of the form
 * `[2026-11-25 05:53:00.600 Control   423] text` (docs/driver-facts-mps-control.md). Pure
 * functions over (text, length): no I/O, fuzzed. `mpsmig doctor` uses them to find the errors a
 * daemon logged since it started and the pinned-memory limits it was told to set. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MPS_LOG_STAMP_LEN  23 /* "YYYY-MM-DD HH:MM:SS.mmm" */
#define MPS_LOG_QUOTE_MAX  200
#define MPS_LOG_PINNED_MAX 8

/* One line, split. `text` points into the parsed buffer and is not NUL-terminated. */
struct mps_log_line {
        char stamp[MPS_LOG_STAMP_LEN + 1];
        char source[16]; /* "Control", "Server", "Other" */
        pid_t pid;
        const char *text;
        size_t text_size;
};

/* Parses one line (without its newline). -EBADMSG when it is not of the daemon's form. */
int mps_log_parse_line(const char *line, size_t size, struct mps_log_line *ret_line);

/* Whether a line's text reports a failure: it says error, fail, fault, invalid, cannot, unable,
 * denied or refused (in any case), or that a process exited with a non-zero status; but not the
 * line a server writes at every client's exit ("... assuming client {PID: N, ...} exit"). */
bool mps_log_text_is_error(const char *text, size_t size);

/* A pinned-memory limit the daemon was told to set: `Cmd:set_default_device_pinned_mem_limit
 * KEY VALUE` (or set_device_pinned_mem_limit SERVER KEY VALUE, per_server). */
struct mps_log_pinned {
        char key[96]; /* the device key as typed: "0", a UUID, "7" */
        char value[32];
        bool per_server;
};

/* What a log says from `since` on (a stamp as the lines carry it; "" for the whole log). */
struct mps_log_summary {
        size_t lines;       /* lines of the daemon's form from `since` on */
        size_t error_count; /* of them, those mps_log_text_is_error() takes for a failure */
        char first_error[MPS_LOG_QUOTE_MAX + 1]; /* the whole line, cut; "" when none */
        char last_error[MPS_LOG_QUOTE_MAX + 1];
        struct mps_log_pinned pinned[MPS_LOG_PINNED_MAX]; /* the last ones, in order */
        size_t pinned_count;
};

/* Scans a whole log. Lines not of the daemon's form are skipped (a log may begin with a cut
 * line). Never fails. */
void mps_log_scan(const char *text, size_t size, const char *since, struct mps_log_summary *ret);
