/* Text from outside made safe to show; see text.h. */
#include "base/text.h"

#include <stdlib.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD in UTF-8 */

size_t text_utf8_sequence_length(const char *text)
{
        const unsigned char *s = (const unsigned char *)text;
        if (s[0] < 0x80)
                return 1;
        size_t length;
        unsigned min;
        unsigned code;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                length = 2;
                min = 0x80;
                code = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                length = 3;
                min = 0x800;
                code = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                length = 4;
                min = 0x10000;
                code = s[0] & 0x07;
        } else {
                return 0;
        }
        for (size_t i = 1; i < length; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                code = code << 6 | (s[i] & 0x3f);
        }
        if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
                return 0;
        return length;
}

int text_is_utf8(const char *text)
{
        for (size_t at = 0; text[at];) {
                size_t length = text_utf8_sequence_length(text + at);
                if (length == 0)
                        return 0;
                at += length;
        }
        return 1;
}

void text_make_printable(char *text)
{
        for (size_t at = 0; text[at];) {
                unsigned char c = (unsigned char)text[at];
                size_t length = text_utf8_sequence_length(text + at);
                if (length == 0 || c < 0x20 || c == 0x7f) {
                        text[at++] = '?';
                        continue;
                }
                at += length;
        }
}

char *text_utf8_copy(const char *text)
{
        size_t size = strlen(text);
        /* Each byte at worst becomes the three of U+FFFD. */
        char *copy = malloc(size * 3 + 1);
        if (!copy)
                return NULL;
        size_t used = 0;
        for (size_t at = 0; at < size;) {
                size_t length = text_utf8_sequence_length(text + at);
                if (length == 0) {
                        memcpy(copy + used, REPLACEMENT, 3);
                        used += 3;
                        at++;
                        continue;
                }
                memcpy(copy + used, text + at, length);
                used += length;
                at += length;
        }
        copy[used] = '\0';
        return copy;
}
