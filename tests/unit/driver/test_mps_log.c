/* Unit tests of the control.log / server.log reader: the line form driver 580 writes, what counts
 * as an error (and the client-exit line that does not), the `since` cut, and the pinned-limit
 * commands with their keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "driver/mps_log.h"

#define S(literal) literal, sizeof(literal) - 1

static void test_parse_line(void **state)
{
        (void)state;
        struct mps_log_line line;
        assert_int_equal(
            mps_log_parse_line(S("[2026-11-25 05:53:00.600 Control   423] Cmd:ps"), &line), 0);
        assert_string_equal(line.stamp, "2026-11-25 05:53:00.600");
        assert_string_equal(line.source, "Control");
        assert_int_equal(line.pid, 423);
        assert_int_equal(line.text_size, 6);
        assert_memory_equal(line.text, "Cmd:ps", 6);

        assert_int_equal(mps_log_parse_line(S("[2026-11-25 09:06:33.277 Server  1227] Creating "
                                              "server context on device 0"),
                                            &line),
                         0);
        assert_string_equal(line.source, "Server");
        assert_int_equal(line.pid, 1227);

        /* not the daemon's form */
        assert_int_equal(mps_log_parse_line(S(""), &line), -EBADMSG);
        assert_int_equal(mps_log_parse_line(S("Cmd:ps"), &line), -EBADMSG);
        assert_int_equal(mps_log_parse_line(S("[2026-11-25 05:53:00 Control 423] x"), &line),
                         -EBADMSG);
        assert_int_equal(mps_log_parse_line(S("[2026-11-25 05:53:00.600 Control] x"), &line),
                         -EBADMSG);
        assert_int_equal(
            mps_log_parse_line(S("[2026-11-25 05:53:00.600 Control 99999999999] x"), &line),
            -EBADMSG);
}

static void test_errors(void **state)
{
        (void)state;
        assert_true(mps_log_text_is_error(S("Invalid priority value - must be 0 or 1!")));
        assert_true(mps_log_text_is_error(S("Server 443 exited with status 1")));
        assert_true(mps_log_text_is_error(S("Failed to start server: ERROR 999")));
        assert_true(mps_log_text_is_error(S("User did not send valid credentials, access DENIED")));
        assert_false(mps_log_text_is_error(S("Server 443 exited with status 0")));
        assert_false(mps_log_text_is_error(S("NEW SERVER 443: Ready")));
        assert_false(
            mps_log_text_is_error(S("No default pinned memory limit set for the device!")));
        assert_false(mps_log_text_is_error(S("User did not send valid credentials")));
        /* Driver 580 writes this at every client's exit (H200, 2026-12-02). */
        assert_false(mps_log_text_is_error(
            S("Server failed to recevie command with status 806, assuming client {PID: 562, "
              "Context ID: 1} exit")));
        assert_true(mps_log_text_is_error(S("Server failed to recevie command with status 806")));
}

static const char log_text[] =
    "cut line from before\n"
    "[2026-11-25 05:53:00.574 Control   423] Starting control daemon using socket /x/control\n"
    "[2026-11-25 05:53:01.136 Control   423] Cmd:set_default_device_pinned_mem_limit 0 512M\n"
    "[2026-11-25 05:53:01.136 Control   423] set_default_device_pinned_mem_limit 0 512M.\n"
    "[2026-11-25 05:53:01.153 Control   423] Cmd:set_default_client_priority 2\n"
    "[2026-11-25 05:53:01.153 Control   423] Invalid priority value - must be 0 or 1!\n"
    "[2026-11-25 05:53:02.000 Control   423] Cmd:set_default_device_pinned_mem_limit 7 2G\n"
    "[2026-11-25 05:53:02.100 Control   423] Cmd:set_device_pinned_mem_limit 443 0 1G\n"
    "[2026-11-25 05:53:03.000 Control   423] Server 443 exited with status 3\n";

static void test_scan(void **state)
{
        (void)state;
        struct mps_log_summary summary;
        mps_log_scan(log_text, sizeof(log_text) - 1, "", &summary);
        assert_int_equal(summary.lines, 8);
        assert_int_equal(summary.error_count, 2);
        assert_non_null(strstr(summary.first_error, "Invalid priority value"));
        assert_non_null(strstr(summary.last_error, "exited with status 3"));
        assert_int_equal(summary.pinned_count, 3);
        assert_string_equal(summary.pinned[0].key, "0");
        assert_string_equal(summary.pinned[0].value, "512M");
        assert_false(summary.pinned[0].per_server);
        assert_string_equal(summary.pinned[1].key, "7");
        assert_string_equal(summary.pinned[1].value, "2G");
        assert_string_equal(summary.pinned[2].key, "0");
        assert_true(summary.pinned[2].per_server);

        /* from a stamp on: the earlier lines do not count */
        mps_log_scan(log_text, sizeof(log_text) - 1, "2026-11-25 05:53:02.000", &summary);
        assert_int_equal(summary.lines, 3);
        assert_int_equal(summary.error_count, 1);
        assert_int_equal(summary.pinned_count, 2);

        mps_log_scan(S(""), NULL, &summary);
        assert_int_equal(summary.lines, 0);
        assert_string_equal(summary.first_error, "");
}

static void test_scan_keeps_last_pinned(void **state)
{
        (void)state;
        char text[4096] = "";
        for (int i = 0; i < MPS_LOG_PINNED_MAX + 3; i++) {
                char line[160];
                (void)snprintf(line, sizeof(line),
                               "[2026-11-25 05:53:0%d.000 Control 1] "
                               "Cmd:set_default_device_pinned_mem_limit %d 1G\n",
                               i % 10, i);
                strcat(text, line);
        }
        struct mps_log_summary summary;
        mps_log_scan(text, strlen(text), NULL, &summary);
        assert_int_equal(summary.pinned_count, MPS_LOG_PINNED_MAX);
        char last[8];
        (void)snprintf(last, sizeof(last), "%d", MPS_LOG_PINNED_MAX + 2);
        assert_string_equal(summary.pinned[MPS_LOG_PINNED_MAX - 1].key, last);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_line),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_scan),
            cmocka_unit_test(test_scan_keeps_last_pinned),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
