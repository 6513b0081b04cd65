/* Strict reading of a JSON document that jansson loaded: one typed reader per object member, and
 * messages "NAME:LINE:COLUMN: PATH: what is wrong" that point at the offending value. jansson
 * keeps no positions for values, so each is found again in the raw text from its path. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SIM_JSON_PATH_MAX_DEPTH 8

struct sim_json_step {
        const char *key; /* NULL: an array element */
        size_t index;
};

/* "gpus[0].mig.devices[1].uuid": from the root to the value being checked. */
struct sim_json_path {
        struct sim_json_step steps[SIM_JSON_PATH_MAX_DEPTH];
        size_t depth; /* steps beyond the maximum are counted, not kept */
};

/* One document being checked: its raw text (for positions), its name in messages, where the one
 * error message goes, and the current path. */
struct sim_json_check {
        const char *text;
        size_t len;
        const char *name;
        char *errbuf;
        size_t errlen;
        struct sim_json_path path;
};

void sim_json_push_key(struct sim_json_check *p, const char *key);
void sim_json_push_index(struct sim_json_check *p, size_t index);
void sim_json_pop(struct sim_json_check *p);

/* Writes "NAME:LINE:COLUMN: PATH: message" for the value at the current path (where a key is
 * missing, or written with escapes, the position of the object that should hold it) and returns
 * -EINVAL. */
int sim_json_fail(struct sim_json_check *p, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Replaces control characters (from escaped keys or values) so a message stays one line. */
void sim_json_make_printable(char *text);

/* -EINVAL naming the first member of `object` not in the NULL-terminated `allowed`. */
int sim_json_check_keys(struct sim_json_check *p, json_t *object, const char *const *allowed);

/* The readers: a missing member is -EINVAL when `required`, else 0 with `*ret` untouched; a
 * present one of the wrong type or out of range is -EINVAL. */
int sim_json_member(struct sim_json_check *p, json_t *object, const char *key, bool required,
                    json_t **ret);
int sim_json_read_uint(struct sim_json_check *p, json_t *object, const char *key, bool required,
                       unsigned long long max, unsigned long long *ret);
int sim_json_read_unsigned(struct sim_json_check *p, json_t *object, const char *key, bool required,
                           unsigned max, unsigned *ret);
int sim_json_read_bool(struct sim_json_check *p, json_t *object, const char *key, bool required,
                       bool *ret);
/* A non-empty string shorter than `size`. */
int sim_json_read_string(struct sim_json_check *p, json_t *object, const char *key, bool required,
                         char *buf, size_t size);
/* An optional 32-bit hex number written as a string ("0x233010DE"): JSON has no hex literals. */
int sim_json_read_hex(struct sim_json_check *p, json_t *object, const char *key, unsigned *ret);
