/* The Slurm plugin's plugstack.conf arguments and the checks of its job options' values, kept free
 * of Slurm so that the unit tests and the fuzz target run them alone. See config.h. */
#include "spank/config.h"

#include <errno.h>
#include <string.h>

#define RUNTIME_DIR_WORD "runtime_dir="
#define LAYOUT_WORD      "layout="
#define KNOWN_WORDS      "runtime_dir=/absolute/folder, layout=default or layout=seed"

int mpsmig_spank_config_parse(int argc, char *const *argv, struct spank_config *ret_config,
                              struct error *err)
{
        struct spank_config config = {.layout_kind = LAYOUT_DEFAULT};
        bool layout_seen = false;
        for (int i = 0; i < argc; i++) {
                const char *word = argv[i];
                if (strncmp(word, RUNTIME_DIR_WORD, strlen(RUNTIME_DIR_WORD)) == 0) {
                        const char *dir = word + strlen(RUNTIME_DIR_WORD);
                        if (config.runtime_dir)
                                return error_set(err, -EINVAL, "runtime_dir= is given twice");
                        if (dir[0] != '/')
                                return error_set(err, -EINVAL,
                                                 "'%s': give the runtime folder as an absolute "
                                                 "path (runtime_dir=/run/mpsmig)",
                                                 word);
                        config.runtime_dir = dir;
                } else if (strncmp(word, LAYOUT_WORD, strlen(LAYOUT_WORD)) == 0) {
                        if (layout_seen)
                                return error_set(err, -EINVAL, "layout= is given twice");
                        if (layout_kind_parse(word + strlen(LAYOUT_WORD), &config.layout_kind) < 0)
                                return error_set(err, -EINVAL,
                                                 "'%s': give layout=default or layout=seed", word);
                        layout_seen = true;
                } else {
                        return error_set(err, -EINVAL, "unknown argument '%s'; known: %s", word,
                                         KNOWN_WORDS);
                }
        }
        *ret_config = config;
        return 0;
}

/* A target name as `mpsmig run --on` takes it: printable, no space, not too long. Whether it names
 * anything is for the node to say. */
static int check_instance(const char *value, struct error *err)
{
        size_t len = strlen(value);
        bool printable = len > 0 && len <= SPANK_INSTANCE_MAX;
        for (size_t i = 0; i < len && printable; i++)
                printable = value[i] > ' ' && value[i] < 0x7f;
        if (!printable)
                return error_set(err, -EINVAL,
                                 "--mps-instance: give auto, a MIG or GPU UUID (or a unique "
                                 "prefix), GPU:GI:CI such as 0:1:0, a GPU index or a profile "
                                 "such as 1g.10gb");
        return 0;
}

int mpsmig_spank_option_check(const char *name, const char *value, struct error *err)
{
        struct client_limits limits = CLIENT_LIMITS_INIT;
        if (!value)
                return error_set(err, -EINVAL, "--%s needs a value", name);
        if (strcmp(name, "mps-instance") == 0)
                return check_instance(value, err);
        if (strcmp(name, "mps-threads") == 0) {
                if (client_limit_parse_threads(value, &limits.thread_percentage, NULL) < 0)
                        return error_set(err, -EINVAL,
                                         "--mps-threads '%s': give a whole percentage from 1 to "
                                         "100",
                                         value);
                return 0;
        }
        if (strcmp(name, "mps-pinned-mem") == 0) {
                struct error parse_error = {0};
                int r = client_limit_parse_pinned_mem(value, &limits.pinned_bytes, &parse_error);
                /* its message names `run`'s option (--pinned-mem): name the job option instead */
                if (r < 0)
                        return error_set(err, r, "--mps-%s", parse_error.message + 2);
                return 0;
        }
        return error_set(err, -EINVAL, "--%s is not an option of mpsmig's plugin", name);
}

bool mpsmig_spank_options_used(const struct spank_job_options *options)
{
        return options->instance || options->threads || options->pinned_mem;
}

int mpsmig_spank_request(const struct spank_config *config, const struct spank_job_options *options,
                         pid_t task_pid, struct run_request *ret_request, struct error *err)
{
        struct run_request request = {
            .layout_kind = config->layout_kind,
            .runtime_dir = config->runtime_dir,
            .on = options->instance ? options->instance : "auto",
            .limits = CLIENT_LIMITS_INIT,
            .record_pid = task_pid,
        };
        int r = check_instance(request.on, err);
        if (r >= 0 && options->threads)
                r = mpsmig_spank_option_check("mps-threads", options->threads, err);
        if (r >= 0 && options->threads)
                r = client_limit_parse_threads(options->threads, &request.limits.thread_percentage,
                                               err);
        if (r >= 0 && options->pinned_mem)
                r = mpsmig_spank_option_check("mps-pinned-mem", options->pinned_mem, err);
        if (r >= 0 && options->pinned_mem)
                r = client_limit_parse_pinned_mem(options->pinned_mem, &request.limits.pinned_bytes,
                                                  err);
        if (r < 0)
                return r;
        *ret_request = request;
        return 0;
}
