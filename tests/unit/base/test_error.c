/* Unit tests for the error value: codes pass through, prefixes stack, long text is cut safely. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"

static void set_returns_code_and_formats(void **state)
{
        struct error err = {0};
        assert_int_equal(error_set(&err, -ENOENT, "no %s %d", "gpu", 7), -ENOENT);
        assert_int_equal(err.code, -ENOENT);
        assert_string_equal(err.message, "no gpu 7");
}

static void set_without_error_value_returns_code(void **state)
{
        assert_int_equal(error_set(NULL, -EIO, "ignored"), -EIO);
        assert_int_equal(error_prefix(NULL, "ignored"), 0);
}

static void prefix_stacks(void **state)
{
        struct error err = {0};
        error_set(&err, -EIO, "read failed");
        assert_int_equal(error_prefix(&err, "instance %s", "0:1:0"), -EIO);
        error_prefix(&err, "start");
        assert_string_equal(err.message, "start: instance 0:1:0: read failed");
}

static void long_text_is_cut_not_overflowed(void **state)
{
        struct error err = {0};
        char long_text[3000];
        memset(long_text, 'x', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        error_set(&err, -E2BIG, "%s", long_text);
        assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
        error_prefix(&err, "%s", long_text);
        assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
        error_set(&err, -E2BIG, "tail");
        error_prefix(&err, "%s", long_text);
        assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
        assert_int_equal(err.message[0], 'x');
}

static void clear_resets(void **state)
{
        struct error err = {0};
        error_set(&err, -EIO, "x");
        error_clear(&err);
        assert_int_equal(err.code, 0);
        assert_string_equal(err.message, "");
        error_clear(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(set_returns_code_and_formats),
            cmocka_unit_test(set_without_error_value_returns_code),
            cmocka_unit_test(prefix_stacks),
            cmocka_unit_test(long_text_is_cut_not_overflowed),
            cmocka_unit_test(clear_resets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
