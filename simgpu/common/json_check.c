/* Strict reading of a JSON document that jansson loaded: typed readers for one member of an
 * object each, and messages that point at the offending value's line and column, found again
 * in the raw text from its path. */
#define _GNU_SOURCE
#include "json_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void path_push(struct sim_json_path *path, const char *key)
{
        if (path->depth < SIM_JSON_PATH_MAX_DEPTH)
                path->steps[path->depth] = (struct sim_json_step){.key = key};
        path->depth++;
}

static void path_push_index(struct sim_json_path *path, size_t index)
{
        if (path->depth < SIM_JSON_PATH_MAX_DEPTH)
                path->steps[path->depth] = (struct sim_json_step){.index = index};
        path->depth++;
}

static void path_pop(struct sim_json_path *path)
{
        if (path->depth > 0)
                path->depth--;
}

static size_t kept_steps(const struct sim_json_path *path)
{
        return path->depth < SIM_JSON_PATH_MAX_DEPTH ? path->depth : SIM_JSON_PATH_MAX_DEPTH;
}

static size_t skip_space(const char *t, size_t len, size_t i)
{
        while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
                i++;
        return i;
}

/* i is at an opening quote; returns the index just past the closing one. */
static size_t skip_string(const char *t, size_t len, size_t i)
{
        for (i++; i < len && t[i] != '"'; i++)
                if (t[i] == '\\')
                        i++;
        return i < len ? i + 1 : len;
}

static size_t skip_value(const char *t, size_t len, size_t i)
{
        if (i >= len)
                return len;
        if (t[i] == '"')
                return skip_string(t, len, i);
        if (t[i] == '{' || t[i] == '[') {
                size_t nesting = 0;
                while (i < len) {
                        if (t[i] == '"') {
                                i = skip_string(t, len, i);
                                continue;
                        }
                        if (t[i] == '{' || t[i] == '[')
                                nesting++;
                        else if ((t[i] == '}' || t[i] == ']') && --nesting == 0)
                                return i + 1;
                        i++;
                }
                return len;
        }
        while (i < len && !strchr(",]} \t\r\n", t[i]))
                i++;
        return i;
}

/* Offset of the value at steps[0..n) in already-validated JSON text; where a step cannot be
 * followed (a missing key), the offset of the deepest value that was found. */
static size_t locate(const char *t, size_t len, const struct sim_json_step *steps, size_t n)
{
        size_t at = skip_space(t, len, 0);
        for (size_t s = 0; s < n; s++) {
                size_t i = at;
                bool found = false;
                if (i >= len || (t[i] != '{' && t[i] != '['))
                        return at;
                bool object = t[i] == '{';
                size_t element = 0;
                i = skip_space(t, len, i + 1);
                while (i < len && t[i] != '}' && t[i] != ']') {
                        bool match;
                        if (object) {
                                size_t key_start = i + 1;
                                size_t key_end = skip_string(t, len, i);
                                size_t key_len = strlen(steps[s].key ? steps[s].key : "");
                                match = steps[s].key && key_end - 1 - key_start == key_len &&
                                        memcmp(t + key_start, steps[s].key, key_len) == 0;
                                i = skip_space(t, len, key_end);
                                i = skip_space(t, len, i + 1); /* the colon */
                        } else {
                                match = !steps[s].key && element == steps[s].index;
                        }
                        if (match) {
                                at = i;
                                found = true;
                                break;
                        }
                        i = skip_space(t, len, skip_value(t, len, i));
                        if (i < len && t[i] == ',')
                                i = skip_space(t, len, i + 1);
                        element++;
                }
                if (!found)
                        return at;
        }
        return at;
}

static void position(const char *t, size_t offset, unsigned *ret_line, unsigned *ret_column)
{
        unsigned line = 1, column = 1;
        for (size_t i = 0; i < offset; i++) {
                if (t[i] == '\n') {
                        line++;
                        column = 1;
                } else {
                        column++;
                }
        }
        *ret_line = line;
        *ret_column = column;
}

static void path_render(const struct sim_json_path *path, char *buf, size_t size)
{
        size_t used = 0;
        if (size == 0)
                return;
        buf[0] = '\0';
        for (size_t s = 0; s < kept_steps(path) && used < size; s++) {
                const struct sim_json_step *step = &path->steps[s];
                int n = step->key
                            ? snprintf(buf + used, size - used, "%s%s", s ? "." : "", step->key)
                            : snprintf(buf + used, size - used, "[%zu]", step->index);
                if (n < 0)
                        break;
                used += (size_t)n;
        }
}

static void path_position(const char *text, size_t len, const struct sim_json_path *path,
                          unsigned *ret_line, unsigned *ret_column)
{
        position(text, locate(text, len, path->steps, kept_steps(path)), ret_line, ret_column);
}

/* Keys and values from the file may hold escaped control characters; the message stays one
 * printable line. */
void sim_json_make_printable(char *text)
{
        for (; *text; text++)
                if ((unsigned char)*text < 0x20 || *text == 0x7f)
                        *text = '?';
}

/* Writes "NAME:LINE:COLUMN: PATH: message" for the value at the current path. */
int sim_json_fail(struct sim_json_check *p, const char *format, ...)
{
        char message[512], path[256];
        unsigned line, column;
        va_list ap;

        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        path_render(&p->path, path, sizeof(path));
        path_position(p->text, p->len, &p->path, &line, &column);
        if (p->errbuf && p->errlen) {
                snprintf(p->errbuf, p->errlen, "%s:%u:%u: %s%s%s", p->name, line, column, path,
                         path[0] ? ": " : "", message);
                sim_json_make_printable(p->errbuf);
        }
        return -EINVAL;
}

int sim_json_check_keys(struct sim_json_check *p, json_t *object, const char *const *allowed)
{
        const char *key;
        json_t *value = NULL;
        json_object_foreach(object, key, value)
        {
                bool known = false;
                for (size_t i = 0; allowed[i]; i++)
                        known = known || strcmp(key, allowed[i]) == 0;
                if (!known) {
                        sim_json_push_key(p, key);
                        int r = sim_json_fail(
                            p, "unknown field (check the spelling in docs/simgpu.md)");
                        sim_json_pop(p);
                        return r;
                }
        }
        return 0;
}

int sim_json_member(struct sim_json_check *p, json_t *object, const char *key, bool required,
                    json_t **ret)
{
        json_t *value = json_object_get(object, key);
        if (!value && required)
                return sim_json_fail(p, "missing required field \"%s\"", key);
        *ret = value;
        return 0;
}

int sim_json_read_uint(struct sim_json_check *p, json_t *object, const char *key, bool required,
                       unsigned long long max, unsigned long long *ret)
{
        json_t *value = NULL;
        int r = sim_json_member(p, object, key, required, &value);
        if (r < 0 || !value)
                return r;
        sim_json_push_key(p, key);
        if (!json_is_integer(value))
                r = sim_json_fail(p, "expected a whole number");
        else if (json_integer_value(value) < 0 ||
                 (unsigned long long)json_integer_value(value) > max)
                r = sim_json_fail(p, "%" JSON_INTEGER_FORMAT " is out of range (0 to %llu)",
                                  json_integer_value(value), max);
        else
                *ret = (unsigned long long)json_integer_value(value);
        sim_json_pop(p);
        return r;
}

int sim_json_read_unsigned(struct sim_json_check *p, json_t *object, const char *key, bool required,
                           unsigned max, unsigned *ret)
{
        unsigned long long value;
        int r = sim_json_read_uint(p, object, key, required, max, &value);
        if (r == 0 && json_object_get(object, key))
                *ret = (unsigned)value;
        return r;
}

int sim_json_read_bool(struct sim_json_check *p, json_t *object, const char *key, bool required,
                       bool *ret)
{
        json_t *value = NULL;
        int r = sim_json_member(p, object, key, required, &value);
        if (r < 0 || !value)
                return r;
        sim_json_push_key(p, key);
        if (!json_is_boolean(value))
                r = sim_json_fail(p, "expected true or false");
        else
                *ret = json_is_true(value);
        sim_json_pop(p);
        return r;
}

int sim_json_read_string(struct sim_json_check *p, json_t *object, const char *key, bool required,
                         char *buf, size_t size)
{
        json_t *value = NULL;
        int r = sim_json_member(p, object, key, required, &value);
        if (r < 0 || !value)
                return r;
        sim_json_push_key(p, key);
        if (!json_is_string(value))
                r = sim_json_fail(p, "expected a string");
        else if (json_string_length(value) == 0)
                r = sim_json_fail(p, "must not be empty");
        else if (json_string_length(value) >= size)
                r = sim_json_fail(p, "longer than %zu characters", size - 1);
        else
                memcpy(buf, json_string_value(value), json_string_length(value) + 1);
        sim_json_pop(p);
        return r;
}

/* A hex number written as a string ("0x233010DE"), since JSON has no hex literals. */
int sim_json_read_hex(struct sim_json_check *p, json_t *object, const char *key, unsigned *ret)
{
        char text[16];
        int r = sim_json_read_string(p, object, key, false, text, sizeof(text));
        if (r < 0 || !json_object_get(object, key))
                return r;
        char *end;
        errno = 0;
        unsigned long value = strtoul(text, &end, 16);
        sim_json_push_key(p, key);
        if (strncmp(text, "0x", 2) != 0 || *end || errno || value > 0xffffffffUL)
                r = sim_json_fail(p, "expected a 32-bit hex number like \"0x233010DE\"");
        else
                *ret = (unsigned)value;
        sim_json_pop(p);
        return r;
}

void sim_json_push_key(struct sim_json_check *p, const char *key)
{
        path_push(&p->path, key);
}

void sim_json_push_index(struct sim_json_check *p, size_t index)
{
        path_push_index(&p->path, index);
}

void sim_json_pop(struct sim_json_check *p)
{
        path_pop(&p->path);
}
