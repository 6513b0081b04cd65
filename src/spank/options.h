/* The job options the plugin adds to srun, salloc and sbatch (--mps-instance, --mps-threads,
 * --mps-pinned-mem): registered with SPANK, checked where they are typed, read on the node. */
#pragma once

#include <slurm/spank.h>

#include "spank/config.h"

/* Registers the options (slurm_spank_init, in srun, salloc, sbatch and slurmstepd). -1 with a
 * message in the log when SPANK refuses one. */
int mpsmig_spank_options_register(spank_t spank);

/* The options the job was given (slurmstepd). -EIO with `err` when SPANK cannot say. */
int mpsmig_spank_options_read(spank_t spank, struct spank_job_options *ret_options,
                              struct error *err);
