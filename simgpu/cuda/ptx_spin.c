/* Recognises a clock spin loop (`start = clock; do now = clock; while (now - start < n)`), the
 * way a kernel waits a number of cycles: ptx_exec.c skips such a loop to the iteration that
 * leaves it instead of running every iteration, so that waiting costs no CPU per cycle. */
#include "ptx.h"

#include <stdlib.h>

static bool is_clock(const struct ptx_operand *op)
{
        return op->kind == PTX_OPERAND_SPECIAL &&
               (op->special == PTX_SPECIAL_CLOCK || op->special == PTX_SPECIAL_CLOCK64 ||
                op->special == PTX_SPECIAL_GLOBALTIMER);
}

bool ptx_is_clock_spin(const struct ptx_entry *entry, unsigned branch)
{
        const struct ptx_insn *bra = &entry->insns[branch];
        unsigned start = bra->operands[0].label;
        bool reads_clock = false, carried = false;
        bool *written, *written_before;

        if (bra->op != PTX_OP_BRA || bra->guard < 0 || start > branch)
                return false;
        for (unsigned pc = start; pc < branch; pc++) {
                const struct ptx_insn *insn = &entry->insns[pc];

                if (insn->guard >= 0 || insn->op == PTX_OP_LD || insn->op == PTX_OP_ST ||
                    insn->op == PTX_OP_BRA || insn->op == PTX_OP_RET)
                        return false;
        }
        /* Every register the body reads must be either set earlier in the same iteration or
         * never set in the loop: then an iteration depends on nothing but the clock. */
        written = calloc(entry->reg_count ? entry->reg_count : 1, sizeof(*written));
        written_before = calloc(entry->reg_count ? entry->reg_count : 1, sizeof(*written_before));
        if (!written || !written_before) {
                free(written);
                free(written_before);
                return false;
        }
        for (unsigned pc = start; pc < branch; pc++)
                if (entry->insns[pc].operands[0].kind == PTX_OPERAND_REG)
                        written[entry->insns[pc].operands[0].reg] = true;
        for (unsigned pc = start; pc <= branch && !carried; pc++) {
                const struct ptx_insn *insn = &entry->insns[pc];
                unsigned first_source = insn->op == PTX_OP_BRA ? insn->operand_count : 1;

                if (insn->guard >= 0 && written[insn->guard] && !written_before[insn->guard])
                        carried = true;
                for (unsigned i = first_source; i < insn->operand_count; i++) {
                        const struct ptx_operand *op = &insn->operands[i];

                        reads_clock |= is_clock(op);
                        if (op->kind == PTX_OPERAND_REG && written[op->reg] &&
                            !written_before[op->reg])
                                carried = true;
                }
                if (insn->op != PTX_OP_BRA && insn->operands[0].kind == PTX_OPERAND_REG)
                        written_before[insn->operands[0].reg] = true;
        }
        free(written);
        free(written_before);
        return reads_clock && !carried;
}
