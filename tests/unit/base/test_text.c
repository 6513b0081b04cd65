/* Unit tests of base/text: UTF-8 sequences told from invalid bytes (overlong forms, surrogates,
 * stray continuation bytes, past U+10FFFF), control characters replaced for display, and the
 * U+FFFD copy that JSON can carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/text.h"

static void test_sequence_lengths(void **state)
{
        (void)state;
        assert_int_equal(text_utf8_sequence_length("a"), 1);
        assert_int_equal(text_utf8_sequence_length("\xc3\xa9"), 2);         /* é */
        assert_int_equal(text_utf8_sequence_length("\xe2\x82\xac"), 3);     /* € */
        assert_int_equal(text_utf8_sequence_length("\xf0\x9f\x98\x80"), 4); /* U+1F600 */
        assert_int_equal(text_utf8_sequence_length("\x80"), 0);             /* continuation */
        assert_int_equal(text_utf8_sequence_length("\xc0\xaf"), 0);         /* overlong '/' */
        assert_int_equal(text_utf8_sequence_length("\xe0\x80\xaf"), 0);     /* overlong */
        assert_int_equal(text_utf8_sequence_length("\xed\xa0\x80"), 0);     /* surrogate */
        assert_int_equal(text_utf8_sequence_length("\xf4\x90\x80\x80"), 0); /* > U+10FFFF */
        assert_int_equal(text_utf8_sequence_length("\xc3"), 0);             /* cut short */
        assert_int_equal(text_utf8_sequence_length("\xff"), 0);
}

static void test_is_utf8(void **state)
{
        (void)state;
        assert_true(text_is_utf8(""));
        assert_true(text_is_utf8("NVIDIA A30 \xe2\x82\xac"));
        assert_false(text_is_utf8("/run/\xff\xfe"));
}

static void test_make_printable(void **state)
{
        (void)state;
        char name[] = "A30\x1b[31m\nrow\x07\x7f\xc3\xa9\xff";
        text_make_printable(name);
        assert_string_equal(name, "A30?[31m?row??\xc3\xa9?");
}

static void test_utf8_copy(void **state)
{
        (void)state;
        char *copy = text_utf8_copy("run-\xff\xc3\xa9\xc3");
        assert_non_null(copy);
        assert_string_equal(copy, "run-\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd");
        free(copy);
        copy = text_utf8_copy("\x1b keeps control characters: JSON escapes them");
        assert_non_null(copy);
        assert_string_equal(copy, "\x1b keeps control characters: JSON escapes them");
        free(copy);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sequence_lengths),
            cmocka_unit_test(test_is_utf8),
            cmocka_unit_test(test_make_printable),
            cmocka_unit_test(test_utf8_copy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
