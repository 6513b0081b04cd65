/* What to do, in words: the command line remembers the folder options this invocation was given
 * and has ops/hint_text.c say the hint with them, so that it can be pasted as it is. */
#include <limits.h>
#include <stdio.h>

#include "cli/cli.h"
#include "ops/hint_text.h"

/* The invocation's folder options, as cli_set_hint_folders was told them (a copy: the option's
 * text may be the configuration's, freed before the last message). */
static int hint_layout_kind;
static char hint_runtime_dir[PATH_MAX];

void cli_set_hint_folders(int layout_kind, const char *runtime_dir)
{
        hint_layout_kind = layout_kind;
        (void)snprintf(hint_runtime_dir, sizeof(hint_runtime_dir), "%s",
                       runtime_dir ? runtime_dir : "");
}

const char *cli_error_text(const struct error *err, char *buffer, size_t size)
{
        return hint_text(err, hint_layout_kind, hint_runtime_dir, buffer, size);
}
