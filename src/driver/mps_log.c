/* The parser of control.log and server.log lines (mps_log.h): the stamp, the source and pid in
 * brackets, then the text; failures found by their words, pinned-limit commands by their name. */
#include "driver/mps_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* "YYYY-MM-DD HH:MM:SS.mmm" */
static bool is_stamp(const char *s)
{
        return digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' && digits(s + 8, 2) &&
               s[10] == ' ' && digits(s + 11, 2) && s[13] == ':' && digits(s + 14, 2) &&
               s[16] == ':' && digits(s + 17, 2) && s[19] == '.' && digits(s + 20, 3);
}

int mps_log_parse_line(const char *line, size_t size, struct mps_log_line *ret_line)
{
        struct mps_log_line parsed = {0};
        size_t at = 1 + MPS_LOG_STAMP_LEN, word, close;
        unsigned long pid = 0;

        if (size < at + 4 || line[0] != '[' || !is_stamp(line + 1) || line[at] != ' ')
                return -EBADMSG;
        memcpy(parsed.stamp, line + 1, MPS_LOG_STAMP_LEN);
        at++;
        word = at;
        while (at < size && isalpha((unsigned char)line[at]))
                at++;
        if (at == word || at - word >= sizeof(parsed.source))
                return -EBADMSG;
        memcpy(parsed.source, line + word, at - word);
        while (at < size && line[at] == ' ')
                at++;
        close = at;
        while (close < size && isdigit((unsigned char)line[close])) {
                pid = pid * 10 + (unsigned long)(line[close] - '0');
                if (pid > 0x7fffffffUL)
                        return -EBADMSG;
                close++;
        }
        if (close == at || close >= size || line[close] != ']')
                return -EBADMSG;
        parsed.pid = (pid_t)pid;
        at = close + 1;
        if (at < size && line[at] == ' ')
                at++;
        parsed.text = line + at;
        parsed.text_size = size - at;
        *ret_line = parsed;
        return 0;
}

/* Case-insensitive search of a word start in text[0..size). */
static bool contains_word(const char *text, size_t size, const char *word)
{
        size_t n = strlen(word);

        for (size_t i = 0; i + n <= size; i++) {
                if (i > 0 && isalpha((unsigned char)text[i - 1]))
                        continue;
                if (strncasecmp(text + i, word, n) == 0)
                        return true;
        }
        return false;
}

/* What a server of driver 580 logs at every client's exit, a normal one too (H200,
 * 2026-12-02): "Server failed to recevie command with status 806, assuming client {PID: 562,
 * Context ID: 1} exit". Not a failure. */
static bool is_client_exit(const char *text, size_t size)
{
        static const char assuming[] = "assuming client {PID: ";
        static const char end[] = "} exit";
        for (size_t i = 0; i + sizeof(assuming) - 1 <= size; i++)
                if (memcmp(text + i, assuming, sizeof(assuming) - 1) == 0)
                        return size >= sizeof(end) - 1 &&
                               memcmp(text + size - (sizeof(end) - 1), end, sizeof(end) - 1) == 0;
        return false;
}

bool mps_log_text_is_error(const char *text, size_t size)
{
        static const char *const words[] = {"error",  "fail",   "fault",  "invalid",
                                            "cannot", "unable", "denied", "refused"};
        static const char exited[] = "exited with status ";

        if (is_client_exit(text, size))
                return false;

        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (contains_word(text, size, words[i]))
                        return true;
        for (size_t i = 0; i + sizeof(exited) - 1 < size; i++)
                if (strncmp(text + i, exited, sizeof(exited) - 1) == 0)
                        return text[i + sizeof(exited) - 1] != '0';
        return false;
}

/* "Cmd:set_default_device_pinned_mem_limit KEY VALUE" or "Cmd:set_device_pinned_mem_limit SERVER
 * KEY VALUE": 0 and *ret filled, or -EINVAL. */
static int pinned_command(const char *text, size_t size, struct mps_log_pinned *ret)
{
        static const char by_default[] = "Cmd:set_default_device_pinned_mem_limit ";
        static const char by_server[] = "Cmd:set_device_pinned_mem_limit ";
        char copy[256], *words[4] = {NULL}, *save = NULL;
        struct mps_log_pinned found = {0};
        size_t count = 0, need;

        if (size >= sizeof(copy))
                return -EINVAL;
        memcpy(copy, text, size);
        copy[size] = '\0';
        if (strncmp(copy, by_default, sizeof(by_default) - 1) == 0) {
                need = 3;
        } else if (strncmp(copy, by_server, sizeof(by_server) - 1) == 0) {
                need = 4;
                found.per_server = true;
        } else {
                return -EINVAL;
        }
        for (char *w = strtok_r(copy, " \t", &save); w && count < 4;
             w = strtok_r(NULL, " \t", &save))
                words[count++] = w;
        if (count != need)
                return -EINVAL;
        if (snprintf(found.key, sizeof(found.key), "%s", words[need - 2]) >=
                (int)sizeof(found.key) ||
            snprintf(found.value, sizeof(found.value), "%s", words[need - 1]) >=
                (int)sizeof(found.value))
                return -EINVAL;
        *ret = found;
        return 0;
}

static void quote(char *buffer, size_t buffer_size, const char *line, size_t size)
{
        size_t n = size < buffer_size - 1 ? size : buffer_size - 1;

        for (size_t i = 0; i < n; i++)
                buffer[i] = (unsigned char)line[i] < 0x20 || line[i] == 0x7f ? '?' : line[i];
        buffer[n] = '\0';
}

void mps_log_scan(const char *text, size_t size, const char *since, struct mps_log_summary *ret)
{
        struct mps_log_summary summary = {0};
        size_t at = 0;

        while (at < size) {
                const char *end = memchr(text + at, '\n', size - at);
                size_t length = end ? (size_t)(end - (text + at)) : size - at;
                struct mps_log_line line;
                struct mps_log_pinned pinned;

                if (mps_log_parse_line(text + at, length, &line) == 0 &&
                    (!since || strcmp(line.stamp, since) >= 0)) {
                        summary.lines++;
                        if (pinned_command(line.text, line.text_size, &pinned) == 0) {
                                if (summary.pinned_count == MPS_LOG_PINNED_MAX) {
                                        memmove(summary.pinned, summary.pinned + 1,
                                                (MPS_LOG_PINNED_MAX - 1) * sizeof(pinned));
                                        summary.pinned_count--;
                                }
                                summary.pinned[summary.pinned_count++] = pinned;
                        } else if (mps_log_text_is_error(line.text, line.text_size)) {
                                if (summary.error_count == 0)
                                        quote(summary.first_error, sizeof(summary.first_error),
                                              text + at, length);
                                quote(summary.last_error, sizeof(summary.last_error), text + at,
                                      length);
                                summary.error_count++;
                        }
                }
                at += length + 1;
        }
        *ret = summary;
}
