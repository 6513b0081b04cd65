/* What the plugin does for each task in slurmstepd: place it on an instance before it runs (its
 * environment made that of a client of the instance's MPS daemon), and take it out of the
 * placement ledger when it has ended. */
#pragma once

#include <slurm/spank.h>

/* slurm_spank_init everywhere: the plugstack.conf arguments are checked (and a bad one refused)
 * wherever the plugin is loaded, so that a typo shows when slurmd starts. */
int mpsmig_spank_check_arguments(int argc, char **argv);

/* slurm_spank_task_init_privileged (as root, in the task's own process just before it becomes
 * the job's program, same pid): when the job asked for it, places the task as `mpsmig run` does
 * (same code: run_prepare) and sets its CUDA_VISIBLE_DEVICES, CUDA_MPS_PIPE_DIRECTORY,
 * CUDA_MPS_LOG_DIRECTORY and limits. A refusal (no daemon would serve the task) is -1 with the
 * reason in the job's stderr: the task never runs without MPS. */
int mpsmig_spank_task_place(spank_t spank, int argc, char **argv);

/* slurm_spank_task_exit (slurmstepd, as root, the task reaped): takes the task's pid out of the
 * ledgers. A failure is logged, never the job's: the next placement forgets dead entries too. */
int mpsmig_spank_task_release(spank_t spank, int argc, char **argv);
