/* The Slurm plugin's settings without Slurm: its plugstack.conf arguments (runtime_dir=,
 * layout=) and the job options' values (--mps-instance, --mps-threads, --mps-pinned-mem), checked
 * and turned into the run_request that `mpsmig run` builds from its own options. */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "ops/run.h"

/* The longest --mps-instance value: an old-style MIG UUID ("MIG-GPU-<uuid>/7/7") with room. */
#define SPANK_INSTANCE_MAX 96

/* The plugin's arguments in plugstack.conf. */
struct spank_config {
        enum layout_kind layout_kind;
        const char *runtime_dir; /* points into the arguments; NULL: $MPSMIG_RUNTIME_DIR or the
                                  * default (/run/mpsmig as root) */
};

/* The job options as srun or sbatch received them; NULL where not given. */
struct spank_job_options {
        const char *instance;   /* --mps-instance */
        const char *threads;    /* --mps-threads */
        const char *pinned_mem; /* --mps-pinned-mem */
};

/* Parses "runtime_dir=/abs/dir" and "layout=default|seed", each at most once; any other word is
 * -EINVAL with a message naming it and the words known. */
int mpsmig_spank_config_parse(int argc, char *const *argv, struct spank_config *ret_config,
                              struct error *err);

/* Checks one option's value the way the option's callback does in srun, before the job is
 * submitted: `name` is the option without its dashes ("mps-threads"). -EINVAL with a message that
 * names the option, else 0. */
int mpsmig_spank_option_check(const char *name, const char *value, struct error *err);

/* True when the job asked for placement: --mps-instance, or a limit (which means `auto`). */
bool mpsmig_spank_options_used(const struct spank_job_options *options);

/* The run_request of a task: `options` checked again (on the node, where they arrive from srun),
 * the instance `auto` when only limits were given. `ret_request->on` points into `options`. */
int mpsmig_spank_request(const struct spank_config *config, const struct spank_job_options *options,
                         pid_t task_pid, struct run_request *ret_request, struct error *err);
