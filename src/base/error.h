/* An error value that carries one human sentence up the layers: lower layers fill it and return
 * a negative errno; only cli/ (and the daemon) print it, once, with the context they add. */
#pragma once

#include <stddef.h>

struct error {
        int code;           /* negative errno, 0 when unset */
        char message[1024]; /* what failed and why, without the "mpsmig: " prefix */
};

/* Records a message (printf-style) and returns `code` (a negative errno) so callers can write
 * `return error_set(err, -EIO, "...")`. `err` may be NULL: then only the code is returned. */
int error_set(struct error *err, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context to an existing message: "context: old message". Returns err->code. */
int error_prefix(struct error *err, const char *format, ...) __attribute__((format(printf, 2, 3)));

void error_clear(struct error *err);
