/* Unit tests of the reader of mpsmig-probe's JSON report: the report as the probe prints it (with
 * and without work, an allocation, a failure), and reports that are not the probe's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "driver/probe_client.h"

#define S(literal) literal, sizeof(literal) - 1

static void test_report(void **state)
{
        (void)state;
        struct probe_report_values v;
        struct error err = {0};
        assert_int_equal(
            probe_report_parse(
                S("{\"pid\":4242,\"cuda_driver_version\":13000,\"device_count\":1,\"devices\":[{"
                  "\"index\":0,\"name\":\"NVIDIA H200\",\"uuid\":\"GPU-bb86edd7-a5ce-02c4-9bae-"
                  "b3e9880653a3\",\"sm_count\":52,\"total_memory\":150754820096,\"kernel\":\"ok\","
                  "\"alloc\":{\"bytes\":3221225472,\"result\":\"CUDA_ERROR_OUT_OF_MEMORY\"}}],"
                  "\"timings\":\"real\",\"startup_seconds\":0.114908,\"work\":{\"kernels\":400,"
                  "\"blocks\":8,\"threads_per_block\":128,\"spin_cycles\":1000000,\"seconds\":0."
                  "203,\"begin\":100.5,\"end\":100.703,\"late_seconds\":0.000000},\"status\":"
                  "\"alloc_refused\"}\n"),
                &v, &err),
            0);
        assert_int_equal(v.pid, 4242);
        assert_int_equal(v.device_count, 1);
        assert_true(v.has_device);
        assert_string_equal(v.name, "NVIDIA H200");
        assert_int_equal(v.sm_count, 52);
        assert_true(v.kernel_ok);
        assert_true(v.alloc_tried);
        assert_int_equal(v.alloc_bytes, 3221225472ULL);
        assert_string_equal(v.alloc_result, "CUDA_ERROR_OUT_OF_MEMORY");
        assert_false(v.timings_simulated);
        assert_true(v.startup_seconds > 0.1149 && v.startup_seconds < 0.1150);
        assert_true(v.work_done);
        assert_int_equal(v.work_kernels, 400);
        assert_true(v.work_end - v.work_begin > 0.2);
        assert_string_equal(v.status, "alloc_refused");
        assert_string_equal(v.error, "");
}

static void test_failed_report(void **state)
{
        (void)state;
        struct probe_report_values v;
        struct error err = {0};
        assert_int_equal(probe_report_parse(S("{\"pid\":7,\"cuda_driver_version\":13000,"
                                              "\"device_count\":null,\"devices\":[],\"timings\":"
                                              "\"simulated\",\"startup_seconds\":null,\"status\":"
                                              "\"failed\",\"error\":\"cuInit failed: "
                                              "CUDA_ERROR_NO_DEVICE (no CUDA-capable device)\"}"),
                                            &v, &err),
                         0);
        assert_int_equal(v.device_count, -1);
        assert_false(v.has_device);
        assert_true(v.timings_simulated);
        assert_true(v.startup_seconds < 0);
        assert_false(v.work_done);
        assert_non_null(strstr(v.error, "CUDA_ERROR_NO_DEVICE"));
}

static void test_not_a_report(void **state)
{
        (void)state;
        struct probe_report_values v = {.pid = 99};
        struct error err = {0};
        assert_int_equal(probe_report_parse(S("pid: 4242\n"), &v, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "not JSON"));
        assert_int_equal(probe_report_parse(S("[]"), &v, &err), -EBADMSG);
        assert_int_equal(probe_report_parse(S("{\"pid\":0,\"devices\":[],\"timings\":\"real\","
                                              "\"status\":\"ok\"}"),
                                            &v, &err),
                         -EBADMSG);
        assert_non_null(strstr(err.message, "\"pid\""));
        assert_int_equal(probe_report_parse(S("{\"pid\":1,\"devices\":[{\"sm_count\":\"x\"}],"
                                              "\"timings\":\"real\",\"status\":\"ok\"}"),
                                            &v, &err),
                         -EBADMSG);
        assert_int_equal(probe_report_parse(S("{\"pid\":1,\"devices\":[],\"timings\":\"real\","
                                              "\"work\":{\"kernels\":1,\"seconds\":1,\"begin\":5,"
                                              "\"end\":4,\"late_seconds\":0},\"status\":\"ok\"}"),
                                            &v, &err),
                         -EBADMSG);
        assert_int_equal(
            probe_report_parse(S("{\"pid\":1,\"devices\":[],\"timings\":\"real\"}"), &v, &err),
            -EBADMSG);
        assert_int_equal(v.pid, 99); /* untouched on failure */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_report),
            cmocka_unit_test(test_failed_report),
            cmocka_unit_test(test_not_a_report),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
