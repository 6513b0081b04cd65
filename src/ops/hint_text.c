/* The words of error hints, for cli/ and spank/: see hint_text.h. */
#define _GNU_SOURCE
#include "ops/hint_text.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "node/layout.h"
#include "ops/env.h"

/* The words of the hint, appended to `buffer` (which holds `used` bytes). */
static void append_hint(const struct error *err, const char *o, char *buffer, size_t size,
                        size_t used)
{
        const char *t = err->hint_target;
        const char *space = t[0] ? " " : "";
        char *at = buffer + used;
        size_t room = size - used;
        switch (err->hint) {
        case ERROR_HINT_STOP_FORCE:
                (void)snprintf(at, room, ": see `mpsmig status`; `mpsmig stop --force` ends it");
                break;
        case ERROR_HINT_STOP_SEED:
                (void)snprintf(at, room,
                               ": stop it with `mpsmig stop --layout seed`, or keep it and manage "
                               "it with `--layout seed`");
                break;
        case ERROR_HINT_STOP_AND_START:
                (void)snprintf(at, room, ": stop it with `mpsmig stop` and start again");
                break;
        case ERROR_HINT_LIST:
                (void)snprintf(at, room,
                               "; `mpsmig list` reads NVML directly and shows what fails");
                break;
        case ERROR_HINT_STATUS:
                (void)snprintf(at, room, " (see `mpsmig status`)");
                break;
        case ERROR_HINT_RUNTIME_DIR:
                (void)snprintf(at, room,
                               "; give a runtime folder of your own with --runtime-dir DIR (or "
                               "$%s)",
                               LAYOUT_RUNTIME_DIR_ENV);
                break;
        case ERROR_HINT_START:
                (void)snprintf(at, room, "; start %s with `mpsmig start%s%s%s`",
                               t[0] ? "it" : "them", o, space, t);
                break;
        case ERROR_HINT_START_AGAIN:
                (void)snprintf(at, room, "; start it again with `mpsmig start%s%s%s`", o, space, t);
                break;
        case ERROR_HINT_RESTART:
                (void)snprintf(at, room,
                               "; see `mpsmig status%s%s%s`, restart it with `mpsmig stop "
                               "--force%s%s%s` then `mpsmig start%s%s%s`",
                               o, space, t, o, space, t, o, space, t);
                break;
        case ERROR_HINT_NONE:
                break;
        }
}

const char *hint_text(const struct error *err, int layout_kind, const char *runtime_dir,
                      char *buffer, size_t size)
{
        _cleanup_free_ char *quoted = NULL;
        if (runtime_dir && runtime_dir[0] && shell_quote(runtime_dir, &quoted) < 0)
                quoted = NULL;
        char options[PATH_MAX * 4 + 64];
        (void)snprintf(options, sizeof(options), "%s%s%s",
                       layout_kind == LAYOUT_SEED ? " --layout seed" : "",
                       quoted ? " --runtime-dir " : "", quoted ? quoted : "");
        (void)snprintf(buffer, size, "%s", err->message[0] ? err->message : "unknown error");
        if (err->message[0])
                append_hint(err, options, buffer, size, strlen(buffer));
        return buffer;
}
