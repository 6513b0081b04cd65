/* Placing Slurm tasks on MPS instances with `mpsmig run`'s own code (run_prepare: the same target
 * names, the same refusal of a daemon that would not serve, the same placement ledger), from
 * slurmstepd. See task.h. Where a node agent (`mpsmig daemon`) serves the runtime folder, it is
 * asked first and places the task itself (docs/slurm.md). */
#include "spank/task.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/client.h"
#include "ops/hint_text.h"
#include "ops/run.h"
#include "spank/config.h"
#include "spank/options.h"

int mpsmig_spank_check_arguments(int argc, char **argv)
{
        struct spank_config config;
        struct error err = {0};
        if (mpsmig_spank_config_parse(argc, argv, &config, &err) < 0) {
                slurm_error("mpsmig: plugstack.conf: %s", err.message);
                return -1;
        }
        return 0;
}

/* "task 3 on node gpu07", for messages that reach the user from a step of many tasks. */
static void task_name(spank_t spank, char *buffer, size_t size)
{
        uint32_t global_id = 0;
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1) < 0)
                (void)strcpy(host, "?");
        if (spank_get_item(spank, S_TASK_GLOBAL_ID, &global_id) == ESPANK_SUCCESS)
                (void)snprintf(buffer, size, "task %u on node %s", (unsigned)global_id, host);
        else
                (void)snprintf(buffer, size, "a task on node %s", host);
}

/* The request of this task, or 0 with *ret_wanted false when the job did not ask for mpsmig. */
static int task_request(spank_t spank, int argc, char **argv, pid_t pid,
                        struct spank_job_options *options, struct run_request *ret_request,
                        bool *ret_wanted, struct error *err)
{
        *ret_wanted = false;
        int r = mpsmig_spank_options_read(spank, options, err);
        if (r < 0)
                return r;
        if (!mpsmig_spank_options_used(options))
                return 0;
        struct spank_config config;
        r = mpsmig_spank_config_parse(argc, argv, &config, err);
        if (r < 0)
                return error_prefix(err, "plugstack.conf");
        r = mpsmig_spank_request(&config, options, pid, ret_request, err);
        if (r < 0)
                return r;
        *ret_wanted = true;
        return 0;
}

int mpsmig_spank_task_place(spank_t spank, int argc, char **argv)
{
        char task[320];
        task_name(spank, task, sizeof(task));
        struct spank_job_options options;
        struct run_request request;
        bool wanted;
        struct error err = {0};
        if (task_request(spank, argc, argv, getpid(), &options, &request, &wanted, &err) < 0) {
                slurm_error("mpsmig: %s: %s", task, err.message);
                return -1;
        }
        if (!wanted)
                return 0;

        struct run_plan plan;
        enum run_failure failure;
        /* The agent places the task when one serves the runtime folder (it records this
         * process, the task, by its socket's peer credentials and forgets it when it exits);
         * else the daemons are asked, as `mpsmig run` does. */
        int placed = agent_client_place(&request, &plan, &failure, &err);
        if (placed == AGENT_CLIENT_NONE)
                placed = run_prepare(&request, &plan, &failure, &err);
        if (placed < 0) {
                char text[sizeof(err.message) + 8192];
                slurm_error(
                    "mpsmig: %s: %s", task,
                    hint_text(&err, request.layout_kind, request.runtime_dir, text, sizeof(text)));
                return -1;
        }
        int r = 0;
        for (size_t i = 0; i < plan.environment.count && r == 0; i++) {
                const struct client_variable *variable = &plan.environment.variables[i];
                spank_err_t set = spank_setenv(spank, variable->name, variable->value, 1);
                if (set != ESPANK_SUCCESS) {
                        slurm_error("mpsmig: %s: cannot set %s: %s", task, variable->name,
                                    spank_strerror(set));
                        r = -1;
                }
        }
        if (r == 0 && plan.candidate_count > 1 && !plan.recorded)
                slurm_info("mpsmig: %s: placement is not race-safe (%s); it counted only the "
                           "daemons' clients",
                           task, plan.ledger_error.message);
        if (r == 0)
                slurm_verbose("mpsmig: %s: on %s (%s), %zu client%s before it", task,
                              plan.short_name, plan.target->uuid, plan.load,
                              plan.load == 1 ? "" : "s");
        run_plan_done(&plan);
        return r;
}

int mpsmig_spank_task_release(spank_t spank, int argc, char **argv)
{
        pid_t pid = 0;
        if (spank_get_item(spank, S_TASK_PID, &pid) != ESPANK_SUCCESS || pid <= 0)
                return 0;
        char task[320];
        task_name(spank, task, sizeof(task));
        struct spank_job_options options;
        struct run_request request;
        bool wanted;
        struct error err = {0};
        int r = task_request(spank, argc, argv, pid, &options, &request, &wanted, &err);
        if (r >= 0 && wanted)
                r = run_release(&request, pid, &err);
        if (r < 0)
                slurm_info("mpsmig: %s: its placement was not released (%s); the next placement "
                           "forgets it",
                           task, err.message);
        return 0;
}
