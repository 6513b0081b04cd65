/* `mpsmig config check [FILE]`: reads a configuration file as start would, checks it against this
 * node (or a simgpu topology's) and prints what each target would get, and from which section,
 * as a table or JSON. Nothing is started or changed. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli/cli.h"
#include "cli/lifecycle.h"
#include "cli/limits_output.h"
#include "cli/output.h"
#include "ops/ops.h"

#define CONFIG_SCHEMA_VERSION 1
/* Set in the environment of the copy of mpsmig that runs over a simgpu topology: it names the
 * topology, so that the copy checks instead of starting another copy. */
#define TOPOLOGY_MARK_ENV "MPSMIG_CONFIG_CHECK_TOPOLOGY"
#define SIMGPU_RUN        "simgpu-run"

struct check_args {
        const char *file;     /* FILE, or NULL: the usual choice */
        const char *topology; /* --topology */
        bool whole_gpus;
        bool json;
};

/* simgpu-run beside this program in a build folder (<build>/mpsmig, <build>/simgpu/simgpu-run),
 * else the first one in the absolute folders of $PATH (the simgpu package's). */
static int find_simgpu_run(const char *self, char *buffer, size_t size)
{
        char folder[PATH_MAX];
        (void)snprintf(folder, sizeof(folder), "%s", self);
        char *slash = strrchr(folder, '/');
        if (slash) {
                *slash = '\0';
                int n = snprintf(buffer, size, "%s/simgpu/%s", folder, SIMGPU_RUN);
                if (n > 0 && (size_t)n < size && access(buffer, X_OK) == 0)
                        return 0;
        }
        const char *path = getenv("PATH");
        for (const char *p = path ? path : ""; *p;) {
                size_t length = strcspn(p, ":");
                if (length > 0 && p[0] == '/') {
                        int n = snprintf(buffer, size, "%.*s/%s", (int)length, p, SIMGPU_RUN);
                        if (n > 0 && (size_t)n < size && access(buffer, X_OK) == 0)
                                return 0;
                }
                p += length + (p[length] == ':');
        }
        return -ENOENT;
}

/* Runs this same check again over the topology: simgpu-run TOPOLOGY -- mpsmig [--config C] config
 * check ARGS..., the copy marked so that it checks. Returns only on failure. */
static int exec_over_topology(const char *topology, int argc, char **argv)
{
        char self[PATH_MAX], runner[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
                cli_error("config check: cannot find this program (/proc/self/exe): %s",
                          strerror(errno));
                return EXIT_FAILURE_;
        }
        self[n] = '\0';
        if (find_simgpu_run(self, runner, sizeof(runner)) < 0)
                return cli_usage_error("config check: --topology needs simgpu (%s beside mpsmig "
                                       "or on PATH: install the simgpu package)",
                                       SIMGPU_RUN);
        size_t count = 0;
        _cleanup_free_ char **command = calloc((size_t)argc + 8, sizeof(*command));
        if (!command) {
                cli_error("out of memory");
                return EXIT_FAILURE_;
        }
        command[count++] = runner;
        command[count++] = (char *)topology;
        command[count++] = "--";
        command[count++] = self;
        if (cli_config_option()) {
                command[count++] = "--config";
                command[count++] = (char *)cli_config_option();
        }
        for (int i = 0; i < argc; i++)
                command[count++] = argv[i];
        if (setenv(TOPOLOGY_MARK_ENV, topology, 1) < 0) {
                cli_error("config check: cannot set %s: %s", TOPOLOGY_MARK_ENV, strerror(errno));
                return EXIT_FAILURE_;
        }
        (void)execv(runner, command);
        cli_error("config check: cannot run %s: %s", runner, strerror(errno));
        return EXIT_FAILURE_;
}

static int load(const struct check_args *args, struct config **ret_config)
{
        if (!args->file)
                return cli_load_config(ret_config);
        struct error err = {0};
        if (config_load(args->file, ret_config, &err) < 0) {
                cli_report(&err);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

static const char *path_shown(const struct check_args *args, const struct config *config)
{
        bool named;
        return config->path[0]
                   ? config->path
                   : config_choose_path(args->file ? args->file : cli_config_option(), &named);
}

/* The sections a target's values came from, most specific first: "instance, profile 1g.18gb". */
static void origins_cell(const struct config *config, const struct target_limits *limits,
                         char *buffer, size_t size)
{
        const struct config_origin *origins[] = {&limits->threads_from, &limits->pinned_from,
                                                 &limits->priority_from, &limits->server_from};
        static const enum config_scope order[] = {CONFIG_SCOPE_INSTANCE, CONFIG_SCOPE_PROFILE,
                                                  CONFIG_SCOPE_GPU, CONFIG_SCOPE_GLOBAL};
        buffer[0] = '\0';
        for (size_t o = 0; o < ELEMENTSOF(order); o++) {
                for (size_t i = 0; i < ELEMENTSOF(origins); i++) {
                        if (origins[i]->scope != order[o])
                                continue;
                        char text[INI_SECTION_MAX + 16] = "instance";
                        if (order[o] != CONFIG_SCOPE_INSTANCE)
                                limits_origin_text(config, origins[i], text, sizeof(text));
                        size_t used = strlen(buffer);
                        if (!strstr(buffer, text))
                                (void)snprintf(buffer + used, size - used, "%s%s", used ? ", " : "",
                                               text);
                }
        }
        if (!buffer[0])
                (void)snprintf(buffer, size, "-");
}

static void print_header(const struct check_args *args, const struct config *config,
                         const struct ops_context *context)
{
        size_t with_limits = 0;
        for (size_t i = 0; i < context->target_count; i++)
                with_limits += target_limits_any(&context->limits[i]);
        const char *topology = getenv(TOPOLOGY_MARK_ENV);
        printf("%s: %s; %zu target%s%s%s%s, %zu with limits\n", path_shown(args, config),
               config->path[0] ? "valid" : "absent (every target gets the driver's defaults)",
               context->target_count, context->target_count == 1 ? "" : "s",
               topology ? " (simgpu topology " : "", topology ? topology : "", topology ? ")" : "",
               with_limits);
        printf("daemons run as %s%s%s%s; layout %s in %s", config->user.set ? "user " : "root",
               config->user.set ? config->user.name : "", config->user.set ? ", group " : "",
               config->user.set ? config->group.name : "", layout_kind_name(context->layout.kind),
               context->layout.kind == LAYOUT_SEED ? LAYOUT_SEED_DIR : context->layout.runtime_dir);
        if (config->multiuser)
                printf("; multi-user (-M)");
        if (config->start_timeout_ms)
                printf("; start timeout %.4g s", config->start_timeout_ms / 1000.0);
        if (config->stop_timeout_ms)
                printf("; stop timeout %.4g s", config->stop_timeout_ms / 1000.0);
        printf("\n\n");
        for (size_t s = 0; s < config->section_count; s++) {
                const struct config_section *section = &config->sections[s];
                bool found = false;
                for (size_t i = 0; section->scope == CONFIG_SCOPE_PROFILE && !found &&
                                   i < context->node->mig_device_count;
                     i++)
                        found =
                            strcmp(context->node->mig_devices[i].profile, section->argument) == 0;
                if (section->scope == CONFIG_SCOPE_PROFILE && !found)
                        cli_error("note: %s:%u: [profile %s] matches no MIG device of this node",
                                  config->path, section->line, section->argument);
        }
}

static int print_table(const struct check_args *args, const struct config *config,
                       const struct ops_context *context)
{
        static const struct table_column columns[] = {
            {"TARGET", TABLE_LEFT},   {"UUID", TABLE_UUID},    {"PROFILE", TABLE_LEFT},
            {"THREADS", TABLE_RIGHT}, {"PINNED", TABLE_RIGHT}, {"PRIORITY", TABLE_RIGHT},
            {"SERVER", TABLE_LEFT},   {"FROM", TABLE_LEFT},
        };
        print_header(args, config, context);
        _cleanup_table_ struct table *table = table_new(columns, ELEMENTSOF(columns));
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < context->target_count; i++) {
                const struct target *target = &context->targets[i];
                const struct target_limits *limits = &context->limits[i];
                char name[32], cell[256];
                lifecycle_target_name(target, name, sizeof(name));
                table_cellf(table, "%s", name);
                table_cellf(table, "%s", target->uuid);
                table_cellf(table, "%s", target->mig_device ? target->mig_device->profile : "-");
                limits_cell_threads(limits->threads, cell, sizeof(cell));
                table_cellf(table, "%s", cell);
                limits_cell_pinned(limits->pinned_bytes, cell, sizeof(cell));
                table_cellf(table, "%s", cell);
                limits_cell_priority(limits->priority, cell, sizeof(cell));
                table_cellf(table, "%s", cell);
                table_cellf(table, "%s", limits->server ? limits->server_user : "-");
                origins_cell(config, limits, cell, sizeof(cell));
                table_cellf(table, "%s", cell);
        }
        return table_print(table, stdout);
}

static json_t *account_json(const struct config_account *account)
{
        return account->set ? json_pack("{s:o, s:I}", "name", json_text(account->name), "id",
                                        (json_int_t)account->id)
                            : json_null();
}

static json_t *names_json(const struct config_names *names)
{
        json_t *array = json_array();
        for (size_t i = 0; array && i < names->count; i++)
                if (json_array_append_new(array, json_text(names->names[i])) < 0) {
                        json_decref(array);
                        return NULL;
                }
        return array;
}

static json_t *timeout_json(int ms)
{
        return ms > 0 ? json_real(ms / 1000.0) : json_null();
}

static int print_json(const struct check_args *args, const struct config *config,
                      const struct ops_context *context)
{
        json_t *targets = json_array();
        for (size_t i = 0; targets && i < context->target_count; i++) {
                const struct target *target = &context->targets[i];
                json_t *item = lifecycle_target_json(target, &(struct layout_paths){0});
                if (!item ||
                    json_object_set_new(item, "profile",
                                        target->mig_device ? json_text(target->mig_device->profile)
                                                           : json_null()) < 0 ||
                    json_object_set_new(item, "limits",
                                        limits_asked_json(config, &context->limits[i])) < 0 ||
                    json_array_append_new(targets, item) < 0) {
                        json_decref(item);
                        json_decref(targets);
                        targets = NULL;
                }
        }
        json_t *unused = json_array();
        for (size_t s = 0; unused && s < config->section_count; s++) {
                const struct config_section *section = &config->sections[s];
                bool found = section->scope != CONFIG_SCOPE_PROFILE;
                for (size_t i = 0; !found && i < context->node->mig_device_count; i++)
                        found =
                            strcmp(context->node->mig_devices[i].profile, section->argument) == 0;
                if (!found && json_array_append_new(unused, json_text(section->argument)) < 0) {
                        json_decref(unused);
                        unused = NULL;
                }
        }
        json_t *settings = json_pack(
            "{s:o, s:s, s:b, s:o, s:o, s:o, s:o, s:b, s:o, s:o}", "runtime_dir",
            json_text(context->layout.runtime_dir), "layout",
            layout_kind_name(context->layout.kind), "whole_gpus",
            args->whole_gpus || config->whole_gpus, "include", names_json(&config->include),
            "exclude", names_json(&config->exclude), "user", account_json(&config->user), "group",
            account_json(&config->group), "multiuser", config->multiuser, "start_timeout_seconds",
            timeout_json(config->start_timeout_ms), "stop_timeout_seconds",
            timeout_json(config->stop_timeout_ms));
        const char *topology = getenv(TOPOLOGY_MARK_ENV);
        json_t *document =
            targets && unused && settings
                ? json_pack("{s:i, s:s, s:o, s:b, s:o, s:o, s:o, s:o}", "schema_version",
                            CONFIG_SCHEMA_VERSION, "verb", "config check", "path",
                            json_text(path_shown(args, config)), "exists", config->path[0] != 0,
                            "topology", json_text(topology), "settings", settings, "targets",
                            targets, "unused_profiles", unused)
                : NULL;
        if (!document) {
                if (!targets || !unused || !settings) {
                        json_decref(targets);
                        json_decref(unused);
                        json_decref(settings);
                }
                return -ENOMEM;
        }
        int r = output_json(document, stdout);
        json_decref(document);
        return r;
}

static int check(const struct check_args *args)
{
        _cleanup_config_ struct config *config = NULL;
        int status = load(args, &config);
        if (status != EXIT_OK)
                return status;
        struct ops_options options = {
            .layout_kind = config->layout,
            .runtime_dir = cli_runtime_dir(NULL, config),
            .whole_gpus = args->whole_gpus || config->whole_gpus,
            .config = config,
            .config_strict = true,
        };
        struct error err = {0};
        _cleanup_(ops_context_done) struct ops_context context = {0};
        if (ops_context_prepare(&options, &context, &err) < 0) {
                cli_report(&err);
                return EXIT_USAGE;
        }
        struct node *node = NULL;
        enum ops_failure failure;
        if (ops_read_node(&node, &failure, &err) < 0) {
                cli_report(&err);
                return failure == OPS_FAILURE_DRIVER ? EXIT_USAGE : EXIT_FAILURE_;
        }
        if (ops_context_resolve(&context, node, &err) < 0 ||
            ops_context_limits(&context, &err) < 0) {
                cli_report(&err);
                return err.code == -ENOMEM ? EXIT_FAILURE_ : EXIT_USAGE;
        }
        int r =
            args->json ? print_json(args, config, &context) : print_table(args, config, &context);
        if (r < 0) {
                cli_error("cannot write the report: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        return EXIT_OK;
}

static int config_run(int argc, char **argv)
{
        if (argc < 2)
                return cli_usage_error("config: give a subcommand: check");
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
                return cli_verb_help(&verb_config);
        if (strcmp(argv[1], "check") != 0)
                return cli_usage_error("config: unknown subcommand '%s' (the one there is: check)",
                                       argv[1]);
        enum { OPT_TOPOLOGY = 256, OPT_WHOLE, OPT_JSON, OPT_WIDE };
        static const struct option options[] = {
            {"topology", required_argument, NULL, OPT_TOPOLOGY},
            {"whole-gpus", no_argument, NULL, OPT_WHOLE},
            {"json", no_argument, NULL, OPT_JSON},
            {"wide", no_argument, NULL, OPT_WIDE},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct check_args args = {0};
        int c;
        optind = 0;
        while ((c = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
                switch (c) {
                case OPT_TOPOLOGY:
                        if (!optarg[0])
                                return cli_usage_error("config check: --topology needs a name");
                        args.topology = optarg;
                        break;
                case OPT_WHOLE:
                        args.whole_gpus = true;
                        break;
                case OPT_JSON:
                        args.json = true;
                        break;
                case OPT_WIDE:
                        output_set_wide(true);
                        break;
                case 'h':
                        return cli_verb_help(&verb_config);
                default:
                        return cli_option_error("config check", c, argv + 1);
                }
        }
        int first = optind + 1;
        if (first < argc)
                args.file = argv[first];
        if (first + 1 < argc)
                return cli_usage_error("config check: one file at most, got '%s' and '%s'",
                                       argv[first], argv[first + 1]);
        if (args.file && !args.file[0])
                return cli_usage_error("config check: the file name is empty");
        const char *mark = getenv(TOPOLOGY_MARK_ENV);
        if (args.topology && (!mark || strcmp(mark, args.topology) != 0))
                return exec_over_topology(args.topology, argc, argv);
        return check(&args);
}

const struct verb verb_config = {
    .name = "config",
    .summary = "Check a configuration file: mpsmig config check [FILE]",
    .usage = "Usage: mpsmig config check [FILE] [--topology NAME] [--whole-gpus] [--wide] "
             "[--json]\n"
             "\n"
             "Reads the configuration file as start would (FILE, else --config, else\n"
             "$MPSMIG_CONFIG, else /etc/mpsmig/mpsmig.conf), checks it against this node, and\n"
             "prints what each target gets: its active thread percentage, pinned memory\n"
             "limit (and what the control program will read back when it is not whole G),\n"
             "client priority, the user whose server is started ahead, and the sections these\n"
             "come from (the most specific wins: instance, profile, GPU, global). Nothing is\n"
             "started or changed. A bad file is reported as FILE:LINE: why. docs/config.md\n"
             "describes every key.\n"
             "\n"
             "Options:\n"
             "  --topology NAME      Check against a simgpu topology (a30-seed, h100x8-1g, or a\n"
             "                       JSON file) instead of this node: needs simgpu-run\n"
             "  --whole-gpus         Also target whole GPUs (as start --whole-gpus)\n"
             "  --wide               Show every UUID whole\n"
             "  --json               Print a JSON document (docs/json.md) instead of a table\n"
             "  -h, --help           Show this help\n"
             "\n"
             "Exit status: 0 the file is valid here (or absent), 1 NVML failed,\n"
             "2 usage error, bad configuration or no usable driver.\n",
    .run = config_run,
};
