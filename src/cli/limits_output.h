/* How the limits of a target are shown by start, set, status and config check: table cells,
 * JSON objects that say where each value came from, and the one note about pinned limits the
 * control program reads back rounded down. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "driver/mps_answer.h"
#include "ops/config.h"

/* "40%" or "-". */
void limits_cell_threads(unsigned percent, char *buffer, size_t size);

/* A pinned limit asked: "10G", "14745M (reads 14G)", or "-". */
void limits_cell_pinned(unsigned long long bytes, char *buffer, size_t size);

/* "1" or "-". */
void limits_cell_priority(int priority, char *buffer, size_t size);

/* "profile 1g.18gb" style: the section a value came from, for tables and JSON; "-" for none. */
void limits_origin_text(const struct config *config, const struct config_origin *origin,
                        char *buffer, size_t size);

/* {"value": ..., "section": "profile 1g.18gb", "line": 12} for each key the limits set, null for
 * the others: threads, pinned_mem (with bytes, percent, text and reads_back), priority,
 * start_server (user and uid). NULL when out of memory. */
json_t *limits_asked_json(const struct config *config, const struct target_limits *limits);

/* What a daemon reads back: {"threads": 40.0, "pinned_mem": {"text", "bytes"} or null,
 * "priority": 0}. NULL when out of memory. */
json_t *limits_read_json(const struct mps_defaults_answer *read);

/* One note on stderr when some pinned limits asked are not whole G: the control program reads
 * them back rounded down, which is not a mismatch. `names[i]` names the target of `bytes[i]`. */
void limits_note_rounding(const unsigned long long *bytes, const char *const *names, size_t count);
