/* The words of an error's hint (base/error.h): what to do, with the command to type and the folder
 * options of the invocation, so that it can be pasted as it is. Only the two layers that speak to
 * users call it (cli/ and the Slurm plugin, spank/); below them errors carry hint codes, never
 * command lines. */
#pragma once

#include <stddef.h>

#include "base/error.h"

/* The error's message followed by the words of its hint, into `buffer`; returns `buffer`.
 * `layout_kind` (enum layout_kind) and `runtime_dir` (NULL or "" when not given) are repeated in
 * the commands. */
const char *hint_text(const struct error *err, int layout_kind, const char *runtime_dir,
                      char *buffer, size_t size);
