/* The shared output helpers: table layout (widths, alignment, no trailing blanks, incomplete
 * rows), JSON printing, and the number formats. output.c is compiled into this test directly
 * because the cli layer is part of the program, not of the core library tests link with. */
#include "cli/output.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* What `print` wrote, as a malloc'd string. */
struct capture {
        char *text;
        size_t size;
        FILE *stream;
};

static void capture_begin(struct capture *c)
{
        c->text = NULL;
        c->size = 0;
        c->stream = open_memstream(&c->text, &c->size);
        assert_non_null(c->stream);
}

static const char *capture_end(struct capture *c)
{
        assert_int_equal(fclose(c->stream), 0);
        return c->text;
}

static const struct table_column columns[] = {
    {"NAME", TABLE_LEFT},
    {"COUNT", TABLE_RIGHT},
    {"NOTE", TABLE_LEFT},
};

static void test_table_sizes_columns_to_widest_cell(void **state)
{
        struct table *table = table_new(columns, 3);
        assert_non_null(table);
        table_cellf(table, "%s", "a");
        table_cellf(table, "%d", 7);
        table_cellf(table, "short");
        table_cellf(table, "longer name");
        table_cellf(table, "%d", 123456);
        table_cellf(table, "x");

        struct capture c;
        capture_begin(&c);
        assert_int_equal(table_print(table, c.stream), 0);
        assert_string_equal(capture_end(&c), "NAME          COUNT  NOTE\n"
                                             "a                 7  short\n"
                                             "longer name  123456  x\n");
        free(c.text);
        table_free(table);
}

static const struct table_column uuid_columns[] = {
    {"TARGET", TABLE_LEFT},
    {"UUID", TABLE_UUID},
    {"NOTE", TABLE_LEFT},
};

/* Two rows whose UUIDs share their first 13 characters, and a note that makes the table 120
 * columns wide. */
static struct table *wide_uuid_table(void)
{
        struct table *table = table_new(uuid_columns, 3);
        assert_non_null(table);
        table_cellf(table, "0:1:0");
        table_cellf(table, "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0");
        table_cellf(table, "%070d", 0);
        table_cellf(table, "0:1:1");
        table_cellf(table, "MIG-22f0c05f-aad0-58b8-83d8-61bcd963d2e9");
        table_cellf(table, "-");
        return table;
}

/* Not a terminal (ctest's stdout): 100 columns; the UUIDs are cut to a prefix that still tells
 * them apart, plus an ellipsis that counts as one column. */
static void test_table_cuts_uuids_to_a_unique_prefix_when_too_wide(void **state)
{
        output_set_wide(false);
        assert_int_equal(output_table_width(), 100);
        struct table *table = wide_uuid_table();
        struct capture c;
        capture_begin(&c);
        assert_int_equal(table_print(table, c.stream), 0);
        char expected[512];
        (void)snprintf(expected, sizeof(expected),
                       "TARGET  UUID             NOTE\n"
                       "0:1:0   MIG-22f0c05f-5\u2026  %070d\n"
                       "0:1:1   MIG-22f0c05f-a\u2026  -\n",
                       0);
        assert_string_equal(capture_end(&c), expected);
        free(c.text);
        table_free(table);
}

static void test_table_wide_keeps_uuids_whole(void **state)
{
        output_set_wide(true);
        struct table *table = wide_uuid_table();
        struct capture c;
        capture_begin(&c);
        assert_int_equal(table_print(table, c.stream), 0);
        assert_non_null(strstr(capture_end(&c), "MIG-22f0c05f-aad0-58b8-83d8-61bcd963d2e9  -\n"));
        free(c.text);
        table_free(table);
        output_set_wide(false);
}

/* A table that fits is left alone. */
static void test_table_that_fits_keeps_uuids_whole(void **state)
{
        output_set_wide(false);
        struct table *table = table_new(uuid_columns, 3);
        table_cellf(table, "0:1:0");
        table_cellf(table, "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0");
        table_cellf(table, "-");
        struct capture c;
        capture_begin(&c);
        assert_int_equal(table_print(table, c.stream), 0);
        assert_string_equal(capture_end(&c),
                            "TARGET  UUID                                      NOTE\n"
                            "0:1:0   MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0  -\n");
        free(c.text);
        table_free(table);
}

static void test_table_without_rows_prints_its_header(void **state)
{
        _cleanup_table_ struct table *table = table_new(columns, 3);
        struct capture c;
        capture_begin(&c);
        assert_int_equal(table_print(table, c.stream), 0);
        assert_string_equal(capture_end(&c), "NAME  COUNT  NOTE\n");
        free(c.text);
}

static void test_table_refuses_a_half_row(void **state)
{
        _cleanup_table_ struct table *table = table_new(columns, 3);
        table_cellf(table, "only");
        table_cellf(table, "two");
        struct capture c;
        capture_begin(&c);
        assert_int_equal(table_print(table, c.stream), -EINVAL);
        assert_string_equal(capture_end(&c), "");
        free(c.text);
}

static void test_table_grows_past_its_first_allocation(void **state)
{
        static const struct table_column one[] = {{"N", TABLE_RIGHT}};
        _cleanup_table_ struct table *table = table_new(one, 1);
        for (int i = 0; i < 1000; i++)
                table_cellf(table, "%d", i);
        struct capture c;
        capture_begin(&c);
        assert_int_equal(table_print(table, c.stream), 0);
        const char *text = capture_end(&c);
        assert_int_equal(strncmp(text, "  N\n  0\n  1\n", 12), 0);
        assert_non_null(strstr(text, "\n999\n"));
        free(c.text);
}

static void test_json_is_indented_ordered_and_ends_with_a_newline(void **state)
{
        json_t *document = json_pack("{s:i, s:s, s:[i, o], s:{}}", "zeta", 1, "alpha", "x", "list",
                                     2, json_null(), "empty");
        assert_non_null(document);
        struct capture c;
        capture_begin(&c);
        assert_int_equal(output_json(document, c.stream), 0);
        assert_string_equal(capture_end(&c), "{\n"
                                             "  \"zeta\": 1,\n"
                                             "  \"alpha\": \"x\",\n"
                                             "  \"list\": [\n"
                                             "    2,\n"
                                             "    null\n"
                                             "  ],\n"
                                             "  \"empty\": {}\n"
                                             "}\n");
        free(c.text);
        json_decref(document);
}

static void test_number_formats(void **state)
{
        char buffer[32];
        format_mib(buffer, sizeof(buffer), 0);
        assert_string_equal(buffer, "-");
        format_mib(buffer, sizeof(buffer), 24576ULL * 1024 * 1024);
        assert_string_equal(buffer, "24576 MiB");
        format_mib(buffer, sizeof(buffer), 3ULL * 1024 * 1024 / 2); /* 1.5 MiB rounds down */
        assert_string_equal(buffer, "1 MiB");
        format_count(buffer, sizeof(buffer), 0);
        assert_string_equal(buffer, "-");
        format_count(buffer, sizeof(buffer), 132);
        assert_string_equal(buffer, "132");

        json_t *value = json_count_or_null(0);
        assert_true(json_is_null(value));
        json_decref(value);
        value = json_count_or_null(81559);
        assert_int_equal(json_integer_value(value), 81559);
        json_decref(value);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_table_sizes_columns_to_widest_cell),
            cmocka_unit_test(test_table_without_rows_prints_its_header),
            cmocka_unit_test(test_table_cuts_uuids_to_a_unique_prefix_when_too_wide),
            cmocka_unit_test(test_table_wide_keeps_uuids_whole),
            cmocka_unit_test(test_table_that_fits_keeps_uuids_whole),
            cmocka_unit_test(test_table_refuses_a_half_row),
            cmocka_unit_test(test_table_grows_past_its_first_allocation),
            cmocka_unit_test(test_json_is_indented_ordered_and_ends_with_a_newline),
            cmocka_unit_test(test_number_formats),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
