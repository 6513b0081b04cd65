/* PTX text to struct ptx_program: the module directives, kernel entries with their parameters,
 * register declarations, labels and instructions, over the tokens of ptx_lex.c. What is malformed
 * fails as the JIT would; what is valid but outside the runnable subset only marks the entry not
 * runnable. */
#include "ptx_lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find_register(const struct parser *p, const char *name)
{
        for (size_t i = 0; i < p->group_count; i++) {
                const struct reg_group *g = &p->groups[i];
                size_t n = strlen(g->name);
                char *end;
                unsigned long k;

                if (g->count == 0) {
                        if (strcmp(name, g->name) == 0)
                                return (int)g->base;
                        continue;
                }
                if (strncmp(name, g->name, n) != 0 || name[n] < '0' || name[n] > '9')
                        continue;
                if (name[n] == '0' && name[n + 1] != '\0')
                        continue;
                k = strtoul(name + n, &end, 10);
                if (*end == '\0' && k < g->count)
                        return (int)(g->base + k);
        }
        return -1;
}

static bool is_variable(const struct parser *p, const char *name)
{
        for (size_t i = 0; i < p->variable_count; i++)
                if (strcmp(p->variables[i], name) == 0)
                        return true;
        return false;
}

static int add_variable(struct parser *p, const char *name)
{
        if (ptx_grow(&p->variables, &p->variable_cap, p->variable_count + 1,
                     sizeof(*p->variables)) < 0)
                return -ENOMEM;
        (void)snprintf(p->variables[p->variable_count++], sizeof(*p->variables), "%s", name);
        return 0;
}

static void not_runnable(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void not_runnable(struct parser *p, const char *fmt, ...)
{
        va_list ap;

        if (!p->entry->runnable)
                return;
        p->entry->runnable = false;
        va_start(ap, fmt);
        (void)vsnprintf(p->entry->not_runnable_why, sizeof(p->entry->not_runnable_why), fmt, ap);
        va_end(ap);
}

/* .reg .b32 %r<7>;   .reg .f32 %f1, %f2; */
static int parse_reg_decl(struct parser *p)
{
        struct ptx_type type;
        unsigned line = p->tok.line;

        lex_next(p);
        if (lex_is(p, ".v2") || lex_is(p, ".v4")) {
                not_runnable(p, "vector registers (line %u)", line);
                lex_skip_statement(p);
                return 0;
        }
        if (!lex_type(p, &type)) {
                ptx_lex_error(p, line, "syntax error: a register declaration needs a type");
                return -EINVAL;
        }
        lex_next(p);
        for (;;) {
                struct reg_group g = {.type = type, .base = p->entry->reg_count};
                unsigned long long count = 0;

                if (p->tok.kind != TOK_WORD || p->tok.start[0] != '%' ||
                    !lex_copy(&p->tok, g.name, sizeof(g.name))) {
                        ptx_lex_error(p, line, "syntax error: bad register name");
                        return -EINVAL;
                }
                lex_next(p);
                if (lex_is(p, "<")) {
                        lex_next(p);
                        if (!lex_unsigned(&p->tok, &count) || count == 0 || count > 65536) {
                                ptx_lex_error(p, line, "syntax error: bad register count");
                                return -EINVAL;
                        }
                        lex_next(p);
                        if (!lex_expect(p, ">"))
                                return -EINVAL;
                }
                if (find_register(p, g.name) >= 0 && count == 0) {
                        ptx_lex_error(p, line, "Duplicate definition of register '%s'", g.name);
                        return -EINVAL;
                }
                g.count = (unsigned)count;
                if (p->entry->reg_count + (count ? count : 1) > 1u << 20) {
                        ptx_lex_error(p, line, "too many registers");
                        return -EINVAL;
                }
                if (ptx_grow(&p->groups, &p->group_cap, p->group_count + 1, sizeof(g)) < 0)
                        return -ENOMEM;
                p->groups[p->group_count++] = g;
                p->entry->reg_count += count ? (unsigned)count : 1;
                if (lex_is(p, ",")) {
                        lex_next(p);
                        continue;
                }
                return lex_expect(p, ";") ? 0 : -EINVAL;
        }
}

/* Special registers outside %tid/%ntid/%ctaid/%nctaid and the clocks: valid PTX, not run here. */
static bool is_other_special_register(const char *name)
{
        static const char *const prefixes[] = {
            "%laneid",
            "%warpid",
            "%nwarpid",
            "%smid",
            "%nsmid",
            "%gridid",
            "%clock",
            "%lanemask_",
            "%pm",
            "%envreg",
            "%globaltimer",
            "%dynamic_smem_size",
            "%total_smem_size",
            "%reserved_smem",
            "%cluster",
            "%is_explicit_cluster",
            "%aggr_smem_size",
            "%current_graph_exec",
            "%nclusterid",
            "%tid.",
            "%ntid.",
            "%ctaid.",
            "%nctaid.",
        };

        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
                if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

/* Parses one operand into op. Returns 1 when parsed, 0 when valid PTX outside the subset (the
 * entry is marked not runnable), -EINVAL on an error. */
static int parse_operand(struct parser *p, struct ptx_insn *insn, struct ptx_operand *op,
                         char *label_out, size_t label_size)
{
        char name[128];
        bool negative = false;

        op->reg = -1;
        op->param = -1;
        if (lex_is(p, "[")) {
                lex_next(p);
                op->kind = PTX_OPERAND_MEM;
                if (p->tok.kind != TOK_WORD || !lex_copy(&p->tok, name, sizeof(name))) {
                        not_runnable(p, "an absolute address (line %u)", p->tok.line);
                        return 0;
                }
                op->reg = find_register(p, name);
                for (unsigned i = 0; op->reg < 0 && i < p->entry->param_count; i++)
                        if (strcmp(p->entry->params[i].name, name) == 0)
                                op->param = (int)i;
                if (op->reg < 0 && op->param < 0) {
                        if (is_variable(p, name)) {
                                not_runnable(p, "module variable '%s'", name);
                                return 0;
                        }
                        ptx_lex_error(p, p->tok.line, "Unknown symbol '%s'", name);
                        return -EINVAL;
                }
                lex_next(p);
                if (lex_is(p, "+")) {
                        struct ptx_operand offset = {0};

                        lex_next(p);
                        if (lex_is(p, "-")) {
                                negative = true;
                                lex_next(p);
                        }
                        if (!lex_immediate(&p->tok, negative, &offset) ||
                            offset.imm_kind != PTX_IMM_INT) {
                                ptx_lex_error(p, p->tok.line, "syntax error: bad address offset");
                                return -EINVAL;
                        }
                        op->offset = (int64_t)offset.imm;
                        lex_next(p);
                }
                return lex_expect(p, "]") ? 1 : -EINVAL;
        }
        if (lex_is(p, "{")) {
                not_runnable(p, "vector operands (line %u)", p->tok.line);
                return 0;
        }
        if (lex_is(p, "-")) {
                negative = true;
                lex_next(p);
        }
        if (p->tok.kind == TOK_NUMBER) {
                if (!lex_immediate(&p->tok, negative, op)) {
                        ptx_lex_error(p, p->tok.line, "syntax error: bad constant '%.*s'",
                                      (int)p->tok.len, p->tok.start);
                        return -EINVAL;
                }
                lex_next(p);
                return 1;
        }
        if (p->tok.kind != TOK_WORD || negative || !lex_copy(&p->tok, name, sizeof(name))) {
                ptx_lex_error(p, p->tok.line, "syntax error near '%.*s'", (int)p->tok.len,
                              p->tok.start);
                return -EINVAL;
        }
        lex_next(p);
        if (insn->op == PTX_OP_BRA) {
                op->kind = PTX_OPERAND_LABEL;
                (void)snprintf(label_out, label_size, "%s", name);
                return 1;
        }
        op->reg = find_register(p, name);
        if (op->reg >= 0) {
                op->kind = PTX_OPERAND_REG;
                return 1;
        }
        if (name[0] == '%') {
                static const char *const specials[] = {"%tid", "%ntid", "%ctaid", "%nctaid"};
                const char *dot = strrchr(name, '.');

                for (unsigned i = 0; dot && i < 4; i++) {
                        if (strncmp(name, specials[i], (size_t)(dot - name)) != 0 ||
                            strlen(specials[i]) != (size_t)(dot - name))
                                continue;
                        if (strlen(dot) == 2 && dot[1] >= 'x' && dot[1] <= 'z') {
                                op->kind = PTX_OPERAND_SPECIAL;
                                op->special = i;
                                op->axis = (unsigned)(dot[1] - 'x');
                                return 1;
                        }
                }
                if (strcmp(name, "%clock") == 0 || strcmp(name, "%clock64") == 0 ||
                    strcmp(name, "%globaltimer") == 0) {
                        op->kind = PTX_OPERAND_SPECIAL;
                        op->special = name[6] == '\0'  ? PTX_SPECIAL_CLOCK
                                      : name[6] == '6' ? PTX_SPECIAL_CLOCK64
                                                       : PTX_SPECIAL_GLOBALTIMER;
                        op->axis = 0;
                        return 1;
                }
                if (is_other_special_register(name)) {
                        not_runnable(p, "special register '%s'", name);
                        return 0;
                }
        } else if (is_variable(p, name)) {
                not_runnable(p, "module variable '%s'", name);
                return 0;
        }
        ptx_lex_error(p, p->tok.line, "Unknown symbol '%s'", name);
        return -EINVAL;
}

static int parse_instruction(struct parser *p, const struct token *opcode, int guard,
                             bool guard_negated)
{
        struct ptx_entry *e = p->entry;
        struct ptx_insn insn = {
            .guard = guard, .guard_negated = guard_negated, .line = opcode->line};
        char word[128], why[160], label[128] = "";
        unsigned expected = 0;
        int r;

        if (!lex_copy(opcode, word, sizeof(word))) {
                ptx_lex_error(p, opcode->line, "syntax error: instruction name too long");
                return -EINVAL;
        }
        r = ptx_decode_opcode(word, &insn, &expected, why, sizeof(why));
        if (r < 0) {
                ptx_lex_error(p, opcode->line, "%s", why);
                return -EINVAL;
        }
        if (r == 0) {
                not_runnable(p, "%s (line %u)", why, opcode->line);
                lex_skip_statement(p);
                return 0;
        }
        while (!lex_is(p, ";")) {
                if (insn.operand_count == PTX_MAX_OPERANDS || p->tok.kind == TOK_END) {
                        ptx_lex_error(p, opcode->line, "syntax error in '%s'", word);
                        return -EINVAL;
                }
                if (insn.operand_count > 0 && !lex_expect(p, ","))
                        return -EINVAL;
                r = parse_operand(p, &insn, &insn.operands[insn.operand_count], label,
                                  sizeof(label));
                if (r < 0)
                        return r;
                if (r == 0) {
                        lex_skip_statement(p);
                        return 0;
                }
                insn.operand_count++;
        }
        lex_next(p);
        if (insn.operand_count != expected) {
                ptx_lex_error(p, opcode->line, "Wrong number of operands for instruction '%s'",
                              word);
                return -EINVAL;
        }
        if (ptx_check_operands(&insn, e->reg_types, why, sizeof(why)) < 0) {
                ptx_lex_error(p, opcode->line, "%s for instruction '%s'", why, word);
                return -EINVAL;
        }
        if (ptx_grow(&e->insns, &p->insn_cap, e->insn_count + 1, sizeof(insn)) < 0 ||
            ptx_grow(&p->branch_targets, &p->target_cap, e->insn_count + 1,
                     sizeof(*p->branch_targets)) < 0)
                return -ENOMEM;
        (void)snprintf(p->branch_targets[e->insn_count], sizeof(*p->branch_targets), "%s", label);
        e->insns[e->insn_count++] = insn;
        return 0;
}

/* Registers are declared anywhere in the body; types are needed to check operands, so the type
 * table is rebuilt whenever a declaration adds registers. */
static int refresh_reg_types(struct parser *p)
{
        struct ptx_type *types = realloc(
            p->entry->reg_types, (p->entry->reg_count ? p->entry->reg_count : 1) * sizeof(*types));

        if (!types)
                return -ENOMEM;
        for (size_t i = 0; i < p->group_count; i++) {
                const struct reg_group *g = &p->groups[i];

                for (unsigned k = 0; k < (g->count ? g->count : 1); k++)
                        types[g->base + k] = g->type;
        }
        p->entry->reg_types = types;
        return 0;
}

static int parse_body(struct parser *p)
{
        int depth = 1, r;

        while (depth > 0) {
                struct token first = p->tok;
                int guard = -1;
                bool negated = false;
                char name[128];

                if (p->failed)
                        return -EINVAL;
                if (first.kind == TOK_END) {
                        ptx_lex_error(p, first.line, "syntax error: unexpected end of file");
                        return -EINVAL;
                }
                if (lex_is(p, "{") || lex_is(p, "}")) {
                        depth += lex_is(p, "{") ? 1 : -1;
                        lex_next(p);
                        continue;
                }
                if (lex_is(p, ".reg")) {
                        r = parse_reg_decl(p);
                        if (r == 0)
                                r = refresh_reg_types(p);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (lex_is(p, ".loc")) {
                        lex_skip_line(p);
                        continue;
                }
                if (lex_is(p, ".pragma")) {
                        lex_skip_statement(p);
                        continue;
                }
                if (lex_is(p, ".local") || lex_is(p, ".shared") || lex_is(p, ".const") ||
                    lex_is(p, ".global") || lex_is(p, ".param")) {
                        not_runnable(p, "'%.*s' variables (line %u)", (int)first.len, first.start,
                                     first.line);
                        while (!lex_is(p, ";") && !lex_is(p, "[") && p->tok.kind != TOK_END) {
                                if (p->tok.start[0] != '.' && p->tok.kind == TOK_WORD &&
                                    lex_copy(&p->tok, name, sizeof(name)) &&
                                    add_variable(p, name) < 0)
                                        return -ENOMEM;
                                lex_next(p);
                        }
                        lex_skip_statement(p);
                        continue;
                }
                if (lex_is(p, "@")) {
                        lex_next(p);
                        if (lex_is(p, "!")) {
                                negated = true;
                                lex_next(p);
                        }
                        if (!lex_copy(&p->tok, name, sizeof(name)) ||
                            (guard = find_register(p, name)) < 0 ||
                            p->entry->reg_types[guard].kind != PTX_KIND_PRED) {
                                ptx_lex_error(p, p->tok.line, "Unknown predicate '%.*s'",
                                              (int)p->tok.len, p->tok.start);
                                return -EINVAL;
                        }
                        lex_next(p);
                        first = p->tok;
                        if (first.kind != TOK_WORD) {
                                ptx_lex_error(p, first.line, "syntax error after predicate");
                                return -EINVAL;
                        }
                        lex_next(p);
                        r = parse_instruction(p, &first, guard, negated);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (first.kind != TOK_WORD) {
                        ptx_lex_error(p, first.line, "syntax error near '%.*s'", (int)first.len,
                                      first.start);
                        return -EINVAL;
                }
                lex_next(p);
                if (lex_is(p, ":")) {
                        lex_next(p);
                        if (!lex_copy(&first, name, sizeof(name))) {
                                ptx_lex_error(p, first.line, "label name too long");
                                return -EINVAL;
                        }
                        for (size_t i = 0; i < p->label_count; i++)
                                if (strcmp(p->labels[i].name, name) == 0) {
                                        ptx_lex_error(p, first.line,
                                                      "Duplicate definition of label '%s'", name);
                                        return -EINVAL;
                                }
                        if (ptx_grow(&p->labels, &p->label_cap, p->label_count + 1,
                                     sizeof(*p->labels)) < 0)
                                return -ENOMEM;
                        (void)snprintf(p->labels[p->label_count].name, sizeof(p->labels->name),
                                       "%s", name);
                        p->labels[p->label_count++].insn = p->entry->insn_count;
                        continue;
                }
                r = parse_instruction(p, &first, -1, false);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < p->entry->insn_count; i++) {
                struct ptx_insn *insn = &p->entry->insns[i];
                bool found = false;

                if (insn->op != PTX_OP_BRA)
                        continue;
                for (size_t k = 0; k < p->label_count && !found; k++)
                        if (strcmp(p->labels[k].name, p->branch_targets[i]) == 0) {
                                insn->operands[0].label = p->labels[k].insn;
                                found = true;
                        }
                if (!found) {
                        ptx_lex_error(p, insn->line, "Unknown symbol '%s'", p->branch_targets[i]);
                        return -EINVAL;
                }
        }
        return 0;
}

/* (.param .u64 name, .param .align 8 .b8 name[16], ...) */
static int parse_params(struct parser *p)
{
        struct ptx_entry *e = p->entry;
        size_t cap = 0;

        if (!lex_expect(p, "("))
                return -EINVAL;
        while (!lex_is(p, ")")) {
                struct ptx_param param = {.align = 0};
                struct ptx_type type = {PTX_KIND_B, 0};
                unsigned long long n = 1;

                if (e->param_count > 0 && !lex_expect(p, ","))
                        return -EINVAL;
                if (!lex_expect(p, ".param"))
                        return -EINVAL;
                while (p->tok.kind == TOK_WORD && p->tok.start[0] == '.') {
                        if (lex_is(p, ".align")) {
                                lex_next(p);
                                if (!lex_unsigned(&p->tok, &n) || n == 0 || (n & (n - 1)) ||
                                    n > 256) {
                                        ptx_lex_error(p, p->tok.line, "bad .align value");
                                        return -EINVAL;
                                }
                                param.align = (unsigned)n;
                        } else if (!lex_type(p, &type) && !lex_is(p, ".ptr") &&
                                   !lex_is(p, ".global") && !lex_is(p, ".const") &&
                                   !lex_is(p, ".shared") && !lex_is(p, ".local")) {
                                ptx_lex_error(p, p->tok.line, "syntax error near '%.*s'",
                                              (int)p->tok.len, p->tok.start);
                                return -EINVAL;
                        }
                        lex_next(p);
                }
                if (type.bits == 0 || type.kind == PTX_KIND_PRED ||
                    !lex_copy(&p->tok, param.name, sizeof(param.name)) || p->tok.kind != TOK_WORD) {
                        ptx_lex_error(p, p->tok.line, "syntax error in parameter list");
                        return -EINVAL;
                }
                lex_next(p);
                n = 1;
                if (lex_is(p, "[")) {
                        lex_next(p);
                        if (!lex_unsigned(&p->tok, &n) || n == 0 || n > 32764) {
                                ptx_lex_error(p, p->tok.line, "bad parameter array size");
                                return -EINVAL;
                        }
                        lex_next(p);
                        if (!lex_expect(p, "]"))
                                return -EINVAL;
                }
                param.size = (unsigned)n * (type.bits / 8);
                if (param.align == 0)
                        param.align = type.bits / 8;
                param.offset = (e->param_bytes + param.align - 1) & ~(param.align - 1);
                if (param.offset + param.size > 32764) {
                        ptx_lex_error(p, p->tok.line, "kernel parameters exceed 32764 bytes");
                        return -EINVAL;
                }
                e->param_bytes = param.offset + param.size;
                if (ptx_grow(&e->params, &cap, e->param_count + 1, sizeof(param)) < 0)
                        return -ENOMEM;
                e->params[e->param_count++] = param;
        }
        lex_next(p);
        return 0;
}

static void entry_free(struct ptx_entry *e)
{
        free(e->params);
        free(e->insns);
        free(e->reg_types);
}

static int parse_entry(struct parser *p, struct ptx_program *program, size_t *entry_cap)
{
        struct ptx_entry entry = {.runnable = true};
        int r;

        lex_next(p);
        if (p->tok.kind != TOK_WORD || p->tok.start[0] == '.' ||
            !lex_copy(&p->tok, entry.name, sizeof(entry.name))) {
                ptx_lex_error(p, p->tok.line, "syntax error: .entry needs a name");
                return -EINVAL;
        }
        for (unsigned i = 0; i < program->entry_count; i++)
                if (strcmp(program->entries[i].name, entry.name) == 0) {
                        ptx_lex_error(p, p->tok.line, "Duplicate definition of function '%s'",
                                      entry.name);
                        return -EINVAL;
                }
        lex_next(p);
        p->entry = &entry;
        p->group_count = 0;
        p->label_count = 0;
        p->insn_cap = 0;
        r = lex_is(p, "(") ? parse_params(p) : 0;
        /* performance tuning directives (.maxntid 256, 1, 1 ...) change nothing here */
        while (r == 0 && !lex_is(p, "{") && !lex_is(p, ";") && p->tok.kind != TOK_END)
                lex_next(p);
        if (r == 0 && lex_is(p, ";")) {
                lex_next(p); /* a declaration without a body */
                entry_free(&entry);
                return 0;
        }
        if (r == 0 && lex_expect(p, "{"))
                r = parse_body(p);
        else if (r == 0)
                r = -EINVAL;
        if (r == 0)
                r = ptx_grow(&program->entries, entry_cap, program->entry_count + 1, sizeof(entry));
        if (r < 0) {
                entry_free(&entry);
                return r;
        }
        program->entries[program->entry_count++] = entry;
        return 0;
}

static int parse_module(struct parser *p, struct ptx_program *program)
{
        size_t entry_cap = 0;
        bool have_version = false, have_target = false;
        char name[128];
        int r;

        lex_next(p);
        while (p->tok.kind != TOK_END && !p->failed) {
                if (!have_version && !lex_is(p, ".version")) {
                        ptx_lex_error(p, p->tok.line,
                                      "Missing .version directive at start of file");
                        return -EINVAL;
                }
                if (lex_is(p, ".version")) {
                        unsigned major, minor;
                        char buf[32], extra;

                        lex_next(p);
                        if (!lex_copy(&p->tok, buf, sizeof(buf)) ||
                            sscanf(buf, "%u.%u%c", &major, &minor, &extra) != 2) {
                                ptx_lex_error(p, p->tok.line, "syntax error in .version");
                                return -EINVAL;
                        }
                        program->version_major = major;
                        program->version_minor = minor;
                        have_version = true;
                        lex_next(p);
                } else if (lex_is(p, ".target")) {
                        do {
                                lex_next(p);
                                if (p->tok.kind == TOK_WORD && p->tok.len > 3 &&
                                    memcmp(p->tok.start, "sm_", 3) == 0)
                                        program->target_sm =
                                            (unsigned)strtoul(p->tok.start + 3, NULL, 10);
                                lex_next(p);
                        } while (lex_is(p, ","));
                        have_target = true;
                } else if (lex_is(p, ".address_size")) {
                        unsigned long long size;

                        lex_next(p);
                        if (!lex_unsigned(&p->tok, &size) || (size != 32 && size != 64)) {
                                ptx_lex_error(p, p->tok.line, "bad .address_size");
                                return -EINVAL;
                        }
                        program->address_size = (unsigned)size;
                        lex_next(p);
                } else if (lex_is(p, ".file") || lex_is(p, ".loc")) {
                        lex_skip_line(p);
                } else if (lex_is(p, ".section")) {
                        lex_skip_block(p);
                } else if (lex_is(p, ".visible") || lex_is(p, ".extern") || lex_is(p, ".weak") ||
                           lex_is(p, ".common")) {
                        lex_next(p);
                } else if (lex_is(p, ".entry")) {
                        if (!have_target) {
                                ptx_lex_error(p, p->tok.line, "Missing .target directive");
                                return -EINVAL;
                        }
                        r = parse_entry(p, program, &entry_cap);
                        if (r < 0)
                                return r;
                } else if (lex_is(p, ".func")) {
                        while (!lex_is(p, "{") && !lex_is(p, ";") && p->tok.kind != TOK_END)
                                lex_next(p);
                        if (lex_is(p, "{"))
                                lex_skip_block(p);
                        else
                                lex_next(p);
                } else if (lex_is(p, ".global") || lex_is(p, ".const") || lex_is(p, ".shared") ||
                           lex_is(p, ".tex") || lex_is(p, ".surfref") || lex_is(p, ".texref")) {
                        while (!lex_is(p, ";") && !lex_is(p, "[") && !lex_is(p, "=") &&
                               p->tok.kind != TOK_END) {
                                if (p->tok.kind == TOK_WORD && p->tok.start[0] != '.' &&
                                    lex_copy(&p->tok, name, sizeof(name)) &&
                                    add_variable(p, name) < 0)
                                        return -ENOMEM;
                                lex_next(p);
                        }
                        lex_skip_statement(p);
                } else {
                        ptx_lex_error(p, p->tok.line, "syntax error near '%.*s'", (int)p->tok.len,
                                      p->tok.start);
                        return -EINVAL;
                }
        }
        if (p->failed)
                return -EINVAL;
        if (!have_version) {
                ptx_lex_error(p, p->line, "Missing .version directive at start of file");
                return -EINVAL;
        }
        if (!have_target) {
                ptx_lex_error(p, p->line, "Missing .target directive");
                return -EINVAL;
        }
        return 0;
}

void ptx_program_free(struct ptx_program *program)
{
        if (!program)
                return;
        for (unsigned i = 0; i < program->entry_count; i++)
                entry_free(&program->entries[i]);
        free(program->entries);
        free(program);
}

int ptx_parse(const char *text, struct ptx_program **ret, char *log, size_t log_size)
{
        struct parser p = {.pos = text, .line = 1, .log = log, .log_size = log_size};
        struct ptx_program *program = calloc(1, sizeof(*program));
        int r;

        if (!program)
                return -ENOMEM;
        if (log && log_size > 0)
                log[0] = '\0';
        program->address_size = 32;
        r = parse_module(&p, program);
        if (r == 0 && p.failed)
                r = -EINVAL;
        free(p.variables);
        free(p.groups);
        free(p.labels);
        free(p.branch_targets);
        if (r < 0) {
                ptx_program_free(program);
                return r;
        }
        *ret = program;
        return 0;
}
