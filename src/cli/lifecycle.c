/* The command-line pieces `start`, `stop` and `status` share; see lifecycle.h. */
#define _GNU_SOURCE
#include "cli/lifecycle.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/output.h"
#include "node/target_name.h"

#define LIFECYCLE_SCHEMA_VERSION 1
#define TIMEOUT_MAX_SECONDS      3600

/* "10", "0.5": seconds, more than 0 and at most an hour, in milliseconds. */
static int parse_timeout(const char *text, int *ret_ms)
{
        char *end = NULL;
        errno = 0;
        double seconds = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0' || !isfinite(seconds) || seconds <= 0 ||
            seconds > TIMEOUT_MAX_SECONDS)
                return -EINVAL;
        int ms = (int)(seconds * 1000 + 0.999); /* rounded up: 0.0001 s is 1 ms, not 0 */
        *ret_ms = ms > 0 ? ms : 1;
        return 0;
}

int lifecycle_parse(const struct verb *verb, bool force, int argc, char **argv,
                    struct lifecycle_args *ret_args)
{
        enum {
                OPT_WHOLE = 256,
                OPT_LAYOUT,
                OPT_RUNTIME,
                OPT_TIMEOUT,
                OPT_JSON,
                OPT_WIDE,
                OPT_FORCE
        };
        static const struct option with_force[] = {
            {"whole-gpus", no_argument, NULL, OPT_WHOLE},
            {"layout", required_argument, NULL, OPT_LAYOUT},
            {"runtime-dir", required_argument, NULL, OPT_RUNTIME},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"json", no_argument, NULL, OPT_JSON},
            {"wide", no_argument, NULL, OPT_WIDE},
            {"help", no_argument, NULL, 'h'},
            {"force", no_argument, NULL, OPT_FORCE},
            {0},
        };
        static const struct option without_force[] = {
            {"whole-gpus", no_argument, NULL, OPT_WHOLE},
            {"layout", required_argument, NULL, OPT_LAYOUT},
            {"runtime-dir", required_argument, NULL, OPT_RUNTIME},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"json", no_argument, NULL, OPT_JSON},
            {"wide", no_argument, NULL, OPT_WIDE},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct lifecycle_args args = {.options = {.layout_kind = LAYOUT_DEFAULT}};
        bool layout_given = false;
        int c;
        while ((c = getopt_long(argc, argv, ":h", force ? with_force : without_force, NULL)) !=
               -1) {
                switch (c) {
                case OPT_WHOLE:
                        args.options.whole_gpus = true;
                        break;
                case OPT_LAYOUT:
                        if (layout_kind_parse(optarg, &args.options.layout_kind) < 0)
                                return cli_usage_error("%s: --layout takes 'default' or 'seed', "
                                                       "not '%s'",
                                                       verb->name, optarg);
                        layout_given = true;
                        break;
                case OPT_RUNTIME:
                        if (!optarg[0])
                                return cli_usage_error("%s: --runtime-dir needs a folder",
                                                       verb->name);
                        args.options.runtime_dir = optarg;
                        break;
                case OPT_TIMEOUT:
                        if (parse_timeout(optarg, &args.options.timeout_ms) < 0)
                                return cli_usage_error("%s: --timeout takes seconds, more than 0 "
                                                       "and at most %d, not '%s'",
                                                       verb->name, TIMEOUT_MAX_SECONDS, optarg);
                        break;
                case OPT_JSON:
                        args.json = true;
                        break;
                case OPT_WIDE:
                        output_set_wide(true);
                        break;
                case OPT_FORCE:
                        args.options.force = true;
                        break;
                case 'h':
                        return cli_verb_help(verb);
                default:
                        return cli_option_error(verb->name, c, argv);
                }
        }
        args.options.names = argv + optind;
        args.options.name_count = (size_t)(argc - optind);
        int status = cli_load_config(&args.config);
        if (status != EXIT_OK)
                return status;
        lifecycle_apply_config(verb, layout_given, &args);
        cli_set_hint_folders(args.options.layout_kind, args.options.runtime_dir);
        *ret_args = args;
        return -1;
}

void lifecycle_args_done(struct lifecycle_args *args)
{
        config_free(args->config);
        args->config = NULL;
}

void lifecycle_apply_config(const struct verb *verb, bool layout_given, struct lifecycle_args *args)
{
        const struct config *config = args->config;
        struct ops_options *options = &args->options;
        options->config = config;
        options->runtime_dir = cli_runtime_dir(options->runtime_dir, config);
        if (!layout_given)
                options->layout_kind = config->layout;
        options->whole_gpus = options->whole_gpus || config->whole_gpus;
        bool start = strcmp(verb->name, "start") == 0;
        int from_file = start                             ? config->start_timeout_ms
                        : strcmp(verb->name, "stop") == 0 ? config->stop_timeout_ms
                                                          : 0;
        if (options->timeout_ms == 0)
                options->timeout_ms = from_file;
        options->config_strict = start || strcmp(verb->name, "set") == 0;
}

int lifecycle_open(const struct lifecycle_args *args, struct ops_context *ret_context)
{
        struct error err = {0};
        enum ops_failure failure;
        if (ops_context_open(&args->options, ret_context, &failure, &err) < 0) {
                cli_report(&err);
                return failure == OPS_FAILURE_OTHER ? EXIT_FAILURE_ : EXIT_USAGE;
        }
        /* status and stop (orphans) add targets of their own before they can tell. */
        if (ret_context->target_count == 0 && !args->options.orphans)
                lifecycle_no_targets(args);
        return EXIT_OK;
}

void lifecycle_no_targets(const struct lifecycle_args *args)
{
        cli_error("no MPS targets: %s", args->options.whole_gpus
                                            ? "no MIG devices and no whole GPUs"
                                            : "no MIG devices (use --whole-gpus to manage whole "
                                              "GPUs)");
}

void lifecycle_warn_unchecked(const struct ops_context *context)
{
        for (size_t i = 0; i < context->daemon_count; i++) {
                const struct mps_daemon *daemon = &context->daemons[i];
                if (daemon_serves_unknown(daemon))
                        cli_error("warning: the MPS control daemon pid %d (pipe folder %s) has no "
                                  "CUDA_VISIBLE_DEVICES and did not answer device_query: it may "
                                  "serve these devices too, which could not be checked",
                                  (int)daemon->pid, daemon->pipe_dir);
        }
}

void lifecycle_target_name(const struct target *target, char *buffer, size_t size)
{
        if (target_short_name(target, buffer, size) < 0)
                (void)snprintf(buffer, size, "?");
}

void lifecycle_format_uptime(double seconds, char *buffer, size_t size)
{
        unsigned long long s = seconds > 0 ? (unsigned long long)seconds : 0;
        if (s < 60)
                (void)snprintf(buffer, size, "%llus", s);
        else if (s < 3600)
                (void)snprintf(buffer, size, "%llum%02llus", s / 60, s % 60);
        else if (s < 86400)
                (void)snprintf(buffer, size, "%lluh%02llum", s / 3600, s % 3600 / 60);
        else
                (void)snprintf(buffer, size, "%llud%02lluh", s / 86400, s % 86400 / 3600);
}

json_t *lifecycle_pid_json(pid_t pid)
{
        return pid > 0 ? json_integer(pid) : json_null();
}

json_t *lifecycle_target_json(const struct target *target, const struct layout_paths *paths)
{
        char name[32];
        lifecycle_target_name(target, name, sizeof(name));
        return json_pack("{s:s, s:o, s:s, s:o, s:o}", "target", name, "uuid",
                         json_text(target->uuid[0] ? target->uuid : NULL), "kind",
                         target_kind_string(target->kind), "pipe_dir",
                         json_text(paths->pipe_dir[0] ? paths->pipe_dir : NULL), "log_dir",
                         json_text(paths->log_dir[0] ? paths->log_dir : NULL));
}

/* Which path answered this invocation, for its JSON. */
static bool answered_by_agent;

void lifecycle_answered_by_agent(bool agent)
{
        answered_by_agent = agent;
}

int lifecycle_print_json(const struct ops_context *context, const char *verb, json_t *targets,
                         json_t *summary)
{
        json_t *document = json_pack(
            "{s:i, s:s, s:s, s:o, s:s, s:o, s:o}", "schema_version", LIFECYCLE_SCHEMA_VERSION,
            "verb", verb, "layout", layout_kind_name(context->layout.kind), "runtime_dir",
            json_text(context->layout.runtime_dir), "answered_by",
            answered_by_agent ? "agent" : "direct", "targets", targets, "summary", summary);
        if (!document)
                return -ENOMEM;
        int r = output_json(document, stdout);
        json_decref(document);
        return r;
}

size_t lifecycle_report_lost(const struct node *node, const char *consequence)
{
        size_t lost = 0;
        for (size_t i = 0; node && i < node->gpu_count; i++) {
                const struct gpu *gpu = &node->gpus[i];
                if (!gpu->lost)
                        continue;
                lost++;
                cli_error("GPU %u%s%s%s is lost: %s (it needs a reset or a reboot)%s%s", gpu->index,
                          gpu->pci_bus_id[0] ? " (PCI " : "", gpu->pci_bus_id,
                          gpu->pci_bus_id[0] ? ")" : "", gpu->lost_reason,
                          consequence[0] ? ": " : "", consequence);
        }
        return lost;
}
