/* Unit tests of the hints' words: each hint after its message, the target it is about, and the
 * folder options of the invocation repeated in the command it suggests (quoted for a shell). */
#include "cli/hints.c"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static const char *text_of(struct error *err, char *buffer, size_t size)
{
        return cli_error_text(err, buffer, size);
}

static void test_no_hint_is_the_message(void **state)
{
        (void)state;
        char buffer[2048];
        struct error err = {0};
        assert_string_equal(text_of(&err, buffer, sizeof(buffer)), "unknown error");
        (void)error_set(&err, -EIO, "it broke");
        assert_string_equal(text_of(&err, buffer, sizeof(buffer)), "it broke");
}

static void test_hint_after_message(void **state)
{
        (void)state;
        char buffer[2048];
        struct error err = {0};
        cli_set_hint_folders(LAYOUT_DEFAULT, NULL);
        (void)error_set(&err, -ETIMEDOUT, "the daemon in /x (pid 4) runs but does not answer");
        assert_int_equal(error_hint(&err, ERROR_HINT_STOP_FORCE), -ETIMEDOUT);
        assert_string_equal(text_of(&err, buffer, sizeof(buffer)),
                            "the daemon in /x (pid 4) runs but does not answer: see `mpsmig "
                            "status`; `mpsmig stop --force` ends it");
        /* error_set forgets an earlier hint */
        (void)error_set(&err, -EIO, "other");
        assert_string_equal(text_of(&err, buffer, sizeof(buffer)), "other");
}

static void test_target_and_folders(void **state)
{
        (void)state;
        char buffer[2048];
        struct error err = {0};
        cli_set_hint_folders(LAYOUT_SEED, "/my dir");
        (void)error_set(&err, -ESRCH, "not running");
        (void)error_hint_on(&err, ERROR_HINT_START, "0:1:0");
        assert_string_equal(text_of(&err, buffer, sizeof(buffer)),
                            "not running; start it with `mpsmig start --layout seed --runtime-dir "
                            "'/my dir' 0:1:0`");
        (void)error_hint_on(&err, ERROR_HINT_RESTART, "1");
        assert_string_equal(text_of(&err, buffer, sizeof(buffer)),
                            "not running; see `mpsmig status --layout seed --runtime-dir '/my dir' "
                            "1`, restart it with `mpsmig stop --force --layout seed --runtime-dir "
                            "'/my dir' 1` then `mpsmig start --layout seed --runtime-dir '/my dir' "
                            "1`");
        cli_set_hint_folders(LAYOUT_DEFAULT, NULL);
        (void)error_hint(&err, ERROR_HINT_START); /* every target: no name */
        assert_string_equal(text_of(&err, buffer, sizeof(buffer)),
                            "not running; start them with `mpsmig start`");
        error_clear(&err);
        assert_int_equal(err.hint, ERROR_HINT_NONE);
        assert_string_equal(err.hint_target, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_no_hint_is_the_message),
            cmocka_unit_test(test_hint_after_message),
            cmocka_unit_test(test_target_and_folders),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
