/* Parses what nvidia-cuda-mps-control prints, strictly: every line must have the shape its command
 * answers with, anything else is MPS_ANSWER_MALFORMED with the line quoted. Pure functions over
 * (text, size) so that the fuzz target can drive them; see mps_answer.h and the facts file. */
#define _GNU_SOURCE
#include "driver/mps_answer.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

/* One line of an answer, without its '\n' and trailing blanks. */
struct line {
        const char *p;
        size_t len;
        unsigned number; /* 1-based, counting every line of the text */
};

struct line_reader {
        const char *p;
        const char *end;
        unsigned number;
};

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* Next non-empty line; false at the end. */
static bool next_line(struct line_reader *r, struct line *ret)
{
        while (r->p < r->end) {
                const char *start = r->p;
                const char *nl = memchr(start, '\n', (size_t)(r->end - start));
                const char *stop = nl ? nl : r->end;
                r->p = nl ? nl + 1 : r->end;
                r->number++;
                while (stop > start && is_blank(stop[-1]))
                        stop--;
                if (stop == start)
                        continue;
                *ret = (struct line){start, (size_t)(stop - start), r->number};
                return true;
        }
        return false;
}

static struct line_reader reader(const char *text, size_t size)
{
        return (struct line_reader){text ? text : "", text ? text + size : "", 0};
}

static bool line_is(const struct line *l, const char *literal)
{
        return l->len == strlen(literal) && memcmp(l->p, literal, l->len) == 0;
}

/* "Server PID not found" as the facts sheet wrote it, and "Server 1234 not found" (optionally with
 * "!") as driver 580 prints it for an unknown server pid (docs/driver-facts.md). */
static bool line_is_server_not_found(const struct line *l)
{
        static const char head[] = "Server ", tail[] = " not found";
        if (line_is(l, MPS_TEXT_SERVER_NOT_FOUND))
                return true;
        size_t len = l->len;
        if (len > 0 && l->p[len - 1] == '!')
                len--;
        size_t head_len = strlen(head), tail_len = strlen(tail);
        if (len <= head_len + tail_len || memcmp(l->p, head, head_len) != 0 ||
            memcmp(l->p + len - tail_len, tail, tail_len) != 0)
                return false;
        for (size_t i = head_len; i < len - tail_len; i++)
                if (l->p[i] < '0' || l->p[i] > '9')
                        return false;
        return true;
}

/* Writes the line printable into buf (escaping what is not), cut at MPS_ANSWER_LINE_QUOTE_MAX. */
static const char *quote(const char *p, size_t len, char *buf, size_t size)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        size_t shown = len > MPS_ANSWER_LINE_QUOTE_MAX ? MPS_ANSWER_LINE_QUOTE_MAX : len;
        for (size_t i = 0; i < shown && o + 5 < size; i++) {
                unsigned char c = (unsigned char)p[i];
                if (c == '"' || c == '\\') {
                        buf[o++] = '\\';
                        buf[o++] = (char)c;
                } else if (c < 0x20 || c >= 0x7f) {
                        buf[o++] = '\\';
                        buf[o++] = 'x';
                        buf[o++] = hex[c >> 4];
                        buf[o++] = hex[c & 15];
                } else {
                        buf[o++] = (char)c;
                }
        }
        buf[o] = '\0';
        if (shown < len && o + 4 <= size)
                memcpy(buf + o, "...", 4);
        return buf;
}

#define QUOTE_BUF (MPS_ANSWER_LINE_QUOTE_MAX * 4 + 8)

static int malformed(struct error *err, const char *command, const struct line *l,
                     const char *expected)
{
        char q[QUOTE_BUF];
        return error_set(err, MPS_ANSWER_MALFORMED,
                         "unexpected answer from the MPS control program to '%s', line %u: \"%s\" "
                         "(expected %s)",
                         command, l->number, quote(l->p, l->len, q, sizeof(q)), expected);
}

static int missing(struct error *err, const char *command, const char *expected)
{
        return error_set(err, MPS_ANSWER_MALFORMED,
                         "unexpected answer from the MPS control program to '%s': it ended "
                         "before %s",
                         command, expected);
}

/* The refusals any command can get, looked for on every line; also rejects NUL bytes. */
static int check_refusals(const char *command, const char *text, size_t size, struct error *err)
{
        if (text && memchr(text, '\0', size))
                return error_set(err, MPS_ANSWER_MALFORMED,
                                 "unexpected answer from the MPS control program to '%s': it "
                                 "contains a NUL byte",
                                 command);
        static const char unknown[] = "Unknown command \"";
        struct line_reader r = reader(text, size);
        struct line l;
        while (next_line(&r, &l)) {
                if (line_is(&l, MPS_TEXT_NO_DAEMON))
                        return error_set(err, MPS_ANSWER_NO_DAEMON,
                                         "no MPS control daemon runs there (the control program "
                                         "answered '%s' with \"%s\")",
                                         command, MPS_TEXT_NO_DAEMON);
                if (l.len >= sizeof(unknown) - 1 &&
                    memcmp(l.p, unknown, sizeof(unknown) - 1) == 0) {
                        char q[QUOTE_BUF];
                        return error_set(err, MPS_ANSWER_UNKNOWN_COMMAND,
                                         "the MPS control program does not know '%s': it "
                                         "answered \"%s\"",
                                         command, quote(l.p, l.len, q, sizeof(q)));
                }
        }
        return 0;
}

/* A decimal number made of digits only (no sign, no blanks), at most `max`. */
static bool parse_decimal(const char *p, size_t len, unsigned long long max,
                          unsigned long long *ret)
{
        if (len == 0 || len > 20)
                return false;
        unsigned long long v = 0;
        for (size_t i = 0; i < len; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return false;
                unsigned d = (unsigned)(p[i] - '0');
                if (v > (ULLONG_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        if (v > max)
                return false;
        *ret = v;
        return true;
}

static bool parse_pid(const char *p, size_t len, pid_t *ret)
{
        unsigned long long v;
        if (!parse_decimal(p, len, INT_MAX, &v) || v == 0)
                return false;
        *ret = (pid_t)v;
        return true;
}

/* Splits the next blank-separated field off *p. */
static bool next_field(const char **p, const char *end, const char **ret_field, size_t *ret_len)
{
        while (*p < end && is_blank(**p))
                (*p)++;
        if (*p == end)
                return false;
        const char *start = *p;
        while (*p < end && !is_blank(**p))
                (*p)++;
        *ret_field = start;
        *ret_len = (size_t)(*p - start);
        return true;
}

static int append_pid(pid_t **pids, size_t *count, size_t *capacity, pid_t pid)
{
        if (*count == *capacity) {
                size_t bigger = *capacity ? *capacity * 2 : 8;
                pid_t *grown = realloc(*pids, bigger * sizeof(**pids));
                if (!grown)
                        return -ENOMEM;
                *pids = grown;
                *capacity = bigger;
        }
        (*pids)[(*count)++] = pid;
        return 0;
}

int mps_answer_pid_list(const char *command, const char *text, size_t size, pid_t **ret_pids,
                        size_t *ret_count, struct error *err)
{
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        _cleanup_free_ pid_t *pids = NULL;
        size_t count = 0, capacity = 0;
        struct line_reader lr = reader(text, size);
        struct line l;
        while (next_line(&lr, &l)) {
                pid_t pid;
                if (line_is_server_not_found(&l))
                        return error_set(err, MPS_ANSWER_NOT_FOUND,
                                         "the MPS control daemon has no such server (it answered "
                                         "'%s' with \"%s\")",
                                         command, MPS_TEXT_SERVER_NOT_FOUND);
                if (!parse_pid(l.p, l.len, &pid))
                        return malformed(err, command, &l, "one process ID a line");
                if (append_pid(&pids, &count, &capacity, pid) < 0)
                        return error_set(err, -ENOMEM, "out of memory");
        }
        *ret_pids = TAKE_PTR(pids);
        *ret_count = count;
        return 0;
}

int mps_answer_device_query(const char *text, size_t size, char *buffer, size_t buffer_size,
                            struct error *err)
{
        static const char command[] = "device_query";
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        /* What is quoted when the answer ends early: nothing. */
        struct line l = {"", 0, 0};
        if (!next_line(&lr, &l) || l.len != strlen("Default") || memcmp(l.p, "Default", l.len))
                return malformed(err, command, &l, "\"Default\" first");
        if (!next_line(&lr, &l) || l.len < strlen("Device") || memcmp(l.p, "Device", 6) != 0)
                return malformed(err, command, &l, "the table's header");
        size_t used = 0;
        if (buffer_size == 0)
                return error_set(err, -E2BIG, "no room for the devices of '%s'", command);
        buffer[0] = '\0';
        while (next_line(&lr, &l)) {
                const char *p = l.p, *end = l.p + l.len, *field;
                size_t len;
                unsigned long long ordinal;
                if (l.len >= strlen("Server") && memcmp(l.p, "Server", 6) == 0)
                        break; /* the servers' own tables follow the default one */
                if (!next_field(&p, end, &field, &len) ||
                    !parse_decimal(field, len, INT_MAX, &ordinal) ||
                    !next_field(&p, end, &field, &len) || !next_field(&p, end, &field, &len))
                        return malformed(err, command, &l, "ordinal, PCI IDs, UUID, name");
                if (used + (used > 0) + len + 1 > buffer_size)
                        return error_set(err, -E2BIG, "too many devices in the answer to '%s'",
                                         command);
                if (used > 0)
                        buffer[used++] = ',';
                memcpy(buffer + used, field, len);
                used += len;
                buffer[used] = '\0';
        }
        return 0;
}

static bool is_ps_header(const struct line *l)
{
        static const char *const names[] = {"PID",    "ID",        "SERVER",
                                            "DEVICE", "NAMESPACE", "COMMAND"};
        const char *p = l->p, *end = l->p + l->len, *f;
        size_t len;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (!next_field(&p, end, &f, &len) || len != strlen(names[i]) ||
                    memcmp(f, names[i], len) != 0)
                        return false;
        return !next_field(&p, end, &f, &len);
}

/* PID ID SERVER DEVICE NAMESPACE COMMAND... ; the command is the rest of the line.
 * Returns 1, 0 when the line is not a row, -ENOMEM. */
static int parse_ps_row(const struct line *l, struct mps_ps_row *ret)
{
        const char *p = l->p, *end = l->p + l->len, *f;
        size_t len;
        unsigned long long v;
        struct mps_ps_row row = {0};

        if (!next_field(&p, end, &f, &len) || !parse_pid(f, len, &row.pid))
                return 0;
        if (!next_field(&p, end, &f, &len) || !parse_decimal(f, len, UINT_MAX, &v))
                return 0;
        row.id = (unsigned)v;
        if (!next_field(&p, end, &f, &len) || !parse_pid(f, len, &row.server))
                return 0;
        if (!next_field(&p, end, &f, &len) || len >= sizeof(row.device))
                return 0;
        memcpy(row.device, f, len);
        if (!next_field(&p, end, &f, &len) || !parse_decimal(f, len, ULLONG_MAX, &v))
                return 0;
        row.namespace = v;
        while (p < end && is_blank(*p))
                p++;
        if (p == end)
                return 0;
        row.command = strndup(p, (size_t)(end - p));
        if (!row.command)
                return -ENOMEM;
        *ret = row;
        return 1;
}

/* Rows have six fields or more; the answers that can follow ps in the overview have one. */
static bool has_several_fields(const struct line *l)
{
        const char *p = l->p, *end = l->p + l->len, *f;
        size_t len;
        return next_field(&p, end, &f, &len) && next_field(&p, end, &f, &len);
}

static void ps_rows_free(struct mps_ps_row *rows, size_t count)
{
        for (size_t i = 0; i < count; i++)
                free(rows[i].command);
        free(rows);
}

void mps_ps_done(struct mps_ps *ps)
{
        if (!ps)
                return;
        ps_rows_free(ps->rows, ps->count);
        *ps = (struct mps_ps){0};
}

/* Reads a ps block starting at line `l` (the header, or "Server not found"), leaving `lr` on the
 * first line after it in *next (has_next false at the end). */
static int parse_ps_block(struct line_reader *lr, const struct line *first, struct mps_ps *ret,
                          struct line *next, bool *has_next, struct error *err)
{
        struct mps_ps ps = {0};
        size_t capacity = 0;
        *has_next = false;
        if (line_is(first, MPS_TEXT_PS_NO_SERVER)) {
                ps.no_server = true;
                *has_next = next_line(lr, next);
                *ret = ps;
                return 0;
        }
        if (!is_ps_header(first))
                return malformed(err, "ps", first,
                                 "the header \"" MPS_PS_HEADER_FIELDS
                                 "\" or \"" MPS_TEXT_PS_NO_SERVER "\"");
        while ((*has_next = next_line(lr, next))) {
                struct mps_ps_row row;
                if (!has_several_fields(next))
                        break; /* not a row: the next answer (overview) or an error below */
                int r = parse_ps_row(next, &row);
                if (r <= 0) {
                        ps_rows_free(ps.rows, ps.count);
                        if (r < 0)
                                return error_set(err, r, "out of memory");
                        return malformed(err, "ps", next,
                                         "PID ID SERVER DEVICE NAMESPACE COMMAND fields");
                }
                if (ps.count == capacity) {
                        size_t bigger = capacity ? capacity * 2 : 8;
                        struct mps_ps_row *grown = realloc(ps.rows, bigger * sizeof(*grown));
                        if (!grown) {
                                free(row.command);
                                ps_rows_free(ps.rows, ps.count);
                                return error_set(err, -ENOMEM, "out of memory");
                        }
                        ps.rows = grown;
                        capacity = bigger;
                }
                ps.rows[ps.count++] = row;
        }
        *ret = ps;
        return 0;
}

int mps_answer_ps(const char *text, size_t size, struct mps_ps *ret_ps, struct error *err)
{
        int r = check_refusals("ps", text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        struct line first, next;
        bool has_next;
        struct mps_ps ps = {0};
        if (!next_line(&lr, &first)) {
                *ret_ps = ps; /* nothing at all: no clients */
                return 0;
        }
        r = parse_ps_block(&lr, &first, &ps, &next, &has_next, err);
        if (r < 0)
                return r;
        if (has_next) {
                mps_ps_done(&ps);
                return malformed(err, "ps", &next, "PID ID SERVER DEVICE NAMESPACE COMMAND fields");
        }
        *ret_ps = ps;
        return 0;
}

/* "50.0", "100", "12.5": digits, an optional fraction, 0 to 100. */
static bool parse_percent(const struct line *l, double *ret)
{
        const char *dot = memchr(l->p, '.', l->len);
        size_t int_len = dot ? (size_t)(dot - l->p) : l->len;
        unsigned long long whole, fraction = 0;
        if (int_len > 3 || !parse_decimal(l->p, int_len, 100, &whole))
                return false;
        double value = (double)whole;
        if (dot) {
                size_t frac_len = l->len - int_len - 1;
                if (frac_len > 6 || !parse_decimal(dot + 1, frac_len, 999999, &fraction))
                        return false;
                double scale = 1;
                for (size_t i = 0; i < frac_len; i++)
                        scale *= 10;
                value += (double)fraction / scale;
        }
        if (value > 100.0)
                return false;
        *ret = value;
        return true;
}

int mps_answer_percentage(const char *command, const char *text, size_t size, double *ret_percent,
                          struct error *err)
{
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        struct line l;
        double value;
        if (!next_line(&lr, &l))
                return missing(err, command, "a percentage");
        if (line_is_server_not_found(&l))
                return error_set(err, MPS_ANSWER_NOT_FOUND,
                                 "the MPS control daemon has no such server (it answered '%s' "
                                 "with \"%s\")",
                                 command, MPS_TEXT_SERVER_NOT_FOUND);
        if (!parse_percent(&l, &value))
                return malformed(err, command, &l, "a percentage such as 50.0");
        if (next_line(&lr, &l))
                return malformed(err, command, &l, "nothing after the percentage");
        *ret_percent = value;
        return 0;
}

int mps_pinned_limit_parse(const char *value, size_t size, unsigned long long *ret_bytes)
{
        if (!value || size == 0)
                return -EINVAL;
        unsigned shift = 0;
        size_t digits = size;
        switch (value[size - 1]) {
        case 'K':
        case 'k':
                shift = 10;
                break;
        case 'M':
        case 'm':
                shift = 20;
                break;
        case 'G':
        case 'g':
                shift = 30;
                break;
        case 'T':
        case 't':
                shift = 40;
                break;
        default:
                break;
        }
        if (shift)
                digits--;
        unsigned long long v;
        if (!parse_decimal(value, digits, ULLONG_MAX >> shift, &v))
                return -EINVAL;
        *ret_bytes = v << shift;
        return 0;
}

static bool parse_limit_line(const struct line *l, struct mps_pinned_limit *ret)
{
        struct mps_pinned_limit limit = {.set = true};
        if (l->len >= sizeof(limit.text) || mps_pinned_limit_parse(l->p, l->len, &limit.bytes) < 0)
                return false;
        memcpy(limit.text, l->p, l->len);
        *ret = limit;
        return true;
}

int mps_answer_pinned_limit(const char *command, const char *text, size_t size,
                            struct mps_pinned_limit *ret_limit, struct error *err)
{
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        struct line l;
        struct mps_pinned_limit limit = {0};
        if (next_line(&lr, &l)) {
                if (line_is_server_not_found(&l))
                        return error_set(err, MPS_ANSWER_NOT_FOUND,
                                         "the MPS control daemon has no such server (it answered "
                                         "'%s' with \"%s\")",
                                         command, MPS_TEXT_SERVER_NOT_FOUND);
                if (!parse_limit_line(&l, &limit))
                        return malformed(err, command, &l, "a size such as 2G, or nothing");
                if (next_line(&lr, &l))
                        return malformed(err, command, &l, "nothing after the limit");
        }
        *ret_limit = limit;
        return 0;
}

static bool parse_priority(const struct line *l, int *ret)
{
        unsigned long long v;
        if (!parse_decimal(l->p, l->len, 1000, &v))
                return false;
        *ret = (int)v;
        return true;
}

int mps_answer_priority(const char *command, const char *text, size_t size, int *ret_priority,
                        struct error *err)
{
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        struct line l;
        int value;
        if (!next_line(&lr, &l))
                return missing(err, command, "a priority");
        if (!parse_priority(&l, &value))
                return malformed(err, command, &l, "a priority such as 0");
        if (next_line(&lr, &l))
                return malformed(err, command, &l, "nothing after the priority");
        *ret_priority = value;
        return 0;
}

int mps_answer_server_status(const char *text, size_t size, enum mps_server_status *ret_status,
                             struct error *err)
{
        static const char command[] = "get_server_status";
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        struct line l;
        enum mps_server_status status;
        if (!next_line(&lr, &l))
                return missing(err, command, "a server status");
        if (line_is(&l, "ACTIVE"))
                status = MPS_SERVER_ACTIVE;
        else if (line_is(&l, "INITIALIZING"))
                status = MPS_SERVER_INITIALIZING;
        else if (line_is(&l, "FAULT"))
                status = MPS_SERVER_FAULT;
        else if (line_is_server_not_found(&l))
                return error_set(err, MPS_ANSWER_NOT_FOUND,
                                 "the MPS control daemon has no such server (it answered '%s' "
                                 "with \"%s\")",
                                 command, MPS_TEXT_SERVER_NOT_FOUND);
        else
                return malformed(err, command, &l, "ACTIVE, INITIALIZING or FAULT");
        if (next_line(&lr, &l))
                return malformed(err, command, &l, "nothing after the status");
        *ret_status = status;
        return 0;
}

int mps_answer_empty(const char *command, const char *text, size_t size, struct error *err)
{
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        struct line l;
        if (!next_line(&lr, &l))
                return 0;
        if (line_is_server_not_found(&l))
                return error_set(err, MPS_ANSWER_NOT_FOUND,
                                 "the MPS control daemon has no such server (it answered '%s' "
                                 "with \"%s\")",
                                 command, MPS_TEXT_SERVER_NOT_FOUND);
        return malformed(err, command, &l, "no output");
}

void mps_overview_done(struct mps_overview *overview)
{
        if (!overview)
                return;
        free(overview->servers);
        mps_ps_done(&overview->ps);
        *overview = (struct mps_overview){0};
}

/* The answers arrive concatenated without separators; they split by shape because each has one:
 * server PIDs are bare integers; ps starts with its header or "Server not found", or is empty (a
 * server without clients), and its rows have six or more fields; the percentage is printed with a
 * decimal point ("100.0") so it never passes for a PID; then come zero or one limit line and one
 * priority line, so the last line is the priority. A percentage printed without its decimal point
 * would be taken for a PID and the answer then ends too early: an error, never a wrong split. */
int mps_answer_overview(const char *text, size_t size, struct mps_overview *ret_overview,
                        struct error *err)
{
        static const char command[] = "get_server_list, ps, get_default_*";
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct mps_overview o = {0};
        size_t capacity = 0;
        struct line_reader lr = reader(text, size);
        struct line l;
        bool has = next_line(&lr, &l);

        for (; has; has = next_line(&lr, &l)) {
                pid_t pid;
                if (!parse_pid(l.p, l.len, &pid))
                        break;
                if (append_pid(&o.servers, &o.server_count, &capacity, pid) < 0) {
                        r = error_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
        }
        if (has && (line_is(&l, MPS_TEXT_PS_NO_SERVER) || is_ps_header(&l))) {
                r = parse_ps_block(&lr, &l, &o.ps, &l, &has, err);
                if (r < 0)
                        goto fail;
        }

        struct line rest[3];
        size_t n = 0;
        for (; has; has = next_line(&lr, &l)) {
                if (n == ELEMENTSOF(rest)) {
                        r = malformed(err, command, &l,
                                      "nothing after get_default_client_priority's answer");
                        goto fail;
                }
                rest[n++] = l;
        }
        if (n < 2) {
                r = missing(err, command,
                            n == 0 ? "get_default_active_thread_percentage's answer"
                                   : "get_default_client_priority's answer");
                goto fail;
        }
        if (!parse_percent(&rest[0], &o.default_active_thread_percentage)) {
                r = malformed(err, command, &rest[0], "a percentage such as 100.0");
                goto fail;
        }
        if (n == 3 && !parse_limit_line(&rest[1], &o.default_pinned_limit)) {
                r = malformed(err, command, &rest[1], "a size such as 2G");
                goto fail;
        }
        if (!parse_priority(&rest[n - 1], &o.default_client_priority)) {
                r = malformed(err, command, &rest[n - 1], "a priority such as 0");
                goto fail;
        }
        *ret_overview = o;
        return 0;
fail:
        mps_overview_done(&o);
        return r;
}

unsigned long long mps_pinned_limit_read_back(unsigned long long bytes)
{
        const unsigned long long gib = 1ULL << 30;
        return bytes >= gib ? bytes / gib * gib : bytes;
}

void mps_pinned_limit_format(unsigned long long bytes, char *buffer, size_t size)
{
        const unsigned long long mib = 1ULL << 20, gib = 1ULL << 30;
        if (bytes % gib == 0)
                (void)snprintf(buffer, size, "%lluG", bytes / gib);
        else
                (void)snprintf(buffer, size, "%lluM", bytes / mib);
}

int mps_answer_defaults(const char *text, size_t size, bool thread_set,
                        struct mps_defaults_answer *ret_defaults, struct error *err)
{
        static const char command[] = "set_default_*, get_default_*";
        int r = check_refusals(command, text, size, err);
        if (r < 0)
                return r;
        struct line_reader lr = reader(text, size);
        struct line lines[4], l;
        size_t n = 0, most = thread_set ? 4 : 3;
        while (next_line(&lr, &l)) {
                if (n == most)
                        return malformed(err, command, &l,
                                         "nothing after get_default_client_priority's answer");
                lines[n++] = l;
        }
        size_t first = thread_set ? 1 : 0;
        if (thread_set && n > 0) {
                double ignored;
                if (!parse_percent(&lines[0], &ignored))
                        return malformed(err, command, &lines[0],
                                         "the percentage set_default_active_thread_percentage "
                                         "answers, such as 40.0");
        }
        if (n < first + 2)
                return missing(err, command,
                               n <= first ? "get_default_active_thread_percentage's answer"
                                          : "get_default_client_priority's answer");
        struct mps_defaults_answer answer = {0};
        if (!parse_percent(&lines[first], &answer.thread_percentage))
                return malformed(err, command, &lines[first], "a percentage such as 100.0");
        if (n == first + 3 && !parse_limit_line(&lines[first + 1], &answer.pinned))
                return malformed(err, command, &lines[first + 1], "a size such as 2G");
        if (!parse_priority(&lines[n - 1], &answer.client_priority))
                return malformed(err, command, &lines[n - 1], "a priority such as 0");
        *ret_defaults = answer;
        return 0;
}

/* The first non-empty line of `text`, for a message. */
static bool first_line(const char *text, size_t size, struct line *ret)
{
        struct line_reader lr = reader(text, size);
        return next_line(&lr, ret);
}

static bool contains(const char *text, size_t size, const char *needle)
{
        return text && memmem(text, size, needle, strlen(needle)) != NULL;
}

int mps_answer_start_failure(int exit_status, const char *out, size_t out_size, const char *errtext,
                             size_t err_size, const char *uuid, const char *pipe_dir,
                             struct error *err)
{
        const char *dir = pipe_dir ? pipe_dir : "(unset)";
        if (contains(errtext, err_size, MPS_TEXT_ALREADY_RUNNING) ||
            contains(out, out_size, MPS_TEXT_ALREADY_RUNNING))
                return error_set(err, -EALREADY,
                                 "an MPS control daemon already runs on the pipe folder %s", dir);
        if (exit_status == 100)
                return error_set(err, -ENODEV,
                                 "the driver does not know CUDA_VISIBLE_DEVICES=%s (the MPS "
                                 "control program exited with status 100): check the device "
                                 "UUID with nvidia-smi -L",
                                 uuid ? uuid : "(unset)");
        if (contains(errtext, err_size, MPS_TEXT_PIPE_DIR_ACCESS) ||
            contains(out, out_size, MPS_TEXT_PIPE_DIR_ACCESS))
                return error_set(err, -ENOENT,
                                 "the MPS control program cannot access its pipe folder %s: "
                                 "create it (and let the daemon's user traverse its parents)",
                                 dir);
        struct line l;
        char q[QUOTE_BUF];
        if (first_line(errtext, err_size, &l) || first_line(out, out_size, &l))
                return error_set(err, -EIO,
                                 "the MPS control program exited with status %d when starting a "
                                 "daemon on %s: \"%s\"",
                                 exit_status, dir, quote(l.p, l.len, q, sizeof(q)));
        return error_set(err, -EIO,
                         "the MPS control program exited with status %d when starting a daemon "
                         "on %s, printing nothing",
                         exit_status, dir);
}
