/* The plugin's job options: the table SPANK holds on to, the callback that checks a value where it
 * is typed (srun refuses the job before it is submitted), and the read of the values that srun
 * sent to slurmstepd. See options.h. */
#include "spank/options.h"

#include <errno.h>
#include <stddef.h>

enum option_index {
        OPTION_INSTANCE,
        OPTION_THREADS,
        OPTION_PINNED_MEM,
        OPTION_COUNT,
};

static int check_option(int index, const char *value, int remote);

/* SPANK keeps a pointer to each registered option and calls back with its `val` alone, so the
 * table has to outlive the call: the one static the plugin has, never written. */
static struct spank_option job_options[OPTION_COUNT] = {
    [OPTION_INSTANCE] = {"mps-instance", "TARGET",
                         "Run each task as an MPS client of an instance's daemon (mpsmig): auto "
                         "(the least loaded), a UUID, GPU:GI:CI or a profile such as 1g.10gb",
                         1, OPTION_INSTANCE, check_option},
    [OPTION_THREADS] = {"mps-threads", "PCT",
                        "MPS active thread percentage of each task, 1-100 (implies "
                        "--mps-instance=auto when not given)",
                        1, OPTION_THREADS, check_option},
    [OPTION_PINNED_MEM] = {"mps-pinned-mem", "SIZE",
                           "MPS pinned device memory limit of each task, such as 2G or 512M "
                           "(implies --mps-instance=auto when not given)",
                           1, OPTION_PINNED_MEM, check_option},
};

static int check_option(int index, const char *value, int remote)
{
        if (index < 0 || index >= OPTION_COUNT)
                return -1;
        struct error err = {0};
        if (mpsmig_spank_option_check(job_options[index].name, value, &err) < 0) {
                slurm_error("mpsmig: %s", err.message);
                return -1;
        }
        return 0;
}

int mpsmig_spank_options_register(spank_t spank)
{
        for (size_t i = 0; i < OPTION_COUNT; i++) {
                spank_err_t r = spank_option_register(spank, &job_options[i]);
                if (r != ESPANK_SUCCESS) {
                        slurm_error("mpsmig: cannot register --%s: %s", job_options[i].name,
                                    spank_strerror(r));
                        return -1;
                }
        }
        return 0;
}

int mpsmig_spank_options_read(spank_t spank, struct spank_job_options *ret_options,
                              struct error *err)
{
        const char **values[OPTION_COUNT] = {
            [OPTION_INSTANCE] = &ret_options->instance,
            [OPTION_THREADS] = &ret_options->threads,
            [OPTION_PINNED_MEM] = &ret_options->pinned_mem,
        };
        for (size_t i = 0; i < OPTION_COUNT; i++) {
                char *value = NULL;
                spank_err_t r = spank_option_getopt(spank, &job_options[i], &value);
                if (r == ESPANK_SUCCESS) {
                        *values[i] = value;
                } else if (r == ESPANK_ERROR) { /* not given */
                        *values[i] = NULL;
                } else {
                        return error_set(err, -EIO, "cannot read the job's --%s: %s",
                                         job_options[i].name, spank_strerror(r));
                }
        }
        return 0;
}
