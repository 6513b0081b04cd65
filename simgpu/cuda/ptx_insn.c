/* PTX instruction names and operand rules: decodes "mad.lo.s32" or "ld.global.nc.u32" into a
 * struct ptx_insn, tells valid instructions outside the runnable subset from misspelled ones,
 * and checks operand kinds and register sizes as ptxas does. */
#include "ptx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Valid PTX instructions that ptx_execute does not run: an entry using one is not runnable.
 * (Packed by hand: clang-format would put one word a line.) */
/* clang-format off */
static const char *const other_instructions[] = {
        "activemask", "addc", "alloca", "applypriority", "atom", "bar", "barrier", "bfe", "bfi",
        "bfind", "bmsk", "brev", "brkpt", "brx", "call", "clusterlaunchcontrol", "clz", "cnot",
        "copysign", "cos", "cp", "createpolicy", "discard", "dp2a", "dp4a", "elect", "ex2",
        "fence", "fns", "getctarank", "griddepcontrol", "isspacep", "istypeof", "ldmatrix", "ldu",
        "lg2", "lop3", "mad24", "madc", "mapa", "match", "mbarrier", "membar", "mma", "movmatrix",
        "mul24", "multimem", "nanosleep", "pmevent", "popc", "prefetch", "prefetchu", "prmt",
        "rcp", "red", "redux", "rsqrt", "sad", "set", "setmaxnreg", "shf", "shfl", "sin", "slct",
        "sqrt", "stackrestore", "stacksave", "stmatrix", "subc", "suld", "suq", "sured", "sust",
        "szext", "tanh", "tcgen05", "tensormap", "testp", "tex", "tld4", "trap", "txq", "vabsdiff",
        "vabsdiff2", "vabsdiff4", "vadd", "vadd2", "vadd4", "vavrg2", "vavrg4", "vmad", "vmax",
        "vmax2", "vmax4", "vmin", "vmin2", "vmin4", "vote", "vset", "vset2", "vset4", "vshl",
        "vshr", "vsub", "vsub2", "vsub4", "wgmma", "wmma"
};
/* clang-format on */

static const struct {
        const char *name;
        enum ptx_opcode op;
        unsigned operands;
} subset[] = {
    {"ld", PTX_OP_LD, 2},     {"st", PTX_OP_ST, 2},     {"mov", PTX_OP_MOV, 2},
    {"cvta", PTX_OP_CVTA, 2}, {"cvt", PTX_OP_CVT, 2},   {"add", PTX_OP_ADD, 3},
    {"sub", PTX_OP_SUB, 3},   {"mul", PTX_OP_MUL, 3},   {"mad", PTX_OP_MAD, 4},
    {"fma", PTX_OP_FMA, 4},   {"div", PTX_OP_DIV, 3},   {"rem", PTX_OP_REM, 3},
    {"min", PTX_OP_MIN, 3},   {"max", PTX_OP_MAX, 3},   {"and", PTX_OP_AND, 3},
    {"or", PTX_OP_OR, 3},     {"xor", PTX_OP_XOR, 3},   {"not", PTX_OP_NOT, 2},
    {"neg", PTX_OP_NEG, 2},   {"abs", PTX_OP_ABS, 2},   {"shl", PTX_OP_SHL, 3},
    {"shr", PTX_OP_SHR, 3},   {"setp", PTX_OP_SETP, 3}, {"selp", PTX_OP_SELP, 4},
    {"bra", PTX_OP_BRA, 1},   {"ret", PTX_OP_RET, 0},   {"exit", PTX_OP_RET, 0},
};

static bool in_list(const char *word, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(word, list[i]) == 0)
                        return true;
        return false;
}

#define IN(word, ...)                                                                              \
        in_list(word, (const char *const[]){__VA_ARGS__},                                          \
                sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static bool decode_compare(const char *mod, enum ptx_cmp *ret)
{
        static const struct {
                const char *name;
                enum ptx_cmp cmp;
        } compares[] = {
            {"eq", PTX_CMP_EQ}, {"ne", PTX_CMP_NE}, {"lt", PTX_CMP_LT}, {"le", PTX_CMP_LE},
            {"gt", PTX_CMP_GT}, {"ge", PTX_CMP_GE}, {"lo", PTX_CMP_LT}, {"ls", PTX_CMP_LE},
            {"hi", PTX_CMP_GT}, {"hs", PTX_CMP_GE},
        };

        for (size_t i = 0; i < sizeof(compares) / sizeof(compares[0]); i++)
                if (strcmp(mod, compares[i].name) == 0) {
                        *ret = compares[i].cmp;
                        return true;
                }
        return false;
}

/* One modifier of a subset instruction: 1 understood, 0 valid but not run here, -1 invalid. */
static int decode_modifier(const char *mod, struct ptx_insn *insn, bool *have_cmp)
{
        enum ptx_opcode op = insn->op;
        bool memory = op == PTX_OP_LD || op == PTX_OP_ST || op == PTX_OP_CVTA;

        if (IN(mod, "v2", "v4", "v8", "cc", "f16", "f16x2", "bf16", "bf16x2", "e4m3", "e5m2",
               "tf32", "relu", "NaN", "xorsign", "abs"))
                return 0;
        if (op == PTX_OP_SETP) {
                if (decode_compare(mod, &insn->cmp)) {
                        *have_cmp = true;
                        return 1;
                }
                if (IN(mod, "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan", "and", "or",
                       "xor"))
                        return 0;
                return strcmp(mod, "ftz") == 0 ? 1 : -1;
        }
        if (op == PTX_OP_MUL || op == PTX_OP_MAD) {
                if (strcmp(mod, "lo") == 0 || strcmp(mod, "hi") == 0 || strcmp(mod, "wide") == 0) {
                        insn->mode = mod[0] == 'l'   ? PTX_MODE_LO
                                     : mod[0] == 'h' ? PTX_MODE_HI
                                                     : PTX_MODE_WIDE;
                        return 1;
                }
        }
        if (op == PTX_OP_CVT && IN(mod, "rni", "rzi", "rmi", "rpi")) {
                insn->round = mod[1] == 'n'   ? PTX_ROUND_NEAREST
                              : mod[1] == 'z' ? PTX_ROUND_ZERO
                              : mod[1] == 'm' ? PTX_ROUND_DOWN
                                              : PTX_ROUND_UP;
                return 1;
        }
        if (IN(mod, "rn", "rz", "rm", "rp", "ftz", "approx", "full"))
                return op == PTX_OP_CVT || op == PTX_OP_ADD || op == PTX_OP_SUB ||
                               op == PTX_OP_MUL || op == PTX_OP_MAD || op == PTX_OP_FMA ||
                               op == PTX_OP_DIV || op == PTX_OP_MIN || op == PTX_OP_MAX ||
                               op == PTX_OP_NEG || op == PTX_OP_ABS
                           ? 1
                           : -1;
        if (strcmp(mod, "sat") == 0) {
                insn->saturate = true;
                return 1;
        }
        if (strcmp(mod, "uni") == 0)
                return op == PTX_OP_BRA || op == PTX_OP_RET ? 1 : -1;
        if (memory) {
                if (strcmp(mod, "global") == 0) {
                        insn->space = PTX_SPACE_GLOBAL;
                        return 1;
                }
                if (strcmp(mod, "param") == 0) {
                        if (op != PTX_OP_LD)
                                return 0;
                        insn->space = PTX_SPACE_PARAM;
                        return 1;
                }
                if (IN(mod, "shared", "local", "const", "shared::cta", "shared::cluster",
                       "param::entry", "param::func"))
                        return 0;
                if (strcmp(mod, "to") == 0)
                        return op == PTX_OP_CVTA ? 1 : -1;
                if (op != PTX_OP_CVTA &&
                    (IN(mod, "ca", "cg", "cs", "lu", "cv", "wb", "wt", "nc", "volatile", "relaxed",
                        "weak", "acquire", "release", "sys", "gpu", "cta", "cluster") ||
                     strstr(mod, "::")))
                        return 1;
        }
        return 0; /* an unfamiliar modifier: not provably wrong, so only not run */
}

int ptx_decode_opcode(const char *word, struct ptx_insn *insn, unsigned *ret_operand_count,
                      char *why, size_t why_size)
{
        char copy[128], *save = NULL, *part;
        struct ptx_type types[2];
        unsigned type_count = 0;
        bool have_cmp = false, found = false;

        (void)snprintf(copy, sizeof(copy), "%s", word);
        part = strtok_r(copy, ".", &save);
        if (!part) {
                (void)snprintf(why, why_size, "syntax error: empty instruction");
                return -EINVAL;
        }
        for (size_t i = 0; i < sizeof(subset) / sizeof(subset[0]) && !found; i++)
                if (strcmp(part, subset[i].name) == 0) {
                        insn->op = subset[i].op;
                        *ret_operand_count = subset[i].operands;
                        found = true;
                }
        if (!found) {
                if (in_list(part, other_instructions,
                            sizeof(other_instructions) / sizeof(other_instructions[0]))) {
                        (void)snprintf(why, why_size, "instruction '%s'", part);
                        return 0;
                }
                (void)snprintf(why, why_size, "Unknown instruction '%s'", word);
                return -EINVAL;
        }
        insn->space = PTX_SPACE_GENERIC;
        while ((part = strtok_r(NULL, ".", &save))) {
                struct ptx_type t;
                int r;

                if (ptx_parse_type(part, &t)) {
                        if (t.bits == 16 && t.kind == PTX_KIND_F) {
                                (void)snprintf(why, why_size, "half-precision '%s'", word);
                                return 0;
                        }
                        if (type_count == 2) {
                                (void)snprintf(why, why_size, "Too many types for '%s'", word);
                                return -EINVAL;
                        }
                        types[type_count++] = t;
                        continue;
                }
                r = decode_modifier(part, insn, &have_cmp);
                if (r < 0) {
                        (void)snprintf(why, why_size, "Unexpected modifier '.%s' in '%s'", part,
                                       word);
                        return -EINVAL;
                }
                if (r == 0) {
                        (void)snprintf(why, why_size, "'%s'", word);
                        return 0;
                }
        }
        if (insn->op == PTX_OP_BRA || insn->op == PTX_OP_RET) {
                if (type_count != 0) {
                        (void)snprintf(why, why_size, "Unexpected type in '%s'", word);
                        return -EINVAL;
                }
                return 1;
        }
        if (type_count != (insn->op == PTX_OP_CVT ? 2u : 1u)) {
                (void)snprintf(why, why_size, "Missing or extra type in '%s'", word);
                return -EINVAL;
        }
        insn->type = types[0];
        if (insn->op == PTX_OP_CVT)
                insn->src_type = types[1];
        if (insn->op == PTX_OP_SETP && !have_cmp) {
                (void)snprintf(why, why_size, "Missing comparison in '%s'", word);
                return -EINVAL;
        }
        if ((insn->op == PTX_OP_MUL || insn->op == PTX_OP_MAD) && insn->type.kind != PTX_KIND_F &&
            insn->mode == PTX_MODE_NONE)
                insn->mode = PTX_MODE_LO;
        if (insn->mode != PTX_MODE_NONE &&
            (insn->type.kind == PTX_KIND_F ||
             (insn->mode == PTX_MODE_WIDE && insn->type.bits == 64))) {
                (void)snprintf(why, why_size, "Illegal modifier for type in '%s'", word);
                return -EINVAL;
        }
        if (insn->type.kind == PTX_KIND_PRED &&
            !(insn->op == PTX_OP_MOV || insn->op == PTX_OP_AND || insn->op == PTX_OP_OR ||
              insn->op == PTX_OP_XOR || insn->op == PTX_OP_NOT)) {
                (void)snprintf(why, why_size, "Illegal type .pred in '%s'", word);
                return -EINVAL;
        }
        return 1;
}

/* A register whose size fits the instruction type. Loads and stores of 8- and 16-bit values
 * may use wider registers, as in PTX. */
static bool reg_fits(const struct ptx_type *reg_types, const struct ptx_operand *op, unsigned bits,
                     bool wider_ok)
{
        const struct ptx_type *t;

        if (op->kind != PTX_OPERAND_REG)
                return false;
        t = &reg_types[op->reg];
        if ((bits == 1) != (t->kind == PTX_KIND_PRED))
                return false;
        return t->bits == bits || (wider_ok && bits < 32 && t->bits > bits);
}

static bool source_fits(const struct ptx_type *reg_types, const struct ptx_operand *op,
                        unsigned bits, bool wider_ok)
{
        if (op->kind == PTX_OPERAND_IMM)
                return bits != 1 || (op->imm_kind == PTX_IMM_INT && op->imm <= 1);
        if (op->kind == PTX_OPERAND_SPECIAL)
                return bits == 32 || bits == 64;
        return reg_fits(reg_types, op, bits, wider_ok);
}

static int mismatch(char *why, size_t why_size)
{
        (void)snprintf(why, why_size, "Arguments mismatch");
        return -EINVAL;
}

int ptx_check_operands(const struct ptx_insn *insn, const struct ptx_type *reg_types, char *why,
                       size_t why_size)
{
        const struct ptx_operand *o = insn->operands;
        unsigned bits = insn->type.bits;
        unsigned wide = insn->mode == PTX_MODE_WIDE ? 2 * bits : bits;

        switch (insn->op) {
        case PTX_OP_LD:
                if (!reg_fits(reg_types, &o[0], bits, true) || o[1].kind != PTX_OPERAND_MEM ||
                    (insn->space == PTX_SPACE_PARAM) != (o[1].param >= 0))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_ST:
                if (o[0].kind != PTX_OPERAND_MEM || o[0].param >= 0 ||
                    !source_fits(reg_types, &o[1], bits, true))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_MOV:
        case PTX_OP_CVTA:
        case PTX_OP_NOT:
        case PTX_OP_NEG:
        case PTX_OP_ABS:
                if (!reg_fits(reg_types, &o[0], bits, false) ||
                    !source_fits(reg_types, &o[1], bits, false))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_CVT:
                if (!reg_fits(reg_types, &o[0], bits, true) ||
                    !source_fits(reg_types, &o[1], insn->src_type.bits, true))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_SHL:
        case PTX_OP_SHR:
                if (!reg_fits(reg_types, &o[0], bits, false) ||
                    !source_fits(reg_types, &o[1], bits, false) ||
                    !source_fits(reg_types, &o[2], 32, false))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_MAD:
        case PTX_OP_FMA:
                if (!reg_fits(reg_types, &o[0], wide, false) ||
                    !source_fits(reg_types, &o[1], bits, false) ||
                    !source_fits(reg_types, &o[2], bits, false) ||
                    !source_fits(reg_types, &o[3], wide, false))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_SETP:
                if (!reg_fits(reg_types, &o[0], 1, false) ||
                    !source_fits(reg_types, &o[1], bits, false) ||
                    !source_fits(reg_types, &o[2], bits, false))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_SELP:
                if (!reg_fits(reg_types, &o[0], bits, false) ||
                    !source_fits(reg_types, &o[1], bits, false) ||
                    !source_fits(reg_types, &o[2], bits, false) ||
                    !source_fits(reg_types, &o[3], 1, false))
                        return mismatch(why, why_size);
                return 0;
        case PTX_OP_BRA:
                return o[0].kind == PTX_OPERAND_LABEL ? 0 : mismatch(why, why_size);
        case PTX_OP_RET:
                return 0;
        default: /* the two-source arithmetic and logic instructions */
                if (!reg_fits(reg_types, &o[0], wide, false) ||
                    !source_fits(reg_types, &o[1], bits, false) ||
                    !source_fits(reg_types, &o[2], bits, false))
                        return mismatch(why, why_size);
                return 0;
        }
}
