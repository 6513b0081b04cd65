/* The tokenizer of simgpu's PTX front end: words, numbers, strings and punctuation with their
 * line numbers, comments skipped, PTX literals decoded, and the first error kept as a ptxas-style
 * log line. */
#include "ptx_lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ptx_lex_error(struct parser *p, unsigned line, const char *fmt, ...)
{
        char message[256];
        va_list ap;

        if (p->failed)
                return;
        p->failed = true;
        va_start(ap, fmt);
        (void)vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        if (p->log && p->log_size > 0)
                (void)snprintf(p->log, p->log_size,
                               "ptxas application ptx input, line %u; error   : %s\n"
                               "ptxas fatal   : Ptx assembly aborted due to errors\n",
                               line, message);
}

static bool is_word_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '$' || c == '%' || c == '.';
}

void lex_next(struct parser *p)
{
        const char *s = p->pos;

        for (;;) {
                if (*s == '\n') {
                        p->line++;
                        s++;
                } else if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v') {
                        s++;
                } else if (s[0] == '/' && s[1] == '/') {
                        while (*s && *s != '\n')
                                s++;
                } else if (s[0] == '/' && s[1] == '*') {
                        s += 2;
                        while (*s && !(s[0] == '*' && s[1] == '/')) {
                                if (*s == '\n')
                                        p->line++;
                                s++;
                        }
                        if (*s)
                                s += 2;
                } else {
                        break;
                }
        }
        p->tok.start = s;
        p->tok.line = p->line;
        if (*s == '\0') {
                p->tok.kind = TOK_END;
        } else if (*s >= '0' && *s <= '9') {
                p->tok.kind = TOK_NUMBER;
                while (is_word_char(*s))
                        s++;
        } else if (is_word_char(*s)) {
                p->tok.kind = TOK_WORD;
                /* "::" belongs to a word (ld.global.L1::no_allocate); one ':' ends a label */
                while (is_word_char(*s) || (s[0] == ':' && s[1] == ':'))
                        s += s[0] == ':' ? 2 : 1;
        } else if (*s == '"') {
                p->tok.kind = TOK_STRING;
                s++;
                while (*s && *s != '"' && *s != '\n')
                        s++;
                if (*s == '"')
                        s++;
        } else {
                p->tok.kind = TOK_PUNCT;
                s++;
        }
        p->tok.len = (size_t)(s - p->tok.start);
        p->pos = s;
}

bool lex_is(const struct parser *p, const char *text)
{
        return p->tok.kind != TOK_END && strlen(text) == p->tok.len &&
               memcmp(p->tok.start, text, p->tok.len) == 0;
}

bool lex_copy(const struct token *t, char *buf, size_t size)
{
        if (t->len >= size)
                return false;
        memcpy(buf, t->start, t->len);
        buf[t->len] = '\0';
        return true;
}

bool lex_expect(struct parser *p, const char *text)
{
        if (!lex_is(p, text)) {
                ptx_lex_error(p, p->tok.line, "syntax error: expected '%s' near '%.*s'", text,
                              (int)p->tok.len, p->tok.start);
                return false;
        }
        lex_next(p);
        return true;
}

void lex_skip_line(struct parser *p)
{
        unsigned line = p->tok.line;

        while (p->tok.kind != TOK_END && p->tok.line == line)
                lex_next(p);
}

/* Skips to just past the next ';' outside braces. */
void lex_skip_statement(struct parser *p)
{
        int depth = 0;

        while (p->tok.kind != TOK_END) {
                if (lex_is(p, "{"))
                        depth++;
                else if (lex_is(p, "}"))
                        depth--;
                else if (lex_is(p, ";") && depth <= 0) {
                        lex_next(p);
                        return;
                }
                lex_next(p);
        }
}

void lex_skip_block(struct parser *p)
{
        int depth = 0;

        do {
                if (lex_is(p, "{"))
                        depth++;
                else if (lex_is(p, "}"))
                        depth--;
                lex_next(p);
        } while (depth > 0 && p->tok.kind != TOK_END);
}

int ptx_grow(void *array_ptr, size_t *cap, size_t need, size_t elem)
{
        void **array = array_ptr;
        size_t n = *cap ? *cap : 8;
        void *bigger;

        if (need <= *cap)
                return 0;
        while (n < need)
                n *= 2;
        bigger = realloc(*array, n * elem);
        if (!bigger)
                return -ENOMEM;
        *array = bigger;
        *cap = n;
        return 0;
}

bool ptx_parse_type(const char *name, struct ptx_type *ret)
{
        static const struct {
                const char *name;
                enum ptx_kind kind;
                unsigned bits;
        } types[] = {
            {"b8", PTX_KIND_B, 8},      {"b16", PTX_KIND_B, 16}, {"b32", PTX_KIND_B, 32},
            {"b64", PTX_KIND_B, 64},    {"u8", PTX_KIND_U, 8},   {"u16", PTX_KIND_U, 16},
            {"u32", PTX_KIND_U, 32},    {"u64", PTX_KIND_U, 64}, {"s8", PTX_KIND_S, 8},
            {"s16", PTX_KIND_S, 16},    {"s32", PTX_KIND_S, 32}, {"s64", PTX_KIND_S, 64},
            {"f16", PTX_KIND_F, 16},    {"f32", PTX_KIND_F, 32}, {"f64", PTX_KIND_F, 64},
            {"pred", PTX_KIND_PRED, 1},
        };

        if (name[0] == '.')
                name++;
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
                if (strcmp(name, types[i].name) == 0) {
                        ret->kind = types[i].kind;
                        ret->bits = types[i].bits;
                        return true;
                }
        return false;
}

bool lex_type(const struct parser *p, struct ptx_type *ret)
{
        char buf[16];

        return p->tok.kind == TOK_WORD && lex_copy(&p->tok, buf, sizeof(buf)) &&
               ptx_parse_type(buf, ret);
}

bool lex_unsigned(const struct token *t, unsigned long long *ret)
{
        char buf[64], *end;
        int base = 10;
        const char *digits = buf;

        if (t->kind != TOK_NUMBER || !lex_copy(t, buf, sizeof(buf)))
                return false;
        if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
                base = 16;
                digits = buf + 2;
        } else if (buf[0] == '0' && (buf[1] == 'b' || buf[1] == 'B')) {
                base = 2;
                digits = buf + 2;
        } else if (buf[0] == '0' && buf[1] != '\0') {
                base = 8;
        }
        errno = 0;
        *ret = strtoull(digits, &end, base);
        if (end == digits || errno != 0)
                return false;
        return *end == '\0' || strcmp(end, "U") == 0;
}

/* Integer, 0fXXXXXXXX / 0dXXXXXXXXXXXXXXXX float bits, or a decimal float. */
bool lex_immediate(const struct token *t, bool negative, struct ptx_operand *op)
{
        char buf[64], *end;
        unsigned long long value;

        if (t->kind != TOK_NUMBER || !lex_copy(t, buf, sizeof(buf)))
                return false;
        op->kind = PTX_OPERAND_IMM;
        if ((buf[1] == 'f' || buf[1] == 'F' || buf[1] == 'd' || buf[1] == 'D') && buf[0] == '0') {
                bool single = buf[1] == 'f' || buf[1] == 'F';

                if (strlen(buf + 2) != (single ? 8u : 16u))
                        return false;
                errno = 0;
                value = strtoull(buf + 2, &end, 16);
                if (*end != '\0' || errno != 0)
                        return false;
                if (negative)
                        value ^= single ? 0x80000000ull : 0x8000000000000000ull;
                op->imm_kind = single ? PTX_IMM_F32_BITS : PTX_IMM_F64_BITS;
                op->imm = value;
                return true;
        }
        if (strpbrk(buf, ".eE") && !strpbrk(buf, "xX")) {
                op->imm_kind = PTX_IMM_DECIMAL;
                op->decimal = strtod(buf, &end);
                if (*end != '\0')
                        return false;
                if (negative)
                        op->decimal = -op->decimal;
                return true;
        }
        if (!lex_unsigned(t, &value))
                return false;
        op->imm_kind = PTX_IMM_INT;
        op->imm = negative ? (uint64_t)0 - value : value;
        return true;
}
