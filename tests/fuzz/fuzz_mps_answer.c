/* Fuzz target for the MPS control program's answer parser: every input goes through every parser
 * (and, cut in two halves as stdout and stderr, through the `-d` failure reader), and what a
 * parser accepts must hold together. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver/mps_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parser that says yes must hand out values that obey the header's promises. */
static void check(bool ok)
{
        if (!ok)
                abort();
}

static void check_code(int r, struct error *err)
{
        check(r == 0 || r == MPS_ANSWER_NO_DAEMON || r == MPS_ANSWER_NOT_FOUND ||
              r == MPS_ANSWER_UNKNOWN_COMMAND || r == MPS_ANSWER_MALFORMED || r == -ENOMEM ||
              r == -E2BIG);
        check(r == 0 || (err->code == r && err->message[0] != '\0'));
        check(memchr(err->message, '\0', sizeof(err->message)) != NULL);
}

static void check_ps(const struct mps_ps *ps)
{
        check(!ps->no_server || ps->count == 0);
        for (size_t i = 0; i < ps->count; i++) {
                check(ps->rows[i].pid > 0 && ps->rows[i].server > 0);
                check(ps->rows[i].command && ps->rows[i].command[0] != '\0');
                check(memchr(ps->rows[i].device, '\0', sizeof(ps->rows[i].device)) != NULL);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        struct error err = {0};
        int r;

        pid_t *pids = NULL;
        size_t count = 0;
        r = mps_answer_pid_list("get_server_list", text, size, &pids, &count, &err);
        check_code(r, &err);
        for (size_t i = 0; r == 0 && i < count; i++)
                check(pids[i] > 0);
        if (r == 0)
                free(pids);

        char devices[256];
        r = mps_answer_device_query(text, size, devices, sizeof(devices), &err);
        check_code(r, &err);
        if (r == 0)
                check(memchr(devices, '\0', sizeof(devices)) != NULL);

        struct mps_ps ps;
        r = mps_answer_ps(text, size, &ps, &err);
        check_code(r, &err);
        if (r == 0) {
                check_ps(&ps);
                mps_ps_done(&ps);
        }

        double percent;
        r = mps_answer_percentage("get_default_active_thread_percentage", text, size, &percent,
                                  &err);
        check_code(r, &err);
        check(r != 0 || (percent >= 0.0 && percent <= 100.0));

        struct mps_pinned_limit limit;
        r = mps_answer_pinned_limit("get_default_device_pinned_mem_limit", text, size, &limit,
                                    &err);
        check_code(r, &err);
        check(r != 0 || !limit.set || limit.text[0] != '\0');

        unsigned long long bytes;
        (void)mps_pinned_limit_parse(text, size, &bytes);

        int priority;
        r = mps_answer_priority("get_default_client_priority", text, size, &priority, &err);
        check_code(r, &err);
        check(r != 0 || priority >= 0);

        enum mps_server_status status;
        r = mps_answer_server_status(text, size, &status, &err);
        check_code(r, &err);

        r = mps_answer_empty("quit", text, size, &err);
        check_code(r, &err);

        struct mps_overview overview;
        r = mps_answer_overview(text, size, &overview, &err);
        check_code(r, &err);
        if (r == 0) {
                check_ps(&overview.ps);
                check(overview.default_active_thread_percentage >= 0.0 &&
                      overview.default_active_thread_percentage <= 100.0);
                for (size_t i = 0; i < overview.server_count; i++)
                        check(overview.servers[i] > 0);
                mps_overview_done(&overview);
        }

        for (int thread_set = 0; thread_set <= 1; thread_set++) {
                struct mps_defaults_answer defaults = {.client_priority = 99};
                r = mps_answer_defaults(text, size, thread_set, &defaults, &err);
                check_code(r, &err);
                if (r == 0)
                        check(defaults.thread_percentage >= 0.0 &&
                              defaults.thread_percentage <= 100.0 &&
                              defaults.client_priority >= 0 && defaults.client_priority <= 1000 &&
                              (!defaults.pinned.set || defaults.pinned.text[0] != '\0'));
                else
                        check(defaults.client_priority == 99);
        }

        size_t half = size / 2;
        r = mps_answer_start_failure(size > 0 ? data[0] : 1, text, half, text + half, size - half,
                                     "MIG-00000000-0000-0000-0000-000000000000", "/run/mps", &err);
        check(r == -EALREADY || r == -ENODEV || r == -ENOENT || r == -EIO);
        check(err.message[0] != '\0');
        return 0;
}
