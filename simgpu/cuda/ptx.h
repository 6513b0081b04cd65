/* A small PTX front end for simgpu's libcuda: ptx_parse reads a module's text as the real
 * driver's JIT would receive it (checking its structure, registers, labels and operands), and
 * ptx_execute runs a kernel of the simple subset that small clients use, one thread at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ptx_kind { PTX_KIND_B, PTX_KIND_U, PTX_KIND_S, PTX_KIND_F, PTX_KIND_PRED };

struct ptx_type {
        enum ptx_kind kind;
        unsigned bits; /* 8, 16, 32, 64; 1 for .pred */
};

enum ptx_opcode {
        PTX_OP_LD,
        PTX_OP_ST,
        PTX_OP_MOV,
        PTX_OP_CVTA,
        PTX_OP_CVT,
        PTX_OP_ADD,
        PTX_OP_SUB,
        PTX_OP_MUL,
        PTX_OP_MAD,
        PTX_OP_FMA,
        PTX_OP_DIV,
        PTX_OP_REM,
        PTX_OP_MIN,
        PTX_OP_MAX,
        PTX_OP_AND,
        PTX_OP_OR,
        PTX_OP_XOR,
        PTX_OP_NOT,
        PTX_OP_NEG,
        PTX_OP_ABS,
        PTX_OP_SHL,
        PTX_OP_SHR,
        PTX_OP_SETP,
        PTX_OP_SELP,
        PTX_OP_BRA,
        PTX_OP_RET,
};

enum ptx_space { PTX_SPACE_GENERIC, PTX_SPACE_GLOBAL, PTX_SPACE_PARAM };

/* mul/mad: which half of the product; cvt: how a float is rounded to an integer. */
enum ptx_mode { PTX_MODE_NONE, PTX_MODE_LO, PTX_MODE_HI, PTX_MODE_WIDE };
enum ptx_round { PTX_ROUND_NONE, PTX_ROUND_NEAREST, PTX_ROUND_ZERO, PTX_ROUND_DOWN, PTX_ROUND_UP };
enum ptx_cmp { PTX_CMP_EQ, PTX_CMP_NE, PTX_CMP_LT, PTX_CMP_LE, PTX_CMP_GT, PTX_CMP_GE };

enum ptx_special {
        PTX_SPECIAL_TID, /* + axis */
        PTX_SPECIAL_NTID,
        PTX_SPECIAL_CTAID,
        PTX_SPECIAL_NCTAID,
        /* The simulated clocks (no axis): see "Simulated time" in ptx_exec.c. */
        PTX_SPECIAL_CLOCK,
        PTX_SPECIAL_CLOCK64,
        PTX_SPECIAL_GLOBALTIMER,
};

enum ptx_operand_kind {
        PTX_OPERAND_REG,
        PTX_OPERAND_IMM,
        PTX_OPERAND_SPECIAL,
        PTX_OPERAND_MEM, /* [reg+offset] or [param+offset] */
        PTX_OPERAND_LABEL,
};

enum ptx_imm_kind { PTX_IMM_INT, PTX_IMM_F32_BITS, PTX_IMM_F64_BITS, PTX_IMM_DECIMAL };

struct ptx_operand {
        enum ptx_operand_kind kind;
        int reg;        /* REG, or MEM through a register; -1 otherwise */
        int param;      /* MEM on a kernel parameter; -1 otherwise */
        int64_t offset; /* MEM */
        enum ptx_imm_kind imm_kind;
        uint64_t imm;   /* integer value or raw float bits */
        double decimal; /* PTX_IMM_DECIMAL */
        unsigned special, axis;
        unsigned label; /* LABEL: index of the target instruction */
};

#define PTX_MAX_OPERANDS 4

struct ptx_insn {
        enum ptx_opcode op;
        struct ptx_type type;     /* the instruction type (destination type for cvt) */
        struct ptx_type src_type; /* cvt's source type */
        enum ptx_space space;
        enum ptx_mode mode;
        enum ptx_round round;
        enum ptx_cmp cmp;
        bool saturate;
        int guard; /* predicate register, -1 when unguarded */
        bool guard_negated;
        unsigned operand_count;
        struct ptx_operand operands[PTX_MAX_OPERANDS];
        unsigned line;
};

struct ptx_param {
        char name[128];
        unsigned size, align, offset;
};

struct ptx_entry {
        char name[128];
        struct ptx_param *params;
        unsigned param_count;
        unsigned param_bytes; /* the size of the packed parameter buffer */
        struct ptx_insn *insns;
        unsigned insn_count;
        struct ptx_type *reg_types;
        unsigned reg_count;
        bool runnable; /* false: uses something outside the subset; launches do nothing */
        char not_runnable_why[160];
};

struct ptx_program {
        unsigned version_major, version_minor;
        unsigned target_sm; /* 50 for sm_50; 0 when .target names none */
        unsigned address_size;
        struct ptx_entry *entries;
        unsigned entry_count;
};

/* Between the ptx_*.c files: a type name ("u32" or ".u32"); an instruction name decoded into
 * insn (returns 1, 0 when valid PTX outside the subset, -EINVAL when invalid, with the reason in
 * `why`) and the number of operands it takes; the operand kinds and register sizes ptxas checks
 * (0 or -EINVAL with the reason). */
bool ptx_parse_type(const char *name, struct ptx_type *ret);
int ptx_decode_opcode(const char *word, struct ptx_insn *insn, unsigned *ret_operand_count,
                      char *why, size_t why_size);
int ptx_check_operands(const struct ptx_insn *insn, const struct ptx_type *reg_types, char *why,
                       size_t why_size);

/* Parses PTX text. On malformed text returns -EINVAL and writes a ptxas-style log ("ptxas
 * application ptx input, line N; error   : ...") to `log`; -ENOMEM when out of memory. */
int ptx_parse(const char *text, struct ptx_program **ret, char *log, size_t log_size);

void ptx_program_free(struct ptx_program *program);

/* How a kernel reaches memory: returns the host address of [address, address+size) or NULL
 * when the range is not inside one allocation of the launching context. */
typedef void *(*ptx_translate_fn)(void *userdata, uint64_t address, size_t size);

enum ptx_fault {
        PTX_FAULT_NONE,
        PTX_FAULT_ADDRESS,    /* load or store outside every allocation */
        PTX_FAULT_MISALIGNED, /* address not a multiple of the access size */
        PTX_FAULT_TIMEOUT,    /* ran past the step budget (an endless loop) */
        PTX_FAULT_RESOURCES,  /* no memory for the register file */
};

struct ptx_launch {
        unsigned grid[3], block[3];
        const unsigned char *params; /* entry->param_bytes bytes */
        ptx_translate_fn translate;
        void *userdata;
        uint64_t clock_start;       /* what %clock64 reads when the kernel starts */
        uint64_t globaltimer_start; /* what %globaltimer reads then, in nanoseconds */
        unsigned clock_khz;         /* the SM clock, to turn cycles into %globaltimer time */
};

/* Runs a runnable entry over the whole grid. *ret_cycles: the simulated cycles of its longest
 * thread (one a step, clock spin loops skipped over: ptx_exec.c), written on success. */
enum ptx_fault ptx_execute(const struct ptx_entry *entry, const struct ptx_launch *launch,
                           uint64_t *ret_cycles);

/* Whether the backward branch at `branch` closes a clock spin loop: a straight line of register
 * arithmetic from its target to it, without loads, stores, other branches, guarded instructions
 * or registers carried from one iteration to the next, that reads a clock. Such a loop's every
 * iteration depends on the clock alone (ptx_spin.c). */
bool ptx_is_clock_spin(const struct ptx_entry *entry, unsigned branch);
