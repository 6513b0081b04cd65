/* Text from outside (NVML names, paths given by users) made safe to show: valid UTF-8, and no
 * control characters that would move a terminal's cursor or forge a line of a table. */
#pragma once

#include <stddef.h>

/* The length (1-4) of the valid UTF-8 sequence at `text`, or 0 when the byte there does not
 * begin one (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF). */
size_t text_utf8_sequence_length(const char *text);

/* Whether all of `text` is valid UTF-8. */
int text_is_utf8(const char *text);

/* Replaces, in place, every byte that is not part of valid UTF-8 and every control character
 * (below 0x20, and 0x7f) with '?'. */
void text_make_printable(char *text);

/* A malloc'd copy of `text` in which every byte that is not part of valid UTF-8 is replaced by
 * U+FFFD (what JSON can carry); NULL when out of memory. */
char *text_utf8_copy(const char *text);
