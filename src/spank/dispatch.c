/* The SPANK entry points of mpsmig_spank.so: each only chooses by SPANK context where the work
 * goes (options.c, task.c). Only they and the plugin's identity are exported (mpsmig_spank.map). */
#include <slurm/spank.h>

#include "spank/options.h"
#include "spank/task.h"

#define EXPORTED __attribute__((visibility("default")))

#pragma GCC visibility push(default)
SPANK_PLUGIN(mpsmig, 1)
#pragma GCC visibility pop

EXPORTED int slurm_spank_init(spank_t spank, int argc, char **argv)
{
        if (mpsmig_spank_check_arguments(argc, argv) < 0)
                return -1;
        switch (spank_context()) {
        case S_CTX_LOCAL:
        case S_CTX_ALLOCATOR:
        case S_CTX_REMOTE:
                return mpsmig_spank_options_register(spank);
        default:
                return 0;
        }
}

EXPORTED int slurm_spank_task_init_privileged(spank_t spank, int argc, char **argv)
{
        switch (spank_context()) {
        case S_CTX_REMOTE:
                return mpsmig_spank_task_place(spank, argc, argv);
        default:
                return 0;
        }
}

EXPORTED int slurm_spank_task_exit(spank_t spank, int argc, char **argv)
{
        switch (spank_context()) {
        case S_CTX_REMOTE:
                return mpsmig_spank_task_release(spank, argc, argv);
        default:
                return 0;
        }
}
