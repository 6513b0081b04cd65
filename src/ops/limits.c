/* A daemon's default limits as the configuration (or `mpsmig set`) asks for them: set through the
 * control program, read back, and compared knowing how the program reads them back (a pinned
 * limit rounded down to whole G); and a server started ahead of the first client, waited for
 * until it is ready. Used by start and set. */
#define _GNU_SOURCE
#include "ops/limits.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/flock_wait.h"

#define SERVER_POLL_MS 10 /* between looks at a server that is starting */

struct mps_defaults limits_wanted(const struct target_limits *limits)
{
        struct mps_defaults want = MPS_DEFAULTS_KEEP;
        want.thread_percentage = limits->threads;
        want.pinned_bytes = limits->pinned_bytes;
        want.client_priority = limits->priority;
        return want;
}

bool limits_pinned_rounded(unsigned long long bytes)
{
        return bytes > 0 && mps_pinned_limit_read_back(bytes) != bytes;
}

/* Appends "; " and a phrase to `text`. */
static void add_phrase(char *text, size_t size, const char *phrase)
{
        size_t used = strlen(text);
        (void)snprintf(text + used, size - used, "%s%s", used ? "; " : "", phrase);
}

int limits_compare(const struct mps_defaults *want, const struct mps_defaults_answer *read,
                   char *mismatch, size_t size)
{
        char phrase[256];
        mismatch[0] = '\0';
        if (want->thread_percentage > 0) {
                double difference = read->thread_percentage - (double)want->thread_percentage;
                if (difference > 0.05 || difference < -0.05) {
                        (void)snprintf(phrase, sizeof(phrase),
                                       "the active thread percentage reads back %.1f, not %u",
                                       read->thread_percentage, want->thread_percentage);
                        add_phrase(mismatch, size, phrase);
                }
        }
        if (want->pinned_bytes > 0) {
                char sent[32], expected[32];
                mps_pinned_limit_format(want->pinned_bytes, sent, sizeof(sent));
                mps_pinned_limit_format(mps_pinned_limit_read_back(want->pinned_bytes), expected,
                                        sizeof(expected));
                if (!read->pinned.set ||
                    read->pinned.bytes != mps_pinned_limit_read_back(want->pinned_bytes)) {
                        (void)snprintf(phrase, sizeof(phrase),
                                       "the pinned memory limit of device 0 reads back %s after "
                                       "%s was set (expected %s)",
                                       read->pinned.set ? read->pinned.text : "unset", sent,
                                       expected);
                        add_phrase(mismatch, size, phrase);
                }
        }
        if (want->client_priority >= 0 && read->client_priority != want->client_priority) {
                (void)snprintf(phrase, sizeof(phrase), "the client priority reads back %d, not %d",
                               read->client_priority, want->client_priority);
                add_phrase(mismatch, size, phrase);
        }
        return mismatch[0] ? -EIO : 0;
}

int limits_apply(const struct mps_endpoint *endpoint, const struct mps_defaults *want,
                 struct mps_defaults_answer *ret_read, struct error *err)
{
        struct mps_defaults_answer read;
        int r = mps_control_set_defaults(endpoint, want, &read, err);
        if (r < 0)
                return r;
        *ret_read = read;
        char mismatch[sizeof(err->message) - 160];
        if (limits_compare(want, &read, mismatch, sizeof(mismatch)) < 0)
                return error_set(err, -EIO,
                                 "the daemon did not take the limits asked for: %s (the control "
                                 "program ignores a value it does not accept, silently)",
                                 mismatch);
        return 0;
}

/* Whether the daemon has a server that takes clients: listed by get_server_list and no longer
 * "Server not found" to `ps` (a starting server is listed at once, `ps` finds it only once it is
 * ready: docs/driver-facts.md). */
static int ready_server(const struct mps_endpoint *endpoint, pid_t *ret_server, struct error *err)
{
        struct mps_overview overview;
        int r = mps_control_overview(endpoint, &overview, err);
        if (r < 0)
                return r;
        bool ready = overview.server_count > 0 && !overview.ps.no_server;
        if (ready)
                *ret_server = overview.servers[0];
        mps_overview_done(&overview);
        return ready ? 1 : 0;
}

int limits_server_ahead(const struct mps_endpoint *endpoint, unsigned uid, long long deadline_ms,
                        pid_t *ret_server, struct error *err)
{
        pid_t server = 0;
        int r = ready_server(endpoint, &server, err);
        if (r < 0)
                return r;
        if (r == 0) {
                r = mps_control_start_server(endpoint, uid, err);
                if (r < 0)
                        return r;
        }
        while (r == 0) {
                if (monotonic_now_ms() >= deadline_ms)
                        return error_set(err, -ETIMEDOUT,
                                         "the MPS server started ahead for uid %u was not ready "
                                         "in time (ps still said \"%s\")",
                                         uid, MPS_TEXT_PS_NO_SERVER);
                struct timespec pause = {0, SERVER_POLL_MS * 1000000L};
                (void)nanosleep(&pause, NULL);
                r = ready_server(endpoint, &server, err);
                if (r < 0)
                        return r;
        }
        *ret_server = server;
        return 0;
}
