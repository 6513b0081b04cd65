/* What a program needs in its environment to be a client of one target's MPS daemon (for `mpsmig
 * env` and `mpsmig run`): the device, the daemon's folders and the per-client limits asked for,
 * and the shell quoting `env` prints them with. */
#pragma once

#include <stddef.h>

#include "base/error.h"
#include "node/node.h"

/* Per-client limits a run asks for; each is applied through the client's own environment, which
 * can only lower what the daemon allows. */
struct client_limits {
        unsigned thread_percentage;      /* 1-100; 0: not asked */
        unsigned long long pinned_bytes; /* a whole number of MiB; 0: not asked */
        int priority;                    /* 0 (normal) or 1 (below normal); -1: not asked */
};
#define CLIENT_LIMITS_INIT                                                                         \
        {                                                                                          \
                0, 0, -1                                                                           \
        }

/* "25" -> 25; anything but a whole number 1..100 is -EINVAL with a message. */
int client_limit_parse_threads(const char *text, unsigned *ret_percentage, struct error *err);
/* "2G", "512M", "1536M", "1T" -> bytes; 0, fractions of a MiB and junk are -EINVAL. */
int client_limit_parse_pinned_mem(const char *text, unsigned long long *ret_bytes,
                                  struct error *err);
/* "0" or "1". */
int client_limit_parse_priority(const char *text, int *ret_priority, struct error *err);

#define CLIENT_ENV_MAX       6
#define CLIENT_ENV_VALUE_MAX 4200 /* a path and a little more */

struct client_variable {
        const char *name; /* a string constant */
        char value[CLIENT_ENV_VALUE_MAX];
};

/* The variables, in a fixed order: CUDA_VISIBLE_DEVICES, CUDA_MPS_PIPE_DIRECTORY,
 * CUDA_MPS_LOG_DIRECTORY, then those of the limits asked for. */
struct client_environment {
        struct client_variable variables[CLIENT_ENV_MAX];
        size_t count;
};

/*
 * Fills the variables for a client of `target` whose daemon uses `pipe_dir` and `log_dir`.
 * CUDA_VISIBLE_DEVICES is the target's UUID; a pinned limit is keyed by device 0, which is how a
 * daemon started on one device sees it (CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G).
 */
int client_environment_build(const struct target *target, const char *pipe_dir, const char *log_dir,
                             const struct client_limits *limits,
                             struct client_environment *ret_environment, struct error *err);

/* The value of NAME in the environment, or NULL. */
const char *client_environment_get(const struct client_environment *environment, const char *name);

/* `value` as one word of a POSIX shell: unchanged when every character is safe
 * ([A-Za-z0-9_@%+=:,./-], and not empty), otherwise in single quotes with each ' written '\''.
 * Returns a malloc'd string in *ret_word, or -ENOMEM. */
int shell_quote(const char *value, char **ret_word);
