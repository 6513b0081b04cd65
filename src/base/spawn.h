/* Runs one child program to completion under a deadline: posix_spawn (fork and exec to run it as
 * another user) with an absolute path and an explicit environment, stdin from a buffer, stdout and
 * stderr captured, one poll() over a pidfd and the pipes; on timeout SIGTERM, a grace period,
 * SIGKILL, reap. Starting a child without waiting for it is spawn_child.h's. Also builds
 * environments. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/spawn_child.h"

#define SPAWN_OUTPUT_MAX_DEFAULT                                                                   \
        (1024 * 1024)               /* bytes kept per stream; the rest is read, dropped */
#define SPAWN_GRACE_MS_DEFAULT 1000 /* between SIGTERM and SIGKILL */

/* The user a child runs as, set in the child after fork and before exec: supplementary groups
 * dropped (setgroups to none), then the group, then the user. Needs root (CAP_SETUID and
 * CAP_SETGID). */
struct spawn_credentials {
        uid_t uid;
        gid_t gid;
};

struct spawn_options {
        const char *path;  /* absolute path of the program; never searched in PATH */
        char *const *argv; /* NULL-terminated; argv[0] is what the child sees as its name */
        char *const *envp; /* NULL-terminated, the child's WHOLE environment; never inherited */
        const char *stdin_data; /* fed to the child's stdin, then closed; NULL: /dev/null */
        size_t stdin_size;
        int timeout_ms;    /* deadline for the child's exit, from the spawn; > 0 for spawn_run, and
                            * 0 for spawn_start means none */
        int grace_ms;      /* after SIGTERM before SIGKILL; 0: SPAWN_GRACE_MS_DEFAULT */
        size_t output_max; /* per stream; 0: SPAWN_OUTPUT_MAX_DEFAULT */
        /* NULL: the child runs as we do (posix_spawn). Otherwise fork, the credentials, exec: a
         * child that cannot take them is not run, and the error names the step that failed. */
        const struct spawn_credentials *credentials;
        bool stdout_to_null;    /* stdout goes to /dev/null instead of being captured */
        bool own_process_group; /* the child leads a process group of its own */
};

struct spawn_result {
        pid_t pid;
        bool exited;     /* exit_status is valid */
        int exit_status; /* 0-255 */
        bool signaled;   /* term_signal is valid (also after our own SIGTERM/SIGKILL) */
        int term_signal;
        bool timed_out; /* the deadline passed and we signalled the child */
        char *out;      /* captured stdout, NUL-terminated, never NULL after success */
        size_t out_size;
        bool out_truncated;
        char *err; /* captured stderr, likewise */
        size_t err_size;
        bool err_truncated;
};

/* Runs the child and waits until it has exited (or the deadline forced it to), then drains what
 * its pipes hold at that moment: a grandchild that inherited the pipes (a daemon the child forked)
 * does not hold the call up. Returns 0 with *ret_result filled whenever the child ran, even if it
 * failed, was killed or timed out: look at the result. Negative errno (and `err`) when it could not
 * be started: -EINVAL for a relative path or bad options, the posix_spawn error otherwise (or the
 * error of the step of `credentials` that failed, -EPERM when we are not root).
 * Thread-safe. Free the result with spawn_result_done(). */
int spawn_run(const struct spawn_options *options, struct spawn_result *ret_result,
              struct error *err);

/* Frees the captured text; leaves the result zeroed. NULL-safe. */
void spawn_result_done(struct spawn_result *result);

/* "exited with status 3", "was killed by signal 9 (Killed)", "timed out after 5000 ms and was
 * killed by signal 15 (Terminated)": for messages. Writes into buf, returns buf. */
const char *spawn_result_describe(const struct spawn_result *result, int timeout_ms, char *buf,
                                  size_t size);

/* An environment under construction: a NULL-terminated array of "NAME=value" strings owned by the
 * builder. Initialise with ENV_BUILDER_INIT (or zero it); release with env_builder_done(). A later
 * assignment to the same NAME replaces the earlier one. */
struct env_builder {
        char **entries; /* NULL-terminated once anything was added */
        size_t count;
        size_t capacity;
};
#define ENV_BUILDER_INIT                                                                           \
        {                                                                                          \
                NULL, 0, 0                                                                         \
        }

/* Adds "NAME=value" (copied). -EINVAL if there is no '=' or NAME is empty, -ENOMEM. */
int env_builder_add(struct env_builder *builder, const char *assignment);

/* Adds NAME=value (both copied). */
int env_builder_set(struct env_builder *builder, const char *name, const char *value);

/* Copies NAME from the current environment if it is set there; 0 either way. */
int env_builder_pass(struct env_builder *builder, const char *name);

/* Copies every variable of the current environment whose name starts with `prefix`. */
int env_builder_pass_prefix(struct env_builder *builder, const char *prefix);

/* The value of NAME in the builder, or NULL. */
const char *env_builder_get(const struct env_builder *builder, const char *name);

/* The NULL-terminated array for spawn_options.envp (an empty environment if nothing was added);
 * valid until the builder changes or is released. NULL only on -ENOMEM. */
char *const *env_builder_array(struct env_builder *builder);

void env_builder_done(struct env_builder *builder);
