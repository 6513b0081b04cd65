/* Unit tests of the MPS control program's answer parser: every answer form in
 * docs/driver-facts-mps-control.md, the concatenated overview, and malformed text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "driver/mps_answer.h"

#define S(literal) literal, sizeof(literal) - 1

static void assert_message_has(const struct error *err, const char *needle)
{
        if (!strstr(err->message, needle))
                fail_msg("message \"%s\" lacks \"%s\"", err->message, needle);
}

static void test_pid_list(void **state)
{
        (void)state;
        struct error err = {0};
        pid_t *pids = NULL;
        size_t count = 99;

        assert_int_equal(mps_answer_pid_list("get_server_list", S(""), &pids, &count, &err), 0);
        assert_int_equal(count, 0);
        free(pids);

        assert_int_equal(
            mps_answer_pid_list("get_server_list", S("472\n1234\n"), &pids, &count, &err), 0);
        assert_int_equal(count, 2);
        assert_int_equal(pids[0], 472);
        assert_int_equal(pids[1], 1234);
        free(pids);

        /* no final newline, trailing blanks */
        assert_int_equal(mps_answer_pid_list("get_client_list", S("437  "), &pids, &count, &err),
                         0);
        assert_int_equal(count, 1);
        assert_int_equal(pids[0], 437);
        free(pids);
}

static void test_pid_list_refusals(void **state)
{
        (void)state;
        struct error err = {0};
        pid_t *pids = (pid_t *)&err; /* a sentinel: must stay untouched on failure */
        size_t count = 99;

        assert_int_equal(mps_answer_pid_list("get_client_list", S("Server PID not found\n"), &pids,
                                             &count, &err),
                         MPS_ANSWER_NOT_FOUND);
        assert_message_has(&err, "get_client_list");
        assert_int_equal(mps_answer_pid_list("get_client_list", S("Server 4242 not found\n"), &pids,
                                             &count, &err),
                         MPS_ANSWER_NOT_FOUND);
        assert_int_equal(mps_answer_pid_list("get_server_list",
                                             S("Cannot find MPS control daemon process\n"), &pids,
                                             &count, &err),
                         MPS_ANSWER_NO_DAEMON);
        assert_int_equal(mps_answer_pid_list("get_server_list",
                                             S("Unknown command \"get_server_lst\"\n"), &pids,
                                             &count, &err),
                         MPS_ANSWER_UNKNOWN_COMMAND);
        assert_message_has(&err, "Unknown command \\\"get_server_lst\\\"");

        static const char *const bad[] = {"abc\n",         "12 34\n",  "0\n",    "-5\n", "+5\n",
                                          "99999999999\n", "472\nx\n", "12\r\n", "4.5\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                error_clear(&err);
                assert_int_equal(mps_answer_pid_list("get_server_list", bad[i], strlen(bad[i]),
                                                     &pids, &count, &err),
                                 MPS_ANSWER_MALFORMED);
                assert_message_has(&err, "'get_server_list'");
        }
        assert_message_has(&err, "line 1: \"4.5\"");

        assert_int_equal(
            mps_answer_pid_list("get_server_list", "47\0002\n", 5, &pids, &count, &err),
            MPS_ANSWER_MALFORMED);
        assert_message_has(&err, "NUL");
        assert_ptr_equal(pids, (pid_t *)&err);
        assert_int_equal(count, 99);
}

static void test_long_line_is_quoted_cut(void **state)
{
        (void)state;
        char text[2000];
        memset(text, 'x', sizeof(text));
        text[5] = '\x01';
        struct error err = {0};
        pid_t *pids;
        size_t count;
        assert_int_equal(
            mps_answer_pid_list("get_server_list", text, sizeof(text), &pids, &count, &err),
            MPS_ANSWER_MALFORMED);
        assert_message_has(&err, "xxxxx\\x01xx");
        assert_message_has(&err, "...\"");
        assert_true(strlen(err.message) < 400);
}

static void test_ps_table(void **state)
{
        (void)state;
        struct error err = {0};
        struct mps_ps ps;
        static const char table[] =
            "PID       ID        SERVER         DEVICE                    NAMESPACE      "
            "COMMAND\n"
            "437       1         472            GPU-6be11410-4fce-b72c    4026531836     "
            "python3\n"
            "512       2         472            MIG-0e42e9b2-1a2b-3c4d    4026531836     "
            "/opt/my app/bin/train --fast\n";
        assert_int_equal(mps_answer_ps(S(table), &ps, &err), 0);
        assert_false(ps.no_server);
        assert_int_equal(ps.count, 2);
        assert_int_equal(ps.rows[0].pid, 437);
        assert_int_equal(ps.rows[0].id, 1);
        assert_int_equal(ps.rows[0].server, 472);
        assert_string_equal(ps.rows[0].device, "GPU-6be11410-4fce-b72c");
        assert_true(ps.rows[0].namespace == 4026531836ULL);
        assert_string_equal(ps.rows[0].command, "python3");
        assert_int_equal(ps.rows[1].id, 2);
        assert_string_equal(ps.rows[1].command, "/opt/my app/bin/train --fast");
        mps_ps_done(&ps);

        assert_int_equal(mps_answer_ps(S("PID ID SERVER DEVICE NAMESPACE COMMAND\n"), &ps, &err),
                         0);
        assert_int_equal(ps.count, 0);
        assert_false(ps.no_server);
        mps_ps_done(&ps);

        assert_int_equal(mps_answer_ps(S("Server not found\n"), &ps, &err), 0);
        assert_true(ps.no_server);
        assert_int_equal(ps.count, 0);
        mps_ps_done(&ps);
}

static void test_ps_malformed(void **state)
{
        (void)state;
        struct error err = {0};
        struct mps_ps ps;
        static const char *const bad[] = {
            "PID ID SERVER DEVICE COMMAND\n",
            "PID ID SERVER DEVICE NAMESPACE COMMAND EXTRA\n",
            "437 1 472 GPU-6 4026531836 python3\n", /* no header */
            "PID ID SERVER DEVICE NAMESPACE COMMAND\n437 1 472 GPU-6 4026531836\n",
            "PID ID SERVER DEVICE NAMESPACE COMMAND\n437 x 472 GPU-6 4026531836 p\n",
            "PID ID SERVER DEVICE NAMESPACE COMMAND\n437 1 472 GPU-6 -1 p\n",
            ("PID ID SERVER DEVICE NAMESPACE COMMAND\n437 1 472 "
             "GPU-0123456789012345678901234567890123456789012345678901234567890123 1 p\n"),
            "PID ID SERVER DEVICE NAMESPACE COMMAND\n100.0\n",
            "Server not found\nServer not found\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                error_clear(&err);
                if (mps_answer_ps(bad[i], strlen(bad[i]), &ps, &err) != MPS_ANSWER_MALFORMED)
                        fail_msg("accepted: %s", bad[i]);
                assert_message_has(&err, "'ps'");
        }
        assert_int_equal(mps_answer_ps(S("Cannot find MPS control daemon process\n"), &ps, &err),
                         MPS_ANSWER_NO_DAEMON);
}

static void test_percentage(void **state)
{
        (void)state;
        struct error err = {0};
        double v = -1;
        const char *cmd = "get_default_active_thread_percentage";
        assert_int_equal(mps_answer_percentage(cmd, S("100.0\n"), &v, &err), 0);
        assert_true(v == 100.0);
        assert_int_equal(mps_answer_percentage(cmd, S("50.0"), &v, &err), 0);
        assert_true(v == 50.0);
        assert_int_equal(mps_answer_percentage(cmd, S("12.5\n"), &v, &err), 0);
        assert_true(v == 12.5);
        assert_int_equal(mps_answer_percentage(cmd, S("40\n"), &v, &err), 0);
        assert_true(v == 40.0);
        assert_int_equal(mps_answer_percentage("get_active_thread_percentage",
                                               S("Server PID not found\n"), &v, &err),
                         MPS_ANSWER_NOT_FOUND);

        static const char *const bad[] = {"150.0\n", "100.5\n",     "abc\n",        "50.\n",
                                          ".5\n",    "-1.0\n",      "50.0\n50.0\n", "5e1\n",
                                          "1000\n",  "50.1234567\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (mps_answer_percentage(cmd, bad[i], strlen(bad[i]), &v, &err) !=
                    MPS_ANSWER_MALFORMED)
                        fail_msg("accepted: %s", bad[i]);
        assert_int_equal(mps_answer_percentage(cmd, S(""), &v, &err), MPS_ANSWER_MALFORMED);
        assert_message_has(&err, "ended before a percentage");
        assert_true(v == 40.0);
}

static void test_pinned_limit(void **state)
{
        (void)state;
        struct error err = {0};
        struct mps_pinned_limit limit;
        const char *cmd = "get_default_device_pinned_mem_limit";

        assert_int_equal(mps_answer_pinned_limit(cmd, S("2G\n"), &limit, &err), 0);
        assert_true(limit.set);
        assert_true(limit.bytes == 2ULL << 30);
        assert_string_equal(limit.text, "2G");
        assert_int_equal(mps_answer_pinned_limit(cmd, S("1500M\n"), &limit, &err), 0);
        assert_true(limit.bytes == 1500ULL << 20);
        assert_int_equal(mps_answer_pinned_limit(cmd, S(""), &limit, &err), 0);
        assert_false(limit.set);
        assert_int_equal(mps_answer_pinned_limit(cmd, S("\n"), &limit, &err), 0);
        assert_false(limit.set);

        static const char *const bad[] = {"2X\n",          "G\n",   "2G\n3G\n",
                                          "2 G\n",         "-2G\n", "99999999999999999999G\n",
                                          "20000000000G\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (mps_answer_pinned_limit(cmd, bad[i], strlen(bad[i]), &limit, &err) !=
                    MPS_ANSWER_MALFORMED)
                        fail_msg("accepted: %s", bad[i]);
}

static void test_pinned_limit_parse(void **state)
{
        (void)state;
        unsigned long long b;
        assert_int_equal(mps_pinned_limit_parse(S("512K"), &b), 0);
        assert_true(b == 512ULL << 10);
        assert_int_equal(mps_pinned_limit_parse(S("3T"), &b), 0);
        assert_true(b == 3ULL << 40);
        assert_int_equal(mps_pinned_limit_parse(S("1024"), &b), 0);
        assert_true(b == 1024);
        assert_int_equal(mps_pinned_limit_parse(S("2g"), &b), 0);
        assert_true(b == 2ULL << 30);
        assert_int_equal(mps_pinned_limit_parse(S(""), &b), -EINVAL);
        assert_int_equal(mps_pinned_limit_parse(S("16777216T"), &b), -EINVAL); /* 2^64 */
        assert_int_equal(mps_pinned_limit_parse(S("16777215T"), &b), 0);
        assert_int_equal(mps_pinned_limit_parse(S("1.5G"), &b), -EINVAL);
}

static void test_priority_and_status(void **state)
{
        (void)state;
        struct error err = {0};
        int p = -1;
        assert_int_equal(mps_answer_priority("get_default_client_priority", S("1\n"), &p, &err), 0);
        assert_int_equal(p, 1);
        assert_int_equal(mps_answer_priority("get_default_client_priority", S("0"), &p, &err), 0);
        assert_int_equal(p, 0);
        assert_int_equal(mps_answer_priority("get_default_client_priority", S("x\n"), &p, &err),
                         MPS_ANSWER_MALFORMED);
        assert_int_equal(mps_answer_priority("get_default_client_priority", S(""), &p, &err),
                         MPS_ANSWER_MALFORMED);
        assert_int_equal(mps_answer_priority("get_default_client_priority", S("1\n1\n"), &p, &err),
                         MPS_ANSWER_MALFORMED);
        assert_int_equal(p, 0);

        enum mps_server_status s;
        assert_int_equal(mps_answer_server_status(S("ACTIVE\n"), &s, &err), 0);
        assert_int_equal(s, MPS_SERVER_ACTIVE);
        assert_int_equal(mps_answer_server_status(S("INITIALIZING\n"), &s, &err), 0);
        assert_int_equal(s, MPS_SERVER_INITIALIZING);
        assert_int_equal(mps_answer_server_status(S("FAULT"), &s, &err), 0);
        assert_int_equal(s, MPS_SERVER_FAULT);
        assert_int_equal(mps_answer_server_status(S("Server PID not found\n"), &s, &err),
                         MPS_ANSWER_NOT_FOUND);
        /* driver 580 names the pid (docs/hardware/2026-11-25/mps_control_unknowns.txt) */
        assert_int_equal(mps_answer_server_status(S("Server 1 not found\n"), &s, &err),
                         MPS_ANSWER_NOT_FOUND);
        assert_int_equal(mps_answer_server_status(S("Server 1 not found!\n"), &s, &err),
                         MPS_ANSWER_NOT_FOUND);
        assert_int_equal(mps_answer_server_status(S("Server x not found\n"), &s, &err),
                         MPS_ANSWER_MALFORMED);
        assert_int_equal(mps_answer_server_status(S("Server  not found\n"), &s, &err),
                         MPS_ANSWER_MALFORMED);
        assert_int_equal(mps_answer_server_status(S("active\n"), &s, &err), MPS_ANSWER_MALFORMED);
        assert_message_has(&err, "\"active\"");
        assert_int_equal(mps_answer_server_status(S(""), &s, &err), MPS_ANSWER_MALFORMED);
}

static void test_empty(void **state)
{
        (void)state;
        struct error err = {0};
        assert_int_equal(mps_answer_empty("quit", S(""), &err), 0);
        assert_int_equal(mps_answer_empty("quit", S("\n"), &err), 0);
        assert_int_equal(mps_answer_empty("shutdown_server", S("Server PID not found\n"), &err),
                         MPS_ANSWER_NOT_FOUND);
        assert_int_equal(mps_answer_empty("quit", S("bye\n"), &err), MPS_ANSWER_MALFORMED);
        assert_message_has(&err, "'quit', line 1: \"bye\"");
        assert_int_equal(
            mps_answer_empty("quit", S("Cannot find MPS control daemon process\n"), &err),
            MPS_ANSWER_NO_DAEMON);
        assert_int_equal(mps_answer_empty("set_default_client_priority",
                                          S("Unknown command \"set_default_client_priority\"\n"),
                                          &err),
                         MPS_ANSWER_UNKNOWN_COMMAND);
}

static void test_overview_idle(void **state)
{
        (void)state;
        struct error err = {0};
        struct mps_overview o;
        assert_int_equal(mps_answer_overview(S("Server not found\n100.0\n0\n"), &o, &err), 0);
        assert_int_equal(o.server_count, 0);
        assert_true(o.ps.no_server);
        assert_true(o.default_active_thread_percentage == 100.0);
        assert_false(o.default_pinned_limit.set);
        assert_int_equal(o.default_client_priority, 0);
        mps_overview_done(&o);
}

static void test_overview_busy(void **state)
{
        (void)state;
        struct error err = {0};
        struct mps_overview o;
        static const char text[] =
            "472\n"
            "990\n"
            "PID       ID        SERVER         DEVICE                    NAMESPACE      "
            "COMMAND\n"
            "437       1         472            GPU-6be11410-4fce-b72c    4026531836     "
            "/usr/bin/python3\n"
            "40.0\n"
            "2G\n"
            "1\n";
        assert_int_equal(mps_answer_overview(S(text), &o, &err), 0);
        assert_int_equal(o.server_count, 2);
        assert_int_equal(o.servers[0], 472);
        assert_int_equal(o.servers[1], 990);
        assert_int_equal(o.ps.count, 1);
        assert_string_equal(o.ps.rows[0].command, "/usr/bin/python3");
        assert_true(o.default_active_thread_percentage == 40.0);
        assert_true(o.default_pinned_limit.set);
        assert_true(o.default_pinned_limit.bytes == 2ULL << 30);
        assert_int_equal(o.default_client_priority, 1);
        mps_overview_done(&o);

        /* a server with no client: the header alone, then the defaults */
        assert_int_equal(mps_answer_overview(S("472\nPID ID SERVER DEVICE NAMESPACE COMMAND\n"
                                               "100.0\n1G\n0\n"),
                                             &o, &err),
                         0);
        assert_int_equal(o.server_count, 1);
        assert_int_equal(o.ps.count, 0);
        assert_true(o.default_pinned_limit.bytes == 1ULL << 30);
        mps_overview_done(&o);

        /* a server with no client, as simgpu answers: ps prints nothing */
        assert_int_equal(mps_answer_overview(S("472\n100.0\n2G\n0\n"), &o, &err), 0);
        assert_int_equal(o.server_count, 1);
        assert_false(o.ps.no_server);
        assert_int_equal(o.ps.count, 0);
        assert_true(o.default_pinned_limit.bytes == 2ULL << 30);
        assert_int_equal(o.default_client_priority, 0);
        mps_overview_done(&o);
}

static void test_overview_malformed(void **state)
{
        (void)state;
        struct error err = {0};
        struct mps_overview o;
        static const char *const bad[] = {
            "",
            "472\n",
            "Server not found\n",
            "Server not found\n100.0\n",
            "Server not found\n100.0\n2G\n1\n1\n",
            "Server not found\nabc\n0\n",
            "Server not found\n100.0\n2X\n0\n",
            "Server not found\n100.0\n2G\nx\n",
            "472\n100\n1\n", /* a percentage without its point passes for a PID */
            "472\n100\n2G\n1\n",
            "472\nServer not found\nPID ID SERVER DEVICE NAMESPACE COMMAND\n100.0\n0\n",
            "472\nPID ID SERVER DEVICE NAMESPACE COMMAND\n437 1 472 GPU-1 x python\n100.0\n0\n",
            "Server not found\n100\n2G\n0\n\x80\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                error_clear(&err);
                if (mps_answer_overview(bad[i], strlen(bad[i]), &o, &err) != MPS_ANSWER_MALFORMED)
                        fail_msg("accepted: %s", bad[i]);
                assert_true(err.message[0] != '\0');
        }
        assert_int_equal(mps_answer_overview(S("Server not found\n100.0\n"
                                               "Unknown command \"get_default_client_priority\"\n"),
                                             &o, &err),
                         MPS_ANSWER_UNKNOWN_COMMAND);
        assert_int_equal(
            mps_answer_overview(S("Cannot find MPS control daemon process\n"), &o, &err),
            MPS_ANSWER_NO_DAEMON);
}

static void test_start_failure(void **state)
{
        (void)state;
        struct error err = {0};
        const char *uuid = "MIG-22f0aaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        assert_int_equal(mps_answer_start_failure(100, S(""), S(""), uuid, "/run/p", &err),
                         -ENODEV);
        assert_message_has(&err, "CUDA_VISIBLE_DEVICES=MIG-22f0aaaa");
        assert_int_equal(mps_answer_start_failure(1,
                                                  S("An instance of this daemon is already "
                                                    "running\n"),
                                                  S(""), uuid, "/run/p", &err),
                         -EALREADY);
        assert_message_has(&err, "/run/p");
        assert_int_equal(mps_answer_start_failure(1, S(""),
                                                  S("Cannot access CUDA_MPS_PIPE_DIRECTORY=/x\n"
                                                    "Warning: Failed writing log files to "
                                                    "directory [/y]. No logs will be available.\n"),
                                                  uuid, "/x", &err),
                         -ENOENT);
        assert_message_has(&err, "pipe folder /x");
        assert_int_equal(mps_answer_start_failure(1, S("start line\n"), S("\nsomething odd\n"),
                                                  NULL, NULL, &err),
                         -EIO);
        assert_message_has(&err, "status 1");
        assert_message_has(&err, "\"something odd\"");
        assert_int_equal(mps_answer_start_failure(3, S(""), S(""), NULL, "/p", &err), -EIO);
        assert_message_has(&err, "printing nothing");
}

/* device_query as driver 580 prints it (docs/hardware/2026-11-25/mps_control_unknowns2.txt):
 * the default table's UUIDs, not the servers' tables after it. */
static void test_device_query(void **state)
{
        (void)state;
        static const char header[] = "Device Ordinal  PCI IDs        UUID                      "
                                     "                Name                              "
                                     "Attributes\n";
        char text[2048];
        snprintf(text, sizeof(text),
                 "Default\n%s"
                 "0               0000:17.00.00  MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0  "
                 "NVIDIA A30 MIG 1c.2g.12gb         N/A\n"
                 "1               0000:65.00.00  GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38  "
                 "NVIDIA A30                        N/A\n"
                 "\nServer 1227\n%s"
                 "0               0000:00.06.00  GPU-66184e3a-638b-8d4f-daca-73dda4e74343  "
                 "NVIDIA H100 80GB HBM3             N/A\n",
                 header, header);
        char devices[256];
        struct error err = {0};
        assert_int_equal(
            mps_answer_device_query(text, strlen(text), devices, sizeof(devices), &err), 0);
        assert_string_equal(devices, "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0,"
                                     "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38");
        char small[50];
        assert_int_equal(mps_answer_device_query(text, strlen(text), small, sizeof(small), &err),
                         -E2BIG);
        assert_int_equal(
            mps_answer_device_query(S("Default\nnot a header\n"), devices, sizeof(devices), &err),
            MPS_ANSWER_MALFORMED);
        assert_int_equal(mps_answer_device_query(S("Cannot find MPS control daemon process\n"),
                                                 devices, sizeof(devices), &err),
                         MPS_ANSWER_NO_DAEMON);
}

static void test_defaults(void **state)
{
        struct mps_defaults_answer d;
        struct error err = {0};
        const char *set_all = "40.0\n40.0\n1G\n1\n";
        assert_int_equal(mps_answer_defaults(set_all, strlen(set_all), true, &d, &err), 0);
        assert_true(d.thread_percentage == 40.0);
        assert_true(d.pinned.set);
        assert_string_equal(d.pinned.text, "1G");
        assert_int_equal(d.client_priority, 1);

        const char *read_only = "100.0\n0\n";
        assert_int_equal(mps_answer_defaults(read_only, strlen(read_only), false, &d, &err), 0);
        assert_false(d.pinned.set);
        assert_int_equal(d.client_priority, 0);

        /* a setter that answered what it should not (an invalid priority) */
        const char *refused = "100.0\nInvalid priority value - must be 0 or 1!\n0\n";
        assert_int_equal(mps_answer_defaults(refused, strlen(refused), false, &d, &err),
                         MPS_ANSWER_MALFORMED);
        assert_int_equal(mps_answer_defaults("40.0\n", 5, true, &d, &err), MPS_ANSWER_MALFORMED);
        assert_non_null(strstr(err.message, "ended before"));
        const char *extra = "100.0\n2G\n0\n7\n";
        assert_int_equal(mps_answer_defaults(extra, strlen(extra), false, &d, &err),
                         MPS_ANSWER_MALFORMED);

        assert_int_equal(mps_pinned_limit_read_back(1500ULL << 20), 1ULL << 30);
        assert_int_equal(mps_pinned_limit_read_back(512ULL << 20), 512ULL << 20);
        assert_int_equal(mps_pinned_limit_read_back(10ULL << 30), 10ULL << 30);
        char text[32];
        mps_pinned_limit_format(10ULL << 30, text, sizeof(text));
        assert_string_equal(text, "10G");
        mps_pinned_limit_format(1500ULL << 20, text, sizeof(text));
        assert_string_equal(text, "1500M");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_pid_list),
            cmocka_unit_test(test_pid_list_refusals),
            cmocka_unit_test(test_long_line_is_quoted_cut),
            cmocka_unit_test(test_ps_table),
            cmocka_unit_test(test_ps_malformed),
            cmocka_unit_test(test_percentage),
            cmocka_unit_test(test_pinned_limit),
            cmocka_unit_test(test_pinned_limit_parse),
            cmocka_unit_test(test_priority_and_status),
            cmocka_unit_test(test_empty),
            cmocka_unit_test(test_overview_idle),
            cmocka_unit_test(test_overview_busy),
            cmocka_unit_test(test_overview_malformed),
            cmocka_unit_test(test_start_failure),
            cmocka_unit_test(test_device_query),
            cmocka_unit_test(test_defaults),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
