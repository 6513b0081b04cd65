/* Unit tests of the agent's protocol: an error keeps its code, message, hint and the target the
 * hint is about; a status row and a stop result come back as they went; what is malformed is
 * refused, not half read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/protocol.h"

static void test_error_round_trip(void **state)
{
        (void)state;
        struct error err = {0};
        (void)error_set(&err, -ESRCH, "the MPS daemon of 0:1:0 is stopped");
        (void)error_hint_on(&err, ERROR_HINT_START, "0:1:0");
        json_t *answer = agent_error_answer(&err, AGENT_FAILURE_REFUSED);
        assert_non_null(answer);
        assert_int_equal(json_integer_value(json_object_get(answer, "version")),
                         AGENT_PROTOCOL_VERSION);
        assert_true(json_is_false(json_object_get(answer, "ok")));
        assert_string_equal(json_string_value(json_object_get(answer, "failure")), "refused");
        struct error back = {0};
        agent_error_from_json(json_object_get(answer, "error"), &back);
        assert_int_equal(back.code, -ESRCH);
        assert_string_equal(back.message, err.message);
        assert_int_equal(back.hint, ERROR_HINT_START);
        assert_string_equal(back.hint_target, "0:1:0");
        json_decref(answer);

        /* An unknown hint is no hint; a code that is not a negative errno becomes -EIO. */
        json_t *odd = json_pack("{s:i, s:s, s:s}", "errno", 7, "message", "odd", "hint", "fly");
        agent_error_from_json(odd, &back);
        assert_int_equal(back.code, -EIO);
        assert_int_equal(back.hint, ERROR_HINT_NONE);
        json_decref(odd);
        agent_error_from_json(NULL, &back);
        assert_string_equal(back.message, "the agent gave no reason");
}

static void test_status_row_round_trip(void **state)
{
        (void)state;
        pid_t clients[] = {101, 102};
        struct status_server server = {
            .pid = 77, .uid = 0, .uid_known = true, .clients = clients, .client_count = 2};
        (void)snprintf(server.user, sizeof(server.user), "root");
        struct target target = {.kind = TARGET_MIG_DEVICE, .uuid = "MIG-22f0c05f"};
        struct status_result result = {
            .target = &target,
            .state = DAEMON_RUNNING,
            .pid = 42,
            .uptime_seconds = 3.5,
            .servers = &server,
            .server_count = 1,
            .client_count = 2,
            .default_thread_percentage = 40.0,
            .default_pinned_limit = {.set = true, .bytes = 2ULL << 30, .text = "2G"},
            .default_client_priority = 1,
        };
        struct agent_row row = {.supervision = "crash loop",
                                .restarts = 5,
                                .last_exit = "was killed by signal 9 (Killed)",
                                .last_exit_ago_ms = 1200,
                                .next_restart_ms = 1600,
                                .adopted = true,
                                .observed_ago_ms = -1,
                                .reservations = 3};
        json_t *json = agent_status_row_json(&result, &row);
        assert_non_null(json);
        assert_string_equal(json_string_value(json_object_get(json, "uuid")), "MIG-22f0c05f");

        struct status_result back = {0};
        struct agent_row back_row;
        assert_int_equal(agent_status_row_parse(json, &back, &back_row), 0);
        assert_int_equal(back.state, DAEMON_RUNNING);
        assert_int_equal(back.pid, 42);
        assert_int_equal(back.server_count, 1);
        assert_int_equal(back.servers[0].pid, 77);
        assert_string_equal(back.servers[0].user, "root");
        assert_int_equal(back.servers[0].client_count, 2);
        assert_int_equal(back.servers[0].clients[1], 102);
        assert_int_equal(back.client_count, 2);
        assert_true(back.default_pinned_limit.set);
        assert_string_equal(back.default_pinned_limit.text, "2G");
        assert_int_equal(back.default_client_priority, 1);
        assert_string_equal(back_row.supervision, "crash loop");
        assert_int_equal(back_row.restarts, 5);
        assert_string_equal(back_row.last_exit, row.last_exit);
        assert_int_equal(back_row.next_restart_ms, 1600);
        assert_int_equal(back_row.observed_ago_ms, -1);
        assert_true(back_row.adopted);
        assert_int_equal(back_row.reservations, 3);
        status_results_done(&back, 1);
        json_decref(json);

        json_t *bad = json_pack("{s:s}", "state", "dancing");
        struct status_result none = {0};
        assert_int_equal(agent_status_row_parse(bad, &none, &back_row), -EBADMSG);
        json_decref(bad);
}

static void test_stop_results_round_trip(void **state)
{
        (void)state;
        struct target targets[] = {{.uuid = "MIG-a"}, {.uuid = "MIG-b"}};
        struct stop_result results[2] = {
            {.target = &targets[0],
             .outcome = STOP_STOPPED,
             .step = STOP_STEP_SIGTERM,
             .pid = 9,
             .folders_removed = 3,
             .elapsed_ms = 2100},
            {.target = &targets[1], .outcome = STOP_FAILED},
        };
        (void)error_set(&results[1].error, -ETIMEDOUT, "still there after SIGKILL");
        json_t *answer = agent_stop_results_json(NULL, results, 2);
        assert_non_null(answer);
        assert_int_equal(json_integer_value(json_object_get(answer, "failed")), 1);
        struct stop_result back = {0};
        assert_int_equal(agent_stop_result_parse(answer, "MIG-a", &back), 0);
        assert_int_equal(back.outcome, STOP_STOPPED);
        assert_int_equal(back.step, STOP_STEP_SIGTERM);
        assert_int_equal(back.folders_removed, 3);
        assert_int_equal(back.elapsed_ms, 2100);
        memset(&back, 0, sizeof(back));
        assert_int_equal(agent_stop_result_parse(answer, "MIG-b", &back), 0);
        assert_int_equal(back.outcome, STOP_FAILED);
        assert_string_equal(back.error.message, "still there after SIGKILL");
        assert_int_equal(agent_stop_result_parse(answer, "MIG-c", &back), -ENOENT);
        json_decref(answer);

        struct error err = {0};
        (void)error_set(&err, -EACCES, "cannot take the node lock");
        answer = agent_stop_results_json(&err, NULL, 0);
        assert_true(json_is_false(json_object_get(answer, "ok")));
        json_decref(answer);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_error_round_trip),
            cmocka_unit_test(test_status_row_round_trip),
            cmocka_unit_test(test_stop_results_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
