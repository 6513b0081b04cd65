/* Runs a parsed PTX kernel of the runnable subset over its grid, one thread after another, with
 * 64-bit registers truncated to their declared widths. Memory goes through the caller's
 * translate function, so a stray address becomes a fault instead of a write into the process.
 *
 * Simulated time: every thread has its own cycle count, which starts at 0 with the kernel and
 * grows by one for each instruction it steps over; %clock and %clock64 read the launch's
 * clock_start plus that count, %globaltimer the launch's start in nanoseconds plus the count at
 * the launch's clock rate. A clock spin loop (ptx_spin.c) is not run iteration by iteration: the
 * first iteration that leaves it is found by bisection over the clock (an iteration depends on the
 * clock alone, and a wait, once over, stays over), its cycles are counted as if every iteration
 * had run, and the thread goes on from there; threads that enter the loop in the same state reuse
 * the answer. So a kernel that spins 1e6 cycles costs microseconds of CPU, and the launch's cycles
 * (its longest thread's) say how long it would have run. */
#include "ptx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Steps one launch may take: far more than any small client's kernel needs, and small enough
 * that an endless loop ends in a fraction of a second. */
#define PTX_STEP_BUDGET (1ull << 25)

/* The spin iterations searched for at most (2^40, hours of cycles): a loop that does not end
 * within them is an endless loop. */
#define SPIN_ITERATIONS_MAX (1ull << 40)

/* The last clock spin loop skipped: a thread that enters the same loop with the same registers
 * at the same cycle leaves it as that one did. */
struct spin_memo {
        bool valid;
        unsigned start;
        uint64_t cycles_in, cycles_out;
        uint64_t *regs_in, *regs_out;
};

struct thread {
        const struct ptx_entry *entry;
        const struct ptx_launch *launch;
        uint64_t *regs;
        uint64_t *saved; /* a copy of regs while a spin loop is searched */
        uint64_t cycles;
        unsigned tid[3], ctaid[3];
        const bool *spin; /* per instruction: a backward branch closing a clock spin loop */
        struct spin_memo *memo;
};

static uint64_t mask_bits(uint64_t v, unsigned bits)
{
        return bits >= 64 ? v : v & ((1ull << bits) - 1);
}

static int64_t sign_extend(uint64_t v, unsigned bits)
{
        if (bits >= 64)
                return (int64_t)v;
        v = mask_bits(v, bits);
        if (v & (1ull << (bits - 1)))
                v |= ~0ull << bits;
        return (int64_t)v;
}

static double to_double(uint64_t v, struct ptx_type t)
{
        if (t.kind == PTX_KIND_F) {
                if (t.bits == 32) {
                        float f;
                        uint32_t u = (uint32_t)v;

                        memcpy(&f, &u, sizeof(f));
                        return f;
                }
                double d;

                memcpy(&d, &v, sizeof(d));
                return d;
        }
        if (t.kind == PTX_KIND_S)
                return (double)sign_extend(v, t.bits);
        return (double)mask_bits(v, t.bits);
}

static uint64_t from_double(double d, unsigned bits)
{
        uint64_t v;

        if (bits == 32) {
                float f = (float)d;
                uint32_t u;

                memcpy(&u, &f, sizeof(u));
                return u;
        }
        memcpy(&v, &d, sizeof(v));
        return v;
}

static uint64_t special_value(const struct thread *th, const struct ptx_operand *op)
{
        switch (op->special) {
        case PTX_SPECIAL_TID:
                return th->tid[op->axis];
        case PTX_SPECIAL_NTID:
                return th->launch->block[op->axis];
        case PTX_SPECIAL_CTAID:
                return th->ctaid[op->axis];
        case PTX_SPECIAL_NCTAID:
                return th->launch->grid[op->axis];
        case PTX_SPECIAL_CLOCK:
                return (uint32_t)(th->launch->clock_start + th->cycles);
        case PTX_SPECIAL_CLOCK64:
                return th->launch->clock_start + th->cycles;
        default: /* PTX_SPECIAL_GLOBALTIMER */
                return th->launch->globaltimer_start +
                       th->cycles * 1000000ull /
                           (th->launch->clock_khz ? th->launch->clock_khz : 1);
        }
}

/* A source operand as raw bits of type t. */
static uint64_t source(const struct thread *th, const struct ptx_operand *op, struct ptx_type t)
{
        switch (op->kind) {
        case PTX_OPERAND_REG:
                return th->regs[op->reg];
        case PTX_OPERAND_SPECIAL:
                return special_value(th, op);
        case PTX_OPERAND_IMM:
                if (t.kind != PTX_KIND_F) {
                        if (op->imm_kind == PTX_IMM_DECIMAL)
                                return (uint64_t)(int64_t)op->decimal;
                        return op->imm;
                }
                switch (op->imm_kind) {
                case PTX_IMM_F32_BITS:
                        return t.bits == 32
                                   ? op->imm
                                   : from_double(
                                         to_double(op->imm, (struct ptx_type){PTX_KIND_F, 32}), 64);
                case PTX_IMM_F64_BITS:
                        return t.bits == 64
                                   ? op->imm
                                   : from_double(
                                         to_double(op->imm, (struct ptx_type){PTX_KIND_F, 64}), 32);
                case PTX_IMM_DECIMAL:
                        return from_double(op->decimal, t.bits);
                default:
                        return from_double((double)(int64_t)op->imm, t.bits);
                }
        default:
                return 0;
        }
}

static void set_reg(struct thread *th, const struct ptx_operand *op, uint64_t v)
{
        struct ptx_type t = th->entry->reg_types[op->reg];

        th->regs[op->reg] = t.kind == PTX_KIND_PRED ? (v & 1) : mask_bits(v, t.bits);
}

static bool compare(const struct ptx_insn *insn, uint64_t a, uint64_t b)
{
        struct ptx_type t = insn->type;
        int order;

        if (t.kind == PTX_KIND_F) {
                double x = to_double(a, t), y = to_double(b, t);

                if (isnan(x) || isnan(y))
                        return false;
                order = x < y ? -1 : x > y ? 1 : 0;
        } else if (t.kind == PTX_KIND_S) {
                int64_t x = sign_extend(a, t.bits), y = sign_extend(b, t.bits);

                order = x < y ? -1 : x > y ? 1 : 0;
        } else {
                uint64_t x = mask_bits(a, t.bits), y = mask_bits(b, t.bits);

                order = x < y ? -1 : x > y ? 1 : 0;
        }
        switch (insn->cmp) {
        case PTX_CMP_EQ:
                return order == 0;
        case PTX_CMP_NE:
                return order != 0;
        case PTX_CMP_LT:
                return order < 0;
        case PTX_CMP_LE:
                return order <= 0;
        case PTX_CMP_GT:
                return order > 0;
        default:
                return order >= 0;
        }
}

/* Integer product: the low half, the high half, or the whole double-width product. */
static uint64_t multiply(const struct ptx_insn *insn, uint64_t a, uint64_t b)
{
        unsigned bits = insn->type.bits;
        bool is_signed = insn->type.kind == PTX_KIND_S;
        __int128 product;

        if (is_signed)
                product = (__int128)sign_extend(a, bits) * sign_extend(b, bits);
        else
                product = (__int128)(unsigned __int128)mask_bits(a, bits) *
                          (unsigned __int128)mask_bits(b, bits);
        switch (insn->mode) {
        case PTX_MODE_HI:
                return (uint64_t)((unsigned __int128)product >> bits);
        case PTX_MODE_WIDE:
                return mask_bits((uint64_t)product, 2 * bits);
        default:
                return (uint64_t)product;
        }
}

static uint64_t float_op(const struct ptx_insn *insn, uint64_t a, uint64_t b, uint64_t c)
{
        struct ptx_type t = insn->type;
        double x = to_double(a, t), y = to_double(b, t), z = to_double(c, t);
        double r;

        switch (insn->op) {
        case PTX_OP_ADD:
                r = t.bits == 32 ? (double)((float)x + (float)y) : x + y;
                break;
        case PTX_OP_SUB:
                r = t.bits == 32 ? (double)((float)x - (float)y) : x - y;
                break;
        case PTX_OP_MUL:
                r = t.bits == 32 ? (double)((float)x * (float)y) : x * y;
                break;
        case PTX_OP_DIV:
                r = t.bits == 32 ? (double)((float)x / (float)y) : x / y;
                break;
        case PTX_OP_MAD:
        case PTX_OP_FMA:
                r = t.bits == 32 ? (double)fmaf((float)x, (float)y, (float)z) : fma(x, y, z);
                break;
        case PTX_OP_MIN:
                r = fmin(x, y);
                break;
        case PTX_OP_MAX:
                r = fmax(x, y);
                break;
        case PTX_OP_NEG:
                r = -x;
                break;
        default: /* PTX_OP_ABS */
                r = fabs(x);
                break;
        }
        if (insn->saturate)
                r = isnan(r) ? 0.0 : r < 0.0 ? 0.0 : r > 1.0 ? 1.0 : r;
        return from_double(r, t.bits);
}

static uint64_t integer_op(const struct ptx_insn *insn, uint64_t a, uint64_t b, uint64_t c)
{
        unsigned bits = insn->type.bits;
        bool is_signed = insn->type.kind == PTX_KIND_S;
        int64_t sa = sign_extend(a, bits), sb = sign_extend(b, bits);
        uint64_t ua = mask_bits(a, bits), ub = mask_bits(b, bits);

        switch (insn->op) {
        case PTX_OP_ADD:
                return a + b;
        case PTX_OP_SUB:
                return a - b;
        case PTX_OP_MUL:
                return multiply(insn, a, b);
        case PTX_OP_MAD:
                return multiply(insn, a, b) + c;
        case PTX_OP_DIV: /* division by zero is unspecified in PTX; all ones here */
                if (ub == 0)
                        return ~0ull;
                if (is_signed)
                        return sb == -1 ? (uint64_t)0 - (uint64_t)sa : (uint64_t)(sa / sb);
                return ua / ub;
        case PTX_OP_REM:
                if (ub == 0)
                        return ~0ull;
                if (is_signed)
                        return sb == -1 ? 0 : (uint64_t)(sa % sb);
                return ua % ub;
        case PTX_OP_MIN:
                return is_signed ? (uint64_t)(sa < sb ? sa : sb) : (ua < ub ? ua : ub);
        case PTX_OP_MAX:
                return is_signed ? (uint64_t)(sa > sb ? sa : sb) : (ua > ub ? ua : ub);
        case PTX_OP_AND:
                return a & b;
        case PTX_OP_OR:
                return a | b;
        case PTX_OP_XOR:
                return a ^ b;
        case PTX_OP_NOT:
                return ~a;
        case PTX_OP_NEG:
                return (uint64_t)0 - a;
        case PTX_OP_ABS:
                return sa < 0 ? (uint64_t)0 - (uint64_t)sa : (uint64_t)sa;
        case PTX_OP_SHL:
                return mask_bits(b, 32) >= bits ? 0 : ua << mask_bits(b, 32);
        default: /* PTX_OP_SHR: arithmetic for signed types, logical otherwise */
                if (mask_bits(b, 32) >= bits)
                        return is_signed && sa < 0 ? ~0ull : 0;
                return is_signed ? (uint64_t)(sa >> mask_bits(b, 32)) : ua >> mask_bits(b, 32);
        }
}

static uint64_t convert(const struct ptx_insn *insn, uint64_t v)
{
        struct ptx_type to = insn->type, from = insn->src_type;
        double d, lo, hi;

        if (to.kind != PTX_KIND_F && from.kind != PTX_KIND_F) {
                int64_t s = from.kind == PTX_KIND_S ? sign_extend(v, from.bits)
                                                    : (int64_t)mask_bits(v, from.bits);

                if (!insn->saturate || to.bits >= 64) {
                        /* truncated to the destination type, then extended into the register */
                        uint64_t r = mask_bits((uint64_t)s, to.bits);

                        return to.kind == PTX_KIND_S ? (uint64_t)sign_extend(r, to.bits) : r;
                }
                if (to.kind == PTX_KIND_S) {
                        int64_t max = (int64_t)((1ull << (to.bits - 1)) - 1);

                        return (uint64_t)(s > max ? max : s < -max - 1 ? -max - 1 : s);
                }
                if (from.kind == PTX_KIND_S && s < 0)
                        return 0;
                return mask_bits(v, from.bits) > mask_bits(~0ull, to.bits)
                           ? mask_bits(~0ull, to.bits)
                           : (uint64_t)s;
        }
        d = to_double(v, from);
        if (to.kind == PTX_KIND_F)
                return from_double(d, to.bits);
        switch (insn->round) {
        case PTX_ROUND_NEAREST:
                d = nearbyint(d);
                break;
        case PTX_ROUND_DOWN:
                d = floor(d);
                break;
        case PTX_ROUND_UP:
                d = ceil(d);
                break;
        default:
                d = trunc(d);
                break;
        }
        /* float to integer saturates in PTX, and NaN becomes 0 */
        if (isnan(d))
                return 0;
        if (to.kind == PTX_KIND_S) {
                lo = -ldexp(1.0, (int)to.bits - 1);
                hi = ldexp(1.0, (int)to.bits - 1);
                if (d < lo)
                        return (uint64_t)(to.bits >= 64 ? INT64_MIN : (int64_t)lo);
                if (d >= hi)
                        return to.bits >= 64 ? (uint64_t)INT64_MAX : (uint64_t)(int64_t)hi - 1;
                return (uint64_t)(int64_t)d;
        }
        hi = ldexp(1.0, (int)to.bits);
        if (d <= 0)
                return 0;
        if (d >= hi)
                return mask_bits(~0ull, to.bits);
        return (uint64_t)d;
}

static enum ptx_fault memory(struct thread *th, const struct ptx_insn *insn, bool store)
{
        const struct ptx_operand *mem = &insn->operands[store ? 0 : 1];
        const struct ptx_operand *value = &insn->operands[store ? 1 : 0];
        unsigned size = insn->type.bits / 8;
        uint64_t bits = 0;
        void *host;

        if (mem->param >= 0) {
                const struct ptx_param *param = &th->entry->params[mem->param];
                int64_t at = (int64_t)param->offset + mem->offset;

                if (at < 0 || (uint64_t)at + size > th->entry->param_bytes)
                        return PTX_FAULT_ADDRESS;
                memcpy(&bits, th->launch->params + at, size);
        } else {
                uint64_t address = th->regs[mem->reg] + (uint64_t)mem->offset;

                if (address % size != 0)
                        return PTX_FAULT_MISALIGNED;
                host = th->launch->translate(th->launch->userdata, address, size);
                if (!host)
                        return PTX_FAULT_ADDRESS;
                if (store) {
                        bits = source(th, value, insn->type);
                        memcpy(host, &bits, size);
                        return PTX_FAULT_NONE;
                }
                memcpy(&bits, host, size);
        }
        if (insn->type.kind == PTX_KIND_S)
                bits = (uint64_t)sign_extend(bits, insn->type.bits);
        set_reg(th, value, bits);
        return PTX_FAULT_NONE;
}

/* Runs the instruction at *pc and moves *pc on; the thread's clock advances one cycle. Sets
 * *returned at ret or exit. */
static enum ptx_fault step(struct thread *th, unsigned *pc, bool *returned)
{
        const struct ptx_insn *insn = &th->entry->insns[(*pc)++];
        const struct ptx_operand *o = insn->operands;
        uint64_t a, b, c;

        th->cycles++;
        if (insn->guard >= 0 && (th->regs[insn->guard] & 1) == insn->guard_negated)
                return PTX_FAULT_NONE;
        switch (insn->op) {
        case PTX_OP_RET:
                *returned = true;
                return PTX_FAULT_NONE;
        case PTX_OP_BRA:
                *pc = o[0].label;
                return PTX_FAULT_NONE;
        case PTX_OP_LD:
        case PTX_OP_ST:
                return memory(th, insn, insn->op == PTX_OP_ST);
        case PTX_OP_MOV:
        case PTX_OP_CVTA: /* generic and global addresses are the same here */
                set_reg(th, &o[0], source(th, &o[1], insn->type));
                return PTX_FAULT_NONE;
        case PTX_OP_CVT:
                set_reg(th, &o[0], convert(insn, source(th, &o[1], insn->src_type)));
                return PTX_FAULT_NONE;
        case PTX_OP_SETP:
                set_reg(
                    th, &o[0],
                    compare(insn, source(th, &o[1], insn->type), source(th, &o[2], insn->type)));
                return PTX_FAULT_NONE;
        case PTX_OP_SELP:
                a = source(th, &o[1], insn->type);
                b = source(th, &o[2], insn->type);
                set_reg(th, &o[0], (source(th, &o[3], insn->type) & 1) ? a : b);
                return PTX_FAULT_NONE;
        default:
                break;
        }
        a = source(th, &o[1], insn->type);
        b = insn->operand_count > 2 ? source(th, &o[2], insn->type) : 0;
        c = 0;
        if (insn->operand_count > 3) {
                struct ptx_type t = insn->type;

                if (insn->mode == PTX_MODE_WIDE)
                        t.bits *= 2;
                c = source(th, &o[3], t);
        }
        if (insn->op == PTX_OP_SHL || insn->op == PTX_OP_SHR)
                b = source(th, &o[2], (struct ptx_type){PTX_KIND_U, 32});
        set_reg(th, &o[0],
                insn->type.kind == PTX_KIND_F ? float_op(insn, a, b, c)
                                              : integer_op(insn, a, b, c));
        return PTX_FAULT_NONE;
}

/* Runs iteration `m` (counted from the one about to start at `cycles`) of the spin loop
 * [start, branch] from the saved registers; true when it leaves the loop. Such a loop has no
 * memory access, so it cannot fault. */
static bool spin_leaves_at(struct thread *th, unsigned start, unsigned branch, uint64_t cycles,
                           uint64_t m)
{
        unsigned pc = start;
        bool returned = false;

        memcpy(th->regs, th->saved, th->entry->reg_count * sizeof(*th->regs));
        th->cycles = cycles + m * (branch - start + 1);
        for (unsigned i = start; i <= branch; i++)
                (void)step(th, &pc, &returned);
        return pc == branch + 1;
}

/* Called when the backward branch at `branch` has just been taken: moves the thread to the end of
 * the first iteration that leaves the loop (exponential search, then bisection), with the cycles
 * of all the iterations before it, and *pc after the branch. */
static enum ptx_fault skip_spin(struct thread *th, unsigned branch, unsigned *pc, uint64_t *steps)
{
        unsigned start = th->entry->insns[branch].operands[0].label;
        size_t bytes = th->entry->reg_count * sizeof(*th->regs);
        struct spin_memo *memo = th->memo;
        uint64_t cycles = th->cycles, low = 0, high = 0;

        if (memo->valid && memo->start == start && memo->cycles_in == cycles &&
            memcmp(memo->regs_in, th->regs, bytes) == 0) {
                memcpy(th->regs, memo->regs_out, bytes);
                th->cycles = memo->cycles_out;
                *pc = branch + 1;
                return PTX_FAULT_NONE;
        }
        memcpy(th->saved, th->regs, bytes);
        if (!spin_leaves_at(th, start, branch, cycles, 0)) {
                /* iterations [0, low] stay; find the first power of two that leaves */
                for (high = 1; !spin_leaves_at(th, start, branch, cycles, high); high *= 2) {
                        *steps += branch - start + 1;
                        if (high >= SPIN_ITERATIONS_MAX)
                                return PTX_FAULT_TIMEOUT;
                        low = high;
                }
                while (high - low > 1) {
                        uint64_t middle = low + (high - low) / 2;

                        *steps += branch - start + 1;
                        if (spin_leaves_at(th, start, branch, cycles, middle))
                                high = middle;
                        else
                                low = middle;
                }
                (void)spin_leaves_at(th, start, branch, cycles, high);
        }
        memo->valid = true;
        memo->start = start;
        memo->cycles_in = cycles;
        memcpy(memo->regs_in, th->saved, bytes);
        memcpy(memo->regs_out, th->regs, bytes);
        memo->cycles_out = th->cycles;
        *pc = branch + 1;
        return PTX_FAULT_NONE;
}

static enum ptx_fault run_thread(struct thread *th, uint64_t *steps)
{
        const struct ptx_entry *e = th->entry;
        unsigned pc = 0;
        bool returned = false;

        memset(th->regs, 0, (e->reg_count ? e->reg_count : 1) * sizeof(*th->regs));
        th->cycles = 0;
        if (++*steps > PTX_STEP_BUDGET)
                return PTX_FAULT_TIMEOUT;
        while (pc < e->insn_count && !returned) {
                unsigned at = pc;
                enum ptx_fault fault;

                if (++*steps > PTX_STEP_BUDGET)
                        return PTX_FAULT_TIMEOUT;
                fault = step(th, &pc, &returned);
                if (fault != PTX_FAULT_NONE)
                        return fault;
                if (th->spin[at] && pc <= at) {
                        fault = skip_spin(th, at, &pc, steps);
                        if (fault != PTX_FAULT_NONE)
                                return fault;
                }
        }
        return PTX_FAULT_NONE;
}

enum ptx_fault ptx_execute(const struct ptx_entry *entry, const struct ptx_launch *launch,
                           uint64_t *ret_cycles)
{
        struct spin_memo memo = {0};
        struct thread th = {.entry = entry, .launch = launch, .memo = &memo};
        const unsigned *g = launch->grid, *b = launch->block;
        uint64_t blocks = (uint64_t)g[0] * g[1] * g[2], threads = (uint64_t)b[0] * b[1] * b[2];
        size_t regs = entry->reg_count ? entry->reg_count : 1;
        enum ptx_fault fault = PTX_FAULT_NONE;
        uint64_t steps = 0, longest = 0;
        bool *spin = calloc(entry->insn_count ? entry->insn_count : 1, sizeof(*spin));

        th.regs = calloc(regs, sizeof(*th.regs));
        th.saved = calloc(regs, sizeof(*th.saved));
        memo.regs_in = calloc(regs, sizeof(*memo.regs_in));
        memo.regs_out = calloc(regs, sizeof(*memo.regs_out));
        if (!spin || !th.regs || !th.saved || !memo.regs_in || !memo.regs_out) {
                fault = PTX_FAULT_RESOURCES;
                goto out;
        }
        for (unsigned pc = 0; pc < entry->insn_count; pc++)
                spin[pc] = entry->insns[pc].op == PTX_OP_BRA && ptx_is_clock_spin(entry, pc);
        th.spin = spin;
        for (uint64_t block = 0; block < blocks && fault == PTX_FAULT_NONE; block++) {
                th.ctaid[0] = (unsigned)(block % g[0]);
                th.ctaid[1] = (unsigned)(block / g[0] % g[1]);
                th.ctaid[2] = (unsigned)(block / g[0] / g[1]);
                for (uint64_t t = 0; t < threads && fault == PTX_FAULT_NONE; t++) {
                        th.tid[0] = (unsigned)(t % b[0]);
                        th.tid[1] = (unsigned)(t / b[0] % b[1]);
                        th.tid[2] = (unsigned)(t / b[0] / b[1]);
                        fault = run_thread(&th, &steps);
                        if (th.cycles > longest)
                                longest = th.cycles;
                }
        }
        if (fault == PTX_FAULT_NONE)
                *ret_cycles = longest;
out:
        free(spin);
        free(th.regs);
        free(th.saved);
        free(memo.regs_in);
        free(memo.regs_out);
        return fault;
}
