/* What to do, in words: the lower layers name a hint (base/error.h) and the command line says it,
 * with the command to type and the folder options this invocation was given, so that a hint can
 * be pasted as it is. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli/cli.h"
#include "node/layout.h"
#include "ops/env.h"

/* " --layout seed --runtime-dir '/my dir'", or "". */
static char folder_options[PATH_MAX * 4 + 64];

void cli_set_hint_folders(int layout_kind, const char *runtime_dir)
{
        _cleanup_free_ char *quoted = NULL;
        if (runtime_dir && runtime_dir[0] && shell_quote(runtime_dir, &quoted) < 0)
                quoted = NULL;
        (void)snprintf(folder_options, sizeof(folder_options), "%s%s%s",
                       layout_kind == LAYOUT_SEED ? " --layout seed" : "",
                       quoted ? " --runtime-dir " : "", quoted ? quoted : "");
}

/* The words of the hint, appended to `buffer` (which holds `used` bytes). */
static void append_hint(const struct error *err, char *buffer, size_t size, size_t used)
{
        const char *o = folder_options, *t = err->hint_target;
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

const char *cli_error_text(const struct error *err, char *buffer, size_t size)
{
        (void)snprintf(buffer, size, "%s", err->message[0] ? err->message : "unknown error");
        if (err->message[0])
                append_hint(err, buffer, size, strlen(buffer));
        return buffer;
}
