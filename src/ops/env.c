/* The environment of an MPS client of one target: the variables `mpsmig env` prints and
 * `mpsmig run` sets, the validation of the per-client limits, and POSIX shell quoting. */
#include "ops/env.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/mps_answer.h"

#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

int client_limit_parse_threads(const char *text, unsigned *ret_percentage, struct error *err)
{
        size_t len = strlen(text);
        bool digits = len > 0 && len <= 3 && strspn(text, "0123456789") == len;
        unsigned value = digits ? (unsigned)strtoul(text, NULL, 10) : 0;
        if (!digits || value < 1 || value > 100)
                return error_set(err, -EINVAL,
                                 "--threads '%s': give a whole percentage from 1 to 100", text);
        *ret_percentage = value;
        return 0;
}

int client_limit_parse_pinned_mem(const char *text, unsigned long long *ret_bytes,
                                  struct error *err)
{
        unsigned long long bytes = 0;
        /* A bare number is bytes to the driver, so "2" would ask for 2 bytes: the unit is what
         * is missing, not a bigger number. */
        size_t digits = strspn(text, "0123456789");
        if (digits > 0 && digits <= 9 && text[digits] == '\0' && strtoull(text, NULL, 10) > 0)
                return error_set(err, -EINVAL,
                                 "--pinned-mem '%s': the unit is missing: give %sG or %lluM", text,
                                 text, strtoull(text, NULL, 10) * 1024ULL);
        if (mps_pinned_limit_parse(text, strlen(text), &bytes) < 0 || bytes == 0)
                return error_set(err, -EINVAL,
                                 "--pinned-mem '%s': give a size with a unit, such as 2G or 512M",
                                 text);
        if (bytes % MIB != 0)
                return error_set(err, -EINVAL,
                                 "--pinned-mem '%s': give a whole number of MiB, such as 512M",
                                 text);
        *ret_bytes = bytes;
        return 0;
}

int client_limit_parse_priority(const char *text, int *ret_priority, struct error *err)
{
        if (strcmp(text, "0") != 0 && strcmp(text, "1") != 0)
                return error_set(err, -EINVAL,
                                 "--priority '%s': give 0 (normal) or 1 (below normal)", text);
        *ret_priority = text[0] - '0';
        return 0;
}

static int add(struct client_environment *environment, const char *name, struct error *err,
               const char *format, ...) __attribute__((format(printf, 4, 5)));

static int add(struct client_environment *environment, const char *name, struct error *err,
               const char *format, ...)
{
        if (environment->count == CLIENT_ENV_MAX)
                return error_set(err, -ENOBUFS, "too many variables for %s", name);
        struct client_variable *variable = &environment->variables[environment->count];
        va_list ap;
        va_start(ap, format);
        int n = vsnprintf(variable->value, sizeof(variable->value), format, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(variable->value))
                return error_set(err, -ENAMETOOLONG, "the value of %s would be too long", name);
        variable->name = name;
        environment->count++;
        return 0;
}

int client_environment_build(const struct target *target, const char *pipe_dir, const char *log_dir,
                             const struct client_limits *limits,
                             struct client_environment *ret_environment, struct error *err)
{
        struct client_environment environment = {.count = 0};
        int r = add(&environment, "CUDA_VISIBLE_DEVICES", err, "%s", target->uuid);
        if (r >= 0)
                r = add(&environment, "CUDA_MPS_PIPE_DIRECTORY", err, "%s", pipe_dir);
        if (r >= 0)
                r = add(&environment, "CUDA_MPS_LOG_DIRECTORY", err, "%s", log_dir);
        if (r >= 0 && limits && limits->thread_percentage > 0)
                r = add(&environment, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", err, "%u",
                        limits->thread_percentage);
        if (r >= 0 && limits && limits->pinned_bytes > 0) {
                /* The unit the control program itself prints: whole G when it divides, else M. */
                if (limits->pinned_bytes % GIB == 0)
                        r = add(&environment, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", err, "0=%lluG",
                                limits->pinned_bytes / GIB);
                else
                        r = add(&environment, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", err, "0=%lluM",
                                limits->pinned_bytes / MIB);
        }
        if (r >= 0 && limits && limits->priority >= 0)
                r = add(&environment, "CUDA_MPS_CLIENT_PRIORITY", err, "%d", limits->priority);
        if (r < 0)
                return r;
        *ret_environment = environment;
        return 0;
}

const char *client_environment_get(const struct client_environment *environment, const char *name)
{
        for (size_t i = 0; i < environment->count; i++)
                if (strcmp(environment->variables[i].name, name) == 0)
                        return environment->variables[i].value;
        return NULL;
}

static bool shell_safe(char c)
{
        return isalnum((unsigned char)c) || strchr("_@%+=:,./-", c);
}

int shell_quote(const char *value, char **ret_word)
{
        size_t len = strlen(value);
        bool safe = len > 0;
        size_t quotes = 0;
        for (size_t i = 0; i < len; i++) {
                safe = safe && shell_safe(value[i]);
                quotes += value[i] == '\'';
        }
        if (safe) {
                char *word = strdup(value);
                if (!word)
                        return -ENOMEM;
                *ret_word = word;
                return 0;
        }
        /* 'it'\''s': each quote closes the quoted part, adds an escaped quote, reopens it. */
        char *word = malloc(len + quotes * 3 + 3);
        if (!word)
                return -ENOMEM;
        char *p = word;
        *p++ = '\'';
        for (size_t i = 0; i < len; i++) {
                if (value[i] == '\'') {
                        memcpy(p, "'\\''", 4);
                        p += 4;
                } else {
                        *p++ = value[i];
                }
        }
        *p++ = '\'';
        *p = '\0';
        *ret_word = word;
        return 0;
}
