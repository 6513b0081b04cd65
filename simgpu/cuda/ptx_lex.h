/* The tokenizer and parser state shared by simgpu's PTX front end (ptx_lex.c, ptx_parse.c):
 * tokens with line numbers, literals, and the ptxas-style error log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ptx.h"

enum tok_kind { TOK_END, TOK_WORD, TOK_NUMBER, TOK_STRING, TOK_PUNCT };

struct token {
        enum tok_kind kind;
        const char *start;
        size_t len;
        unsigned line;
};

struct reg_group {
        char name[64];  /* "%r" for %r<7>, the whole name for a single register */
        unsigned count; /* 0 for a single register */
        unsigned base;
        struct ptx_type type;
};

struct label {
        char name[128];
        unsigned insn;
};

struct parser {
        const char *pos;
        unsigned line;
        struct token tok;
        char *log;
        size_t log_size;
        bool failed;
        /* module-level variables: operands naming them make an entry not runnable */
        char (*variables)[128];
        size_t variable_count;
        /* the entry being parsed */
        struct ptx_entry *entry;
        struct reg_group *groups;
        size_t group_count;
        struct label *labels;
        size_t label_count;
        char (*branch_targets)[128]; /* per instruction, the label a bra names */
        size_t target_cap;
        size_t insn_cap;
        size_t group_cap, label_cap, variable_cap;
};

/* Records the first error as a ptxas-style log line; the parse fails. */
void ptx_lex_error(struct parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Moves to the next token, past white space and comments. */
void lex_next(struct parser *p);
bool lex_is(const struct parser *p, const char *text);
/* Copies the token as a string; false when it does not fit. */
bool lex_copy(const struct token *t, char *buf, size_t size);
/* Consumes TEXT, or records a syntax error and returns false. */
bool lex_expect(struct parser *p, const char *text);
void lex_skip_line(struct parser *p);
/* Skips to just past the next ';' outside braces. */
void lex_skip_statement(struct parser *p);
/* Skips a balanced { ... } block. */
void lex_skip_block(struct parser *p);
/* Grows *array_ptr to hold `need` elements of `elem` bytes; 0 or -ENOMEM. */
int ptx_grow(void *array_ptr, size_t *cap, size_t need, size_t elem);
/* The token as a type name (.u32); false when it is none. */
bool lex_type(const struct parser *p, struct ptx_type *ret);
/* Integer literals: decimal, 0x hex, 0b binary, 0 octal, optional U suffix. */
bool lex_unsigned(const struct token *t, unsigned long long *ret);
/* An operand literal: integer, 0f/0d float bits, or decimal float; `negative` after a '-'. */
bool lex_immediate(const struct token *t, bool negative, struct ptx_operand *op);
