/* `mpsmig env TARGET`: the variables that make a program a client of TARGET's MPS daemon, as
 * `export` lines for a POSIX shell (`eval "$(mpsmig env 0:1:0)"`) or as JSON; refused when the
 * daemon does not answer, since a client would then silently run without MPS. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/client.h"
#include "base/cleanup.h"
#include "cli/cli.h"
#include "node/target_name.h"
#include "cli/output.h"
#include "ops/run.h"

/* Bump when a field changes meaning or goes away; adding a field keeps the version. */
#define ENV_SCHEMA_VERSION 1

static int print_shell(const struct client_environment *environment)
{
        for (size_t i = 0; i < environment->count; i++) {
                _cleanup_free_ char *word = NULL;
                if (shell_quote(environment->variables[i].value, &word) < 0)
                        return -ENOMEM;
                printf("export %s=%s\n", environment->variables[i].name, word);
        }
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
}

static int print_json(const struct run_plan *plan, bool by_agent)
{
        json_t *variables = json_object();
        for (size_t i = 0; variables && i < plan->environment.count; i++)
                if (json_object_set_new(variables, plan->environment.variables[i].name,
                                        json_text(plan->environment.variables[i].value)) < 0) {
                        json_decref(variables);
                        variables = NULL;
                }
        if (!variables)
                return -ENOMEM;
        const struct target *target = plan->target;
        json_t *document =
            json_pack("{s:i, s:s, s:s, s:s, s:s?, s:I, s:s, s:o}", "schema_version",
                      ENV_SCHEMA_VERSION, "target", plan->short_name, "uuid", target->uuid, "kind",
                      target_kind_string(target->kind), "profile",
                      target->mig_device ? target->mig_device->profile : NULL, "daemon_pid",
                      (json_int_t)plan->daemon_pid, "answered_by", by_agent ? "agent" : "direct",
                      "environment", variables);
        if (!document)
                return -ENOMEM;
        int r = output_json(document, stdout);
        json_decref(document);
        return r;
}

static int env_run(int argc, char **argv)
{
        static const struct option options[] = {
            {"layout", required_argument, NULL, 'l'},
            {"runtime-dir", required_argument, NULL, 'r'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct run_request request = {
            .layout_kind = LAYOUT_DEFAULT, .limits = CLIENT_LIMITS_INIT, .single = true};
        bool json = false, layout_given = false;
        int c;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case 'l':
                        if (layout_kind_parse(optarg, &request.layout_kind) < 0)
                                return cli_usage_error("env: --layout '%s': give default or seed",
                                                       optarg);
                        layout_given = true;
                        break;
                case 'r':
                        if (!optarg[0])
                                return cli_usage_error("env: --runtime-dir needs a folder");
                        request.runtime_dir = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        return cli_verb_help(&verb_env);
                default:
                        return cli_option_error("env", c, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error("env: name one target (as in mpsmig env 0:1:0)");
        if (optind + 1 < argc)
                return cli_usage_error("env: one target only, got '%s' and '%s'", argv[optind],
                                       argv[optind + 1]);
        request.on = argv[optind];
        _cleanup_config_ struct config *config = NULL;
        int status = cli_load_config(&config);
        if (status != EXIT_OK)
                return status;
        request.runtime_dir = cli_runtime_dir(request.runtime_dir, config);
        if (!layout_given)
                request.layout_kind = config->layout;
        cli_set_hint_folders(request.layout_kind, request.runtime_dir);

        struct error err = {0};
        struct run_plan plan;
        enum run_failure failure;
        int r = agent_client_place(&request, &plan, &failure, &err);
        bool by_agent = r == 0;
        if (r == AGENT_CLIENT_NONE)
                r = run_prepare(&request, &plan, &failure, &err);
        if (r < 0) {
                cli_report(&err);
                return failure == RUN_FAILURE_USAGE || failure == RUN_FAILURE_DRIVER
                           ? EXIT_USAGE
                           : EXIT_FAILURE_;
        }
        r = json ? print_json(&plan, by_agent) : print_shell(&plan.environment);
        run_plan_done(&plan);
        if (r < 0) {
                cli_error("env: cannot write the variables: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        return EXIT_OK;
}

const struct verb verb_env = {
    .name = "env",
    .summary = "Print the variables that make a program a client of one target's daemon",
    .usage = "Usage: mpsmig env [--layout default|seed] [--runtime-dir DIR] [--json] TARGET\n"
             "\n"
             "Prints CUDA_VISIBLE_DEVICES, CUDA_MPS_PIPE_DIRECTORY and CUDA_MPS_LOG_DIRECTORY\n"
             "for TARGET as shell-quoted export lines, for eval \"$(mpsmig env 0:1:0)\".\n"
             "TARGET names exactly one target: a UUID or a unique UUID prefix (MIG-22f0),\n"
             "GPU:GI:CI indexes (0:1:0), or a GPU index (1) for a whole GPU.\n"
             "Refuses (exit 1) when the target's MPS daemon is not running or does not\n"
             "answer: a client would then run without MPS, silently.\n"
             "\n"
             "Options:\n"
             "  --layout KIND       where the daemons' folders are: default\n"
             "                      (<runtime dir>/<UUID>/{pipe,log}) or seed\n"
             "                      (/tmp/mps_<UUID>, /tmp/mps_log_<UUID>)\n"
             "  --runtime-dir DIR   the runtime folder (default $MPSMIG_RUNTIME_DIR,\n"
             "                      /run/mpsmig as root, else $XDG_RUNTIME_DIR/mpsmig)\n"
             "  --json              one JSON document (docs/run.md) instead of shell lines\n"
             "  -h, --help          show this help\n"
             "\n"
             "Exit status: 0 printed, 1 refused or failed, 2 usage error, unknown target\n"
             "or no usable driver.\n",
    .run = env_run,
};
