/* `mpsmig run [OPTIONS] -- CMD [ARGS...]`: puts CMD on an instance as an MPS client (the one
 * named by --on, or the least loaded one) and becomes it through execve, so that its pid, its
 * signals and its exit status are CMD's own. Refuses when no daemon would serve it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/client.h"
#include "base/cleanup.h"
#include "cli/cli.h"
#include "ops/run.h"

/* As shells and env(1) say it: found but not runnable, or not found. */
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND      127

static void report_placement(const struct run_plan *plan, bool verbose, bool by_agent)
{
        bool chose = plan->candidate_count > 1;
        if (chose && !plan->recorded)
                cli_error("run: warning: placement is not race-safe (%s); it counted only the "
                          "daemons' clients",
                          plan->ledger_error.message);
        if (!verbose)
                return;
        const struct target *target = plan->target;
        cli_error("run: on %s (%s%s%s), %zu client%s before this one%s; placed by %s",
                  plan->short_name, target->uuid, target->mig_device ? ", " : "",
                  target->mig_device ? target->mig_device->profile : "", plan->load,
                  plan->load == 1 ? "" : "s",
                  chose ? ", the least loaded of the targets that answered" : "",
                  by_agent ? "the agent" : "asking the daemons directly");
        if (!chose && !plan->recorded)
                cli_error("run: not recorded for later placements: %s", plan->ledger_error.message);
}

static int run_run(int argc, char **argv)
{
        static const struct option options[] = {
            {"on", required_argument, NULL, 'o'},
            {"profile", required_argument, NULL, 'p'},
            {"threads", required_argument, NULL, 't'},
            {"pinned-mem", required_argument, NULL, 'm'},
            {"priority", required_argument, NULL, 'P'},
            {"layout", required_argument, NULL, 'l'},
            {"runtime-dir", required_argument, NULL, 'r'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct run_request request = {.layout_kind = LAYOUT_DEFAULT, .limits = CLIENT_LIMITS_INIT};
        bool verbose = false, layout_given = false;
        struct error err = {0};
        int c;
        /* "+": the first word that is not an option is CMD, and CMD's own options are its own */
        while ((c = getopt_long(argc, argv, "+:hv", options, NULL)) != -1) {
                switch (c) {
                case 'o':
                        request.on = optarg;
                        break;
                case 'p':
                        request.profile = optarg;
                        break;
                case 't':
                        if (client_limit_parse_threads(optarg, &request.limits.thread_percentage,
                                                       &err) < 0)
                                return cli_usage_error("run: %s", err.message);
                        break;
                case 'm':
                        if (client_limit_parse_pinned_mem(optarg, &request.limits.pinned_bytes,
                                                          &err) < 0)
                                return cli_usage_error("run: %s", err.message);
                        break;
                case 'P':
                        if (client_limit_parse_priority(optarg, &request.limits.priority, &err) < 0)
                                return cli_usage_error("run: %s", err.message);
                        break;
                case 'l':
                        if (layout_kind_parse(optarg, &request.layout_kind) < 0)
                                return cli_usage_error("run: --layout '%s': give default or seed",
                                                       optarg);
                        layout_given = true;
                        break;
                case 'r':
                        if (!optarg[0])
                                return cli_usage_error("run: --runtime-dir needs a folder");
                        request.runtime_dir = optarg;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case 'h':
                        return cli_verb_help(&verb_run);
                default:
                        return cli_option_error("run", c, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error("run: no command given (mpsmig run [OPTIONS] -- CMD "
                                       "[ARGS...])");
        char **command = &argv[optind];
        _cleanup_config_ struct config *config = NULL;
        int status = cli_load_config(&config);
        if (status != EXIT_OK)
                return status;
        request.runtime_dir = cli_runtime_dir(request.runtime_dir, config);
        if (!layout_given)
                request.layout_kind = config->layout;
        cli_set_hint_folders(request.layout_kind, request.runtime_dir);

        /* Before any placement: a typo in CMD must not leave a ledger entry or wait on daemons. */
        _cleanup_free_ char *path = NULL;
        int r = run_find_program(command[0], &path, &err);
        if (r < 0) {
                cli_report(&err);
                return r == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
        }

        request.record_pid = getpid();
        struct run_plan plan;
        enum run_failure failure;
        /* The agent places it when one serves the runtime folder; else the daemons are asked. */
        r = agent_client_place(&request, &plan, &failure, &err);
        bool by_agent = r == 0;
        if (r == AGENT_CLIENT_NONE)
                r = run_prepare(&request, &plan, &failure, &err);
        if (r < 0) {
                cli_report(&err);
                return failure == RUN_FAILURE_USAGE || failure == RUN_FAILURE_DRIVER
                           ? EXIT_USAGE
                           : EXIT_FAILURE_;
        }
        report_placement(&plan, verbose, by_agent);
        (void)fflush(NULL);
        r = run_exec(&plan, path, command, &err);
        run_plan_done(&plan);
        cli_report(&err);
        return r == -ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
}

const struct verb verb_run = {
    .name = "run",
    .summary = "Run a program as an MPS client of one target (the least loaded by default)",
    .usage = "Usage: mpsmig run [OPTIONS] [--] CMD [ARGS...]\n"
             "\n"
             "Checks that the target's MPS daemon runs and answers, sets CUDA_VISIBLE_DEVICES,\n"
             "CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_LOG_DIRECTORY (and the limits asked for), then\n"
             "becomes CMD (same pid: signals and the exit status are CMD's own). CMD is looked\n"
             "up in PATH; the rest of the environment is passed on. Never runs CMD without\n"
             "MPS: a daemon that is not running, gone or not answering is an error.\n"
             "\n"
             "Options:\n"
             "  --on TARGET         where: a UUID or unique UUID prefix (MIG-22f0), GPU:GI:CI\n"
             "                      (0:1:0), a GPU index (1), a profile (1g.10gb: the least\n"
             "                      loaded instance of it), or auto (default): the target\n"
             "                      with the fewest MPS clients, then the most memory, then\n"
             "                      the first in nvidia-smi order, among those whose daemon\n"
             "                      answers; simultaneous runs spread evenly\n"
             "  --profile NAME      choose only among instances of this profile\n"
             "  --threads PCT       CUDA_MPS_ACTIVE_THREAD_PERCENTAGE, 1-100\n"
             "  --pinned-mem SIZE   CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=SIZE (2G, 512M)\n"
             "  --priority N        CUDA_MPS_CLIENT_PRIORITY: 0 normal, 1 below normal\n"
             "  --layout KIND       default or seed (see mpsmig help env)\n"
             "  --runtime-dir DIR   the runtime folder (see mpsmig help env)\n"
             "  -v, --verbose       say on stderr where CMD was put and why\n"
             "  -h, --help          show this help\n"
             "\n"
             "Exit status: CMD's own; otherwise 1 refused or failed, 2 usage error, unknown\n"
             "target or no usable driver, 126 CMD cannot be executed, 127 CMD not found.\n",
    .run = run_run,
};
