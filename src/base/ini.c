/* The INI reader of ini.h: one pass over the lines, each section and key kept with its line
 * number, every refusal said as `PATH:LINE: message`. */
#define _GNU_SOURCE
#include "base/ini.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fd_io.h"

int ini_error_at(struct error *err, int code, const char *path, unsigned line, const char *format,
                 ...)
{
        if (!err)
                return code;
        char message[sizeof(err->message)];
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        return error_set(err, code, "%s:%u: %s", path, line, message);
}

void ini_free(struct ini *ini)
{
        if (!ini)
                return;
        for (size_t s = 0; s < ini->section_count; s++) {
                struct ini_section *section = &ini->sections[s];
                for (size_t e = 0; e < section->entry_count; e++) {
                        free(section->entries[e].key);
                        free(section->entries[e].value);
                }
                free(section->entries);
                free(section->name);
        }
        free(ini->sections);
        free(ini->path);
        free(ini);
}

const struct ini_section *ini_find_section(const struct ini *ini, const char *name)
{
        for (size_t s = 0; s < ini->section_count; s++)
                if (strcmp(ini->sections[s].name, name) == 0)
                        return &ini->sections[s];
        return NULL;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_key_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
}

/* [begin, end) without the blanks around it. */
static void trim(const char **begin, const char **end)
{
        while (*begin < *end && is_blank(**begin))
                (*begin)++;
        while (*end > *begin && is_blank((*end)[-1]))
                (*end)--;
}

struct parser {
        const char *path;
        struct ini *ini;
        struct error *err;
        unsigned line;
};

static int fail(struct parser *p, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *p, const char *format, ...)
{
        char message[sizeof(p->err->message)];
        va_list ap;
        va_start(ap, format);
        (void)vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        return ini_error_at(p->err, -EINVAL, p->path, p->line, "%s", message);
}

static int out_of_memory(struct parser *p)
{
        return error_set(p->err, -ENOMEM, "out of memory reading %s", p->path);
}

/* The section name: inner runs of blanks become one space, so that `[gpu  0]` is `[gpu 0]`. */
static int section_header(struct parser *p, const char *begin, const char *end)
{
        if (end - begin < 2 || end[-1] != ']')
                return fail(p, "a section header ends with ']': write [NAME]");
        begin++;
        end--;
        trim(&begin, &end);
        if (begin == end)
                return fail(p, "empty section name []");
        char name[INI_SECTION_MAX + 1];
        size_t used = 0;
        for (const char *c = begin; c < end; c++) {
                if (*c == '[' || *c == ']')
                        return fail(p, "a section name cannot hold '%c'", *c);
                if (is_blank(*c) && is_blank(c[-1]))
                        continue;
                if (used == INI_SECTION_MAX)
                        return fail(p, "section name longer than %d characters", INI_SECTION_MAX);
                name[used++] = is_blank(*c) ? ' ' : *c;
        }
        name[used] = '\0';
        const struct ini_section *earlier = ini_find_section(p->ini, name);
        if (earlier)
                return fail(p, "section [%s] is already at line %u: put its keys together", name,
                            earlier->line);
        struct ini_section *bigger =
            realloc(p->ini->sections, (p->ini->section_count + 1) * sizeof(*bigger));
        if (!bigger)
                return out_of_memory(p);
        p->ini->sections = bigger;
        struct ini_section *section = &bigger[p->ini->section_count];
        *section = (struct ini_section){.line = p->line, .name = strdup(name)};
        if (!section->name)
                return out_of_memory(p);
        p->ini->section_count++;
        return 0;
}

static int key_value(struct parser *p, const char *begin, const char *end)
{
        const char *equals = memchr(begin, '=', (size_t)(end - begin));
        if (!equals)
                return fail(p, "expected `KEY = VALUE`, a [SECTION] or a # comment");
        const char *key = begin, *key_end = equals;
        trim(&key, &key_end);
        if (key == key_end)
                return fail(p, "a key is missing before '='");
        if (key_end - key > INI_KEY_MAX)
                return fail(p, "key longer than %d characters", INI_KEY_MAX);
        for (const char *c = key; c < key_end; c++)
                if (!is_key_char(*c))
                        return fail(p,
                                    "key '%.*s' holds '%c': keys are letters, digits, '_' and '-'",
                                    (int)(key_end - key), key, *c);
        const char *value = equals + 1, *value_end = end;
        trim(&value, &value_end);
        if (value_end - value > INI_VALUE_MAX)
                return fail(p, "the value of '%.*s' is longer than %d characters",
                            (int)(key_end - key), key, INI_VALUE_MAX);
        if (p->ini->section_count == 0)
                return fail(p,
                            "key '%.*s' comes before any section: put it under a section such "
                            "as [global]",
                            (int)(key_end - key), key);
        struct ini_section *section = &p->ini->sections[p->ini->section_count - 1];
        size_t key_length = (size_t)(key_end - key);
        for (size_t e = 0; e < section->entry_count; e++)
                if (strlen(section->entries[e].key) == key_length &&
                    memcmp(section->entries[e].key, key, key_length) == 0)
                        return fail(p, "duplicate key '%s' in [%s] (first at line %u)",
                                    section->entries[e].key, section->name,
                                    section->entries[e].line);
        struct ini_entry *bigger =
            realloc(section->entries, (section->entry_count + 1) * sizeof(*bigger));
        if (!bigger)
                return out_of_memory(p);
        section->entries = bigger;
        struct ini_entry *entry = &bigger[section->entry_count];
        *entry = (struct ini_entry){
            .key = strndup(key, key_length),
            .value = strndup(value, (size_t)(value_end - value)),
            .line = p->line,
        };
        if (!entry->key || !entry->value) {
                free(entry->key);
                free(entry->value);
                return out_of_memory(p);
        }
        section->entry_count++;
        return 0;
}

static int parse_line(struct parser *p, const char *begin, const char *end)
{
        for (const char *c = begin; c < end; c++) {
                unsigned char byte = (unsigned char)*c;
                if ((byte < 0x20 && byte != '\t') || byte == 0x7f)
                        return fail(p, "control character 0x%02x: a configuration file is text",
                                    byte);
        }
        trim(&begin, &end);
        if (begin == end || *begin == '#' || *begin == ';')
                return 0;
        if (*begin == '[')
                return section_header(p, begin, end);
        return key_value(p, begin, end);
}

int ini_parse(const char *path, const char *text, size_t size, struct ini **ret_ini,
              struct error *err)
{
        if (size > INI_FILE_MAX)
                return error_set(err, -EFBIG,
                                 "%s is larger than %d bytes: not a configuration file", path,
                                 INI_FILE_MAX);
        struct ini *ini = calloc(1, sizeof(*ini));
        if (!ini || !(ini->path = strdup(path))) {
                free(ini);
                return error_set(err, -ENOMEM, "out of memory reading %s", path);
        }
        struct parser p = {.path = path, .ini = ini, .err = err};
        const char *at = text, *stop = text + size;
        while (at < stop) {
                p.line++;
                const char *newline = memchr(at, '\n', (size_t)(stop - at));
                const char *end = newline ? newline : stop;
                const char *content_end = end;
                if (newline && content_end > at && content_end[-1] == '\r')
                        content_end--;
                int r = parse_line(&p, at, content_end);
                if (r < 0) {
                        ini_free(ini);
                        return r;
                }
                at = newline ? newline + 1 : stop;
        }
        *ret_ini = ini;
        return 0;
}

int ini_read_file(const char *path, struct ini **ret_ini, struct error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set(err, -errno, "cannot open the configuration file %s: %s", path,
                                 strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "cannot inspect %s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return error_set(err, -EINVAL, "the configuration file %s is not a regular file",
                                 path);
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return error_set(err, -EPERM,
                                 "the configuration file %s belongs to uid %u, neither root nor "
                                 "you: refusing it, since its owner would choose how your "
                                 "daemons run",
                                 path, (unsigned)st.st_uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return error_set(err, -EPERM,
                                 "the configuration file %s is writable by other users (mode "
                                 "%04o): refusing it; chmod go-w %s",
                                 path, (unsigned)(st.st_mode & 07777), path);
        if (st.st_size > INI_FILE_MAX)
                return error_set(err, -EFBIG,
                                 "%s is larger than %d bytes: not a configuration file", path,
                                 INI_FILE_MAX);
        _cleanup_free_ char *text = malloc((size_t)st.st_size + 1);
        if (!text)
                return error_set(err, -ENOMEM, "out of memory reading %s", path);
        ssize_t n = fd_read_fully(fd, text, (size_t)st.st_size + 1);
        if (n < 0)
                return error_set(err, (int)n, "cannot read %s: %s", path, strerror((int)-n));
        if (n > st.st_size)
                return error_set(err, -EAGAIN, "%s changed while it was read: try again", path);
        return ini_parse(path, text, (size_t)n, ret_ini, err);
}
