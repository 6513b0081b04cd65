/* The INI reader: sections and keys with their line numbers, blanks and comments, CRLF, and each
 * refusal (duplicate key or section, a key before any section, a malformed line, control
 * characters, long names) as `FILE:LINE: message`; the file checks of ini_read_file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "base/ini.h"

static struct ini *parse_ok(const char *text)
{
        struct ini *ini = NULL;
        struct error err = {0};
        int r = ini_parse("t.conf", text, strlen(text), &ini, &err);
        if (r != 0)
                fail_msg("%s", err.message);
        return ini;
}

/* The refusal of `text`, which must be at `line` and mention `words`. */
static void parse_fails(const char *text, unsigned line, const char *words)
{
        struct ini *ini = (struct ini *)&line; /* poison: must not be written */
        struct error err = {0};
        assert_int_equal(ini_parse("t.conf", text, strlen(text), &ini, &err), -EINVAL);
        assert_ptr_equal(ini, (struct ini *)&line);
        char prefix[32];
        (void)snprintf(prefix, sizeof(prefix), "t.conf:%u: ", line);
        if (strncmp(err.message, prefix, strlen(prefix)) != 0 || !strstr(err.message, words))
                fail_msg("for %s: got \"%s\", wanted %s...%s", text, err.message, prefix, words);
}

static void test_sections_and_keys(void **state)
{
        _cleanup_ini_ struct ini *ini =
            parse_ok("# a comment\n"
                     "; another\n"
                     "\n"
                     "[global]\n"
                     "threads = 40\n"
                     "  pinned_mem=10G  \n"
                     "[gpu   0]\n"
                     "\tpriority =\t1\n"
                     "empty =\n"
                     "[ instance MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0 ]\n"
                     "start_server = root # not a comment\n");
        assert_int_equal(ini->section_count, 3);
        assert_string_equal(ini->sections[0].name, "global");
        assert_int_equal(ini->sections[0].line, 4);
        assert_int_equal(ini->sections[0].entry_count, 2);
        assert_string_equal(ini->sections[0].entries[0].key, "threads");
        assert_string_equal(ini->sections[0].entries[0].value, "40");
        assert_int_equal(ini->sections[0].entries[0].line, 5);
        assert_string_equal(ini->sections[0].entries[1].key, "pinned_mem");
        assert_string_equal(ini->sections[0].entries[1].value, "10G");
        assert_string_equal(ini->sections[1].name, "gpu 0");
        assert_string_equal(ini->sections[1].entries[0].value, "1");
        assert_string_equal(ini->sections[1].entries[1].key, "empty");
        assert_string_equal(ini->sections[1].entries[1].value, "");
        assert_string_equal(ini->sections[2].name,
                            "instance MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0");
        assert_int_equal(ini->sections[2].line, 10);
        assert_string_equal(ini->sections[2].entries[0].value, "root # not a comment");
        assert_non_null(ini_find_section(ini, "gpu 0"));
        assert_null(ini_find_section(ini, "gpu 1"));
}

static void test_crlf_and_no_final_newline(void **state)
{
        _cleanup_ini_ struct ini *ini = parse_ok("[global]\r\nthreads = 40\r\nlayout = seed");
        assert_int_equal(ini->sections[0].entry_count, 2);
        assert_string_equal(ini->sections[0].entries[0].value, "40");
        assert_string_equal(ini->sections[0].entries[1].value, "seed");
        assert_int_equal(ini->sections[0].entries[1].line, 3);
}

static void test_empty_text(void **state)
{
        _cleanup_ini_ struct ini *ini = parse_ok("");
        assert_int_equal(ini->section_count, 0);
        _cleanup_ini_ struct ini *comments = parse_ok("# nothing\n\n   \n");
        assert_int_equal(comments->section_count, 0);
}

static void test_refusals(void **state)
{
        parse_fails("threads = 1\n", 1, "comes before any section");
        parse_fails("[global]\nthreads = 1\nthreads = 2\n", 3,
                    "duplicate key 'threads' in [global] (first at line 2)");
        parse_fails("[gpu 0]\n[global]\n[gpu  0]\n", 3, "section [gpu 0] is already at line 1");
        parse_fails("[global]\njust words\n", 2, "expected `KEY = VALUE`");
        parse_fails("[global\n", 1, "ends with ']'");
        parse_fails("[]\n", 1, "empty section name");
        parse_fails("[a]b]\n", 1, "cannot hold ']'");
        parse_fails("[global]\n= 3\n", 2, "a key is missing");
        parse_fails("[global]\nthread s = 3\n", 2, "holds ' '");
        parse_fails("[global]\nthreads = 4\x1b[0m\n", 2, "control character 0x1b");
        parse_fails("[global]\nx = a\rb\n", 2, "control character 0x0d");
}

static void test_nul_byte(void **state)
{
        static const char text[] = "[global]\nthreads = 4\0 0\n";
        struct ini *ini = NULL;
        struct error err = {0};
        assert_int_equal(ini_parse("t.conf", text, sizeof(text) - 1, &ini, &err), -EINVAL);
        assert_string_equal(err.message,
                            "t.conf:2: control character 0x00: a configuration file is text");
}

static void test_long_names(void **state)
{
        char text[INI_SECTION_MAX + 64];
        /* a MIG UUID and more fits a section name: libinih's 50 would not */
        (void)snprintf(text, sizeof(text), "[instance MIG-%s]\n",
                       "22f0c05f-5cf2-5ea2-8297-789695656dc0-22f0c05f-5cf2-5ea2-8297-789");
        _cleanup_ini_ struct ini *ini = parse_ok(text);
        assert_int_equal(strlen(ini->sections[0].name), strlen(text) - 3);

        memset(text, 'a', sizeof(text));
        text[0] = '[';
        text[INI_SECTION_MAX + 2] = ']';
        text[INI_SECTION_MAX + 3] = '\0';
        parse_fails(text, 1, "longer than");
        char key[INI_KEY_MAX + 32] = "[g]\n";
        memset(key + 4, 'k', INI_KEY_MAX + 1);
        strcpy(key + 4 + INI_KEY_MAX + 1, " = 1\n");
        parse_fails(key, 2, "key longer than");
}

static void test_too_big(void **state)
{
        struct ini *ini = NULL;
        struct error err = {0};
        assert_int_equal(ini_parse("t.conf", "", INI_FILE_MAX + 1, &ini, &err), -EFBIG);
}

static void test_error_at(void **state)
{
        struct error err = {0};
        assert_int_equal(ini_error_at(&err, -EINVAL, "/etc/x.conf", 12, "bad %s", "thing"),
                         -EINVAL);
        assert_string_equal(err.message, "/etc/x.conf:12: bad thing");
        assert_int_equal(err.code, -EINVAL);
}

static char folder[] = "/tmp/mpsmig-test-ini.XXXXXX";

static void write_file(const char *name, const char *text, mode_t mode, char *path, size_t size)
{
        (void)snprintf(path, size, "%s/%s", folder, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        (void)close(fd);
}

static void test_read_file(void **state)
{
        char path[512];
        write_file("good.conf", "[global]\nthreads = 40\n", 0644, path, sizeof(path));
        struct ini *ini = NULL;
        struct error err = {0};
        assert_int_equal(ini_read_file(path, &ini, &err), 0);
        assert_string_equal(ini->path, path);
        assert_string_equal(ini->sections[0].entries[0].value, "40");
        ini_free(ini);

        write_file("open.conf", "[global]\n", 0666, path, sizeof(path));
        ini = NULL;
        assert_int_equal(ini_read_file(path, &ini, &err), -EPERM);
        assert_non_null(strstr(err.message, "writable by other users"));
        assert_null(ini);

        write_file("bad.conf", "[global]\n\nx\n", 0600, path, sizeof(path));
        assert_int_equal(ini_read_file(path, &ini, &err), -EINVAL);
        char expected[600];
        (void)snprintf(expected, sizeof(expected), "%s:3: ", path);
        assert_int_equal(strncmp(err.message, expected, strlen(expected)), 0);

        (void)snprintf(path, sizeof(path), "%s/missing.conf", folder);
        assert_int_equal(ini_read_file(path, &ini, &err), -ENOENT);
        assert_int_equal(ini_read_file(folder, &ini, &err), -EINVAL);
        assert_non_null(strstr(err.message, "not a regular file"));
}

static int setup(void **state)
{
        return mkdtemp(folder) ? 0 : -1;
}

static int teardown(void **state)
{
        char command[128];
        (void)snprintf(command, sizeof(command), "rm -rf '%s'", folder);
        return system(command) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sections_and_keys),
            cmocka_unit_test(test_crlf_and_no_final_newline),
            cmocka_unit_test(test_empty_text),
            cmocka_unit_test(test_refusals),
            cmocka_unit_test(test_nul_byte),
            cmocka_unit_test(test_long_names),
            cmocka_unit_test(test_too_big),
            cmocka_unit_test(test_error_at),
            cmocka_unit_test(test_read_file),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
