/* A reader of INI-style configuration text: `[section]` headers, `key = value` lines and
 * whole-line comments (`#` or `;`). Every section and key keeps its line number, so that the code
 * that gives them a meaning reports `FILE:LINE: message`; a duplicate key in a section, a section
 * given twice, a key before any section and a malformed line are errors here. What sections and
 * keys mean is the caller's business. Pure over (text, size) except ini_read_file; fuzzed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define INI_FILE_MAX    (1024 * 1024) /* bytes: a configuration file is small */
#define INI_SECTION_MAX 160           /* a section's name: "instance MIG-<36>" fits twice over */
#define INI_KEY_MAX     64
#define INI_VALUE_MAX   4096

struct ini_entry {
        char *key;   /* letters, digits, '_' and '-' */
        char *value; /* trimmed; may be empty */
        unsigned line;
};

struct ini_section {
        char *name; /* what is between the brackets, trimmed, inner blanks made one space */
        unsigned line;
        struct ini_entry *entries;
        size_t entry_count;
};

struct ini {
        char *path; /* as given, for messages */
        struct ini_section *sections;
        size_t section_count;
};

/* Parses `size` bytes of `text` (not NUL-terminated necessarily). `path` names the text in
 * messages. On error returns -EINVAL (a malformed line: `PATH:LINE: what is wrong`), -EFBIG or
 * -ENOMEM, with `err` set; *ret_ini is written only on success. Lines end with "\n" or "\r\n";
 * a NUL byte or another control character but a tab is an error, and so is a line that is
 * neither blank, a comment, a `[section]` nor `key = value`. */
int ini_parse(const char *path, const char *text, size_t size, struct ini **ret_ini,
              struct error *err);

/* Reads and parses the file `path`. The file must be a regular file (a link to one is followed)
 * that the caller could have written only with root's or its own rights: owned by root or by the
 * caller, and not writable by its group or others (-EPERM, naming the owner or the mode).
 * -ENOENT when it does not exist (with a message). */
int ini_read_file(const char *path, struct ini **ret_ini, struct error *err);

void ini_free(struct ini *ini);
static inline void ini_freep(struct ini **ini)
{
        ini_free(*ini);
}
#define _cleanup_ini_ __attribute__((cleanup(ini_freep)))

/* Sets `err` to "PATH:LINE: <message>" and returns `code`: the form every message about a
 * configuration line takes. */
int ini_error_at(struct error *err, int code, const char *path, unsigned line, const char *format,
                 ...) __attribute__((format(printf, 5, 6)));

/* The section named `name`, or NULL. */
const struct ini_section *ini_find_section(const struct ini *ini, const char *name);
