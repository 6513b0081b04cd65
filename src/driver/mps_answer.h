/* The parser of everything nvidia-cuda-mps-control prints: pid lists, `ps` tables, percentages,
 * pinned limits, priorities, server states, the refusals it answers with, the concatenated overview
 * and the stderr of a failed `-d`. Pure functions over (text, length): no I/O, fuzzed. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

/* What a parser returns besides 0, so callers can tell the refusals apart: */
#define MPS_ANSWER_NO_DAEMON       (-ESRCH)      /* "Cannot find MPS control daemon process" */
#define MPS_ANSWER_NOT_FOUND       (-ENOENT)     /* "Server PID not found" */
#define MPS_ANSWER_UNKNOWN_COMMAND (-EOPNOTSUPP) /* `Unknown command "X"` */
#define MPS_ANSWER_MALFORMED       (-EBADMSG)    /* anything else unexpected */

#define MPS_ANSWER_LINE_QUOTE_MAX 80 /* an offending line is quoted up to this many bytes */

/* The exact lines the control program prints. */
#define MPS_TEXT_NO_DAEMON "Cannot find MPS control daemon process"
/* The daemon serves one control client at a time and turns the others away with this. */
#define MPS_TEXT_BUSY             "Cannot send command to MPS control daemon process"
#define MPS_TEXT_SERVER_NOT_FOUND "Server PID not found"
#define MPS_TEXT_PS_NO_SERVER     "Server not found"
#define MPS_TEXT_ALREADY_RUNNING  "An instance of this daemon is already running"
#define MPS_TEXT_PIPE_DIR_ACCESS  "Cannot access CUDA_MPS_PIPE_DIRECTORY"
#define MPS_PS_HEADER_FIELDS      "PID ID SERVER DEVICE NAMESPACE COMMAND"

/* One line of `ps`. */
struct mps_ps_row {
        pid_t pid;                    /* the client */
        unsigned id;                  /* the daemon's number for the client */
        pid_t server;                 /* its server */
        char device[64];              /* the device UUID as printed: cut to 23 characters */
        unsigned long long namespace; /* the client's pid namespace inode */
        char *command;                /* the rest of the line: the client's executable path */
};

struct mps_ps {
        bool no_server; /* the answer was "Server not found" (then count is 0) */
        struct mps_ps_row *rows;
        size_t count;
};

/* A default pinned device memory limit as read back: unset, or a number with a unit. */
struct mps_pinned_limit {
        bool set;
        unsigned long long bytes; /* units are binary: 2G = 2 GiB */
        char text[32];            /* as printed, e.g. "2G" */
};

enum mps_server_status {
        MPS_SERVER_INITIALIZING,
        MPS_SERVER_ACTIVE,
        MPS_SERVER_FAULT,
};

/* What one client-mode invocation of MPS_OVERVIEW_COMMANDS tells about a daemon. */
struct mps_overview {
        pid_t *servers; /* get_server_list */
        size_t server_count;
        struct mps_ps ps;
        double default_active_thread_percentage;
        struct mps_pinned_limit default_pinned_limit; /* for the key the commands asked about */
        int default_client_priority;
};

/* Every parser: `command` (where there is one) names what was asked, for the message; on error
 * returns one of the MPS_ANSWER_* codes with `err` naming the command and quoting the offending
 * line; outputs are written only on success. A trailing newline is optional; "\r\n" is not. */

/* get_server_list, get_client_list: zero or more PIDs, one a line. */
int mps_answer_pid_list(const char *command, const char *text, size_t size, pid_t **ret_pids,
                        size_t *ret_count, struct error *err);

/* ps: the table or "Server not found". */
int mps_answer_ps(const char *text, size_t size, struct mps_ps *ret_ps, struct error *err);
void mps_ps_done(struct mps_ps *ps);

/* get_/set_default_active_thread_percentage, get_/set_active_thread_percentage: "50.0". */
int mps_answer_percentage(const char *command, const char *text, size_t size, double *ret_percent,
                          struct error *err);

/* get_default_device_pinned_mem_limit, get_device_pinned_mem_limit: "2G", "1500M" or nothing. */
int mps_answer_pinned_limit(const char *command, const char *text, size_t size,
                            struct mps_pinned_limit *ret_limit, struct error *err);

/* Parses one limit value the way the control program writes it ("2G", "1500M", "512K", "3T" or
 * plain bytes); used to validate what a user asks for too. -EINVAL if it is not one. */
int mps_pinned_limit_parse(const char *value, size_t size, unsigned long long *ret_bytes);

/* What the control program reads back for a pinned limit of `bytes`: whole G rounded down from
 * 1G up, the value itself below (driver 580: `1500M` reads back `1G`). */
unsigned long long mps_pinned_limit_read_back(unsigned long long bytes);

/* How a limit of `bytes` (a whole number of MiB) is written to the program: "<n>G" when a whole
 * number of GiB, else "<n>M" (driver 580 reads any other unit as MiB). */
void mps_pinned_limit_format(unsigned long long bytes, char *buffer, size_t size);

/* get_default_client_priority, get_client_priority: one integer. */
int mps_answer_priority(const char *command, const char *text, size_t size, int *ret_priority,
                        struct error *err);

/* get_server_status: INITIALIZING, ACTIVE or FAULT. */
int mps_answer_server_status(const char *text, size_t size, enum mps_server_status *ret_status,
                             struct error *err);

/* device_query: the UUIDs of the "Default" table (the devices the daemon serves), joined with ','
 * into `buffer` (-E2BIG when they do not fit). */
int mps_answer_device_query(const char *text, size_t size, char *buffer, size_t buffer_size,
                            struct error *err);

/* Commands that print nothing when they work (set_default_device_pinned_mem_limit,
 * set_default_client_priority, shutdown_server, quit, start_server ...). */
int mps_answer_empty(const char *command, const char *text, size_t size, struct error *err);

/* The commands whose concatenated answers mps_answer_overview() splits; the pinned limit is read
 * for device key "0" (the daemon sees its one device as 0). */
#define MPS_OVERVIEW_COMMANDS                                                                      \
        "get_server_list\n"                                                                        \
        "ps\n"                                                                                     \
        "get_default_active_thread_percentage\n"                                                   \
        "get_default_device_pinned_mem_limit 0\n"                                                  \
        "get_default_client_priority\n"

/* Splits the answers to MPS_OVERVIEW_COMMANDS by their shape (see docs/mps-control-client.md):
 * integer lines (servers), the ps block, one percentage, zero or one limit, one priority. */
int mps_answer_overview(const char *text, size_t size, struct mps_overview *ret_overview,
                        struct error *err);
void mps_overview_done(struct mps_overview *overview);

/* The default limits a daemon reads back. */
struct mps_defaults_answer {
        double thread_percentage;
        struct mps_pinned_limit pinned; /* for device key 0 */
        int client_priority;
};

/* The commands whose answers mps_answer_defaults() reads, after any set_default_* commands. */
#define MPS_DEFAULTS_COMMANDS                                                                      \
        "get_default_active_thread_percentage\n"                                                   \
        "get_default_device_pinned_mem_limit 0\n"                                                  \
        "get_default_client_priority\n"

/* Splits the answers of set_default_* commands followed by MPS_DEFAULTS_COMMANDS. Of the setters
 * only set_default_active_thread_percentage answers (the value in force: one line, read when
 * `thread_set` says it was sent); the pinned limit and priority setters answer nothing when they
 * work. Then one percentage, zero or one limit, one priority. */
int mps_answer_defaults(const char *text, size_t size, bool thread_set,
                        struct mps_defaults_answer *ret_defaults, struct error *err);

/* Turns a failed `-d` (exit status, and what it printed on stdout and stderr) into one sentence
 * in `err` and returns: -EALREADY (already running), -ENODEV (status 100: the driver does not know
 * the device), -ENOENT (cannot access the pipe folder), -EIO otherwise. `uuid` and `pipe_dir` are
 * named in the sentence (either may be NULL). */
int mps_answer_start_failure(int exit_status, const char *out, size_t out_size, const char *errtext,
                             size_t err_size, const char *uuid, const char *pipe_dir,
                             struct error *err);
