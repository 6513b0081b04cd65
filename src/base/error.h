/* An error value that carries one human sentence up the layers: lower layers fill it and return
 * a negative errno; only cli/ (and the daemon) print it, once, with the context they add. */
#pragma once

#include <stddef.h>

/* What a person can do about an error. Lower layers name it; only the front ends (cli/) put it
 * in words, a command line to type included, so that no layer below spells one. */
enum error_hint {
        ERROR_HINT_NONE,
        ERROR_HINT_STOP_FORCE,     /* a daemon runs but does not answer: a forced stop ends it */
        ERROR_HINT_STOP_SEED,      /* the seed scripts' daemon serves the device */
        ERROR_HINT_STOP_AND_START, /* a daemon of ours serves another device */
        ERROR_HINT_LIST,           /* NVML misbehaved: `list` reads it directly */
        ERROR_HINT_STATUS,         /* `status` shows what is left */
        ERROR_HINT_RUNTIME_DIR,    /* another user's runtime folder: give one of your own */
        ERROR_HINT_START,          /* hint_target's daemon is not running (none: every target's) */
        ERROR_HINT_START_AGAIN,    /* hint_target's daemon died */
        ERROR_HINT_RESTART,        /* hint_target's daemon hangs: status, forced stop, start */
};

struct error {
        int code;             /* negative errno, 0 when unset */
        enum error_hint hint; /* set after error_set, which resets it */
        char hint_target[40]; /* the target a hint is about ("0:1:0"), empty for none */
        char message[1024];   /* what failed and why, without the "mpsmig: " prefix */
};

/* Records a message (printf-style) and returns `code` (a negative errno) so callers can write
 * `return error_set(err, -EIO, "...")`. `err` may be NULL: then only the code is returned. */
int error_set(struct error *err, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Names what a person can do (said by the front end after the message). Returns err->code. */
int error_hint(struct error *err, enum error_hint hint);

/* The same about one target, named as a person types it ("0:1:0"). */
int error_hint_on(struct error *err, enum error_hint hint, const char *target);

/* Prepends context to an existing message: "context: old message". Returns err->code. */
int error_prefix(struct error *err, const char *format, ...) __attribute__((format(printf, 2, 3)));

void error_clear(struct error *err);
