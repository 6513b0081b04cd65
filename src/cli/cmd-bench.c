/* `mpsmig bench`: what MPS gains on one target, as a table or JSON: aggregate throughput of N
 * clients through MPS and time-sliced, the speed-up, the efficiency against N times one client
 * alone, the first client's start-up with a server started lazily or ahead, and a plot. */
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
#include "cli/output.h"
#include "driver/probe_client.h"
#include "node/target_name.h"
#include "ops/bench.h"

#define BENCH_SCHEMA_VERSION 1
#define KERNELS_MAX          100000
#define SPIN_MAX             10000000000ULL

static const unsigned clients_default[] = {1, 2, 4, 8};

struct bench_args {
        struct lifecycle_args lifecycle;
        unsigned clients[BENCH_CLIENTS_MAX];
        size_t client_count;
        unsigned kernels;
        unsigned long long spin;
        bool startup;
        const char *plot;
};

static void bench_args_done(struct bench_args *args)
{
        lifecycle_args_done(&args->lifecycle);
}

static int parse_unsigned(const char *text, unsigned long long max, unsigned long long *ret)
{
        char *end = NULL;
        if (!text[0] || text[0] == '-' || text[0] == '+')
                return -EINVAL;
        errno = 0;
        unsigned long long value = strtoull(text, &end, 10);
        if (errno || *end || value == 0 || value > max)
                return -EINVAL;
        *ret = value;
        return 0;
}

/* "1,2,4" added to the list, kept sorted and without repeats. */
static int add_clients(struct bench_args *args, const char *text)
{
        size_t length = strlen(text);
        /* strtok_r would skip the empty items of "1,,2" and "1," */
        if (length == 0 || text[0] == ',' || text[length - 1] == ',' || strstr(text, ",,"))
                return -EINVAL;
        _cleanup_free_ char *copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *word = strtok_r(copy, ",", &save); word; word = strtok_r(NULL, ",", &save)) {
                unsigned long long n;
                if (parse_unsigned(word, BENCH_CLIENTS_MAX, &n) < 0)
                        return -EINVAL;
                size_t at = 0;
                while (at < args->client_count && args->clients[at] < n)
                        at++;
                if (at < args->client_count && args->clients[at] == n)
                        continue;
                memmove(args->clients + at + 1, args->clients + at,
                        (args->client_count - at) * sizeof(args->clients[0]));
                args->clients[at] = (unsigned)n;
                args->client_count++;
        }
        return 0;
}

static int parse_args(int argc, char **argv, struct bench_args *args)
{
        enum {
                OPT_WHOLE = 256,
                OPT_LAYOUT,
                OPT_RUNTIME,
                OPT_JSON,
                OPT_WIDE,
                OPT_CLIENTS,
                OPT_KERNELS,
                OPT_SPIN,
                OPT_NO_STARTUP,
                OPT_PLOT
        };
        static const struct option options[] = {
            {"whole-gpus", no_argument, NULL, OPT_WHOLE},
            {"layout", required_argument, NULL, OPT_LAYOUT},
            {"runtime-dir", required_argument, NULL, OPT_RUNTIME},
            {"json", no_argument, NULL, OPT_JSON},
            {"wide", no_argument, NULL, OPT_WIDE},
            {"clients", required_argument, NULL, OPT_CLIENTS},
            {"kernels", required_argument, NULL, OPT_KERNELS},
            {"spin", required_argument, NULL, OPT_SPIN},
            {"no-startup", no_argument, NULL, OPT_NO_STARTUP},
            {"plot", required_argument, NULL, OPT_PLOT},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        *args = (struct bench_args){
            .lifecycle = {.options = {.layout_kind = LAYOUT_DEFAULT}},
            .kernels = BENCH_KERNELS_DEFAULT,
            .spin = BENCH_SPIN_DEFAULT,
            .startup = true,
        };
        unsigned long long number;
        bool layout_given = false;
        int c;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case OPT_WHOLE:
                        args->lifecycle.options.whole_gpus = true;
                        break;
                case OPT_LAYOUT:
                        if (layout_kind_parse(optarg, &args->lifecycle.options.layout_kind) < 0)
                                return cli_usage_error("bench: --layout takes 'default' or "
                                                       "'seed', not '%s'",
                                                       optarg);
                        layout_given = true;
                        break;
                case OPT_RUNTIME:
                        if (!optarg[0])
                                return cli_usage_error("bench: --runtime-dir needs a folder");
                        args->lifecycle.options.runtime_dir = optarg;
                        break;
                case OPT_JSON:
                        args->lifecycle.json = true;
                        break;
                case OPT_WIDE:
                        output_set_wide(true);
                        break;
                case OPT_CLIENTS:
                        if (add_clients(args, optarg) < 0)
                                return cli_usage_error("bench: --clients takes numbers of "
                                                       "clients from 1 to %d separated by commas "
                                                       "(1,2,4,8), not '%s'",
                                                       BENCH_CLIENTS_MAX, optarg);
                        break;
                case OPT_KERNELS:
                        if (parse_unsigned(optarg, KERNELS_MAX, &number) < 0)
                                return cli_usage_error("bench: --kernels takes a number from 1 to "
                                                       "%d, not '%s'",
                                                       KERNELS_MAX, optarg);
                        args->kernels = (unsigned)number;
                        break;
                case OPT_SPIN:
                        if (parse_unsigned(optarg, SPIN_MAX, &args->spin) < 0)
                                return cli_usage_error("bench: --spin takes cycles from 1 to "
                                                       "%llu, not '%s'",
                                                       SPIN_MAX, optarg);
                        break;
                case OPT_NO_STARTUP:
                        args->startup = false;
                        break;
                case OPT_PLOT:
                        if (!optarg[0])
                                return cli_usage_error("bench: --plot needs a file name");
                        args->plot = optarg;
                        break;
                case 'h':
                        return cli_verb_help(&verb_bench);
                default:
                        return cli_option_error("bench", c, argv);
                }
        }
        if (argc - optind > 1)
                return cli_usage_error("bench: one TARGET at most, got %d", argc - optind);
        args->lifecycle.options.names = argv + optind;
        args->lifecycle.options.name_count = (size_t)(argc - optind);
        if (args->client_count == 0) {
                memcpy(args->clients, clients_default, sizeof(clients_default));
                args->client_count = ELEMENTSOF(clients_default);
        }
        int status = cli_load_config(&args->lifecycle.config);
        if (status != EXIT_OK)
                return status;
        lifecycle_apply_config(&verb_bench, layout_given, &args->lifecycle);
        cli_set_hint_folders(args->lifecycle.options.layout_kind,
                             args->lifecycle.options.runtime_dir);
        return -1;
}

static double speedup(const struct bench_report *report, size_t i)
{
        return report->mps[i].makespan > 0 ? report->sliced[i].makespan / report->mps[i].makespan
                                           : 0;
}

static double efficiency(const struct bench_report *report, size_t i)
{
        double ideal = report->solo_rate * report->mps[i].clients;
        return ideal > 0 ? report->mps[i].throughput / ideal : 0;
}

static int print_text(const struct ops_context *context, const struct bench_report *report)
{
        static const struct table_column columns[] = {
            {"N", TABLE_RIGHT},          {"MPS", TABLE_RIGHT},        {"TIME-SLICED", TABLE_RIGHT},
            {"MPS K/S", TABLE_RIGHT},    {"SLICED K/S", TABLE_RIGHT}, {"SPEED-UP", TABLE_RIGHT},
            {"EFFICIENCY", TABLE_RIGHT},
        };
        char name[32];
        lifecycle_target_name(report->target, name, sizeof(name));
        printf("bench on %s %s (%s), driver %s: %u kernels of 8x128 threads a client, %llu "
               "cycles each%s\n",
               name, report->target->uuid, target_kind_string(report->target->kind),
               context->node->driver_version, report->kernels, report->spin_cycles,
               report->timings_simulated ? "; timings SIMULATED by simgpu, not measured" : "");
        printf("one client alone: %.3f s, %.0f kernels/s\n\n", report->solo_seconds,
               report->solo_rate);
        _cleanup_table_ struct table *table = table_new(columns, ELEMENTSOF(columns));
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < report->count; i++) {
                const struct bench_point *mps = &report->mps[i], *sliced = &report->sliced[i];
                table_cellf(table, "%u", mps->clients);
                table_cellf(table, "%.3f s", mps->makespan);
                table_cellf(table, "%.3f s", sliced->makespan);
                table_cellf(table, "%.0f", mps->throughput);
                table_cellf(table, "%.0f", sliced->throughput);
                table_cellf(table, "%.2fx", speedup(report, i));
                table_cellf(table, "%.1f %%", 100 * efficiency(report, i));
        }
        int r = table_print(table, stdout);
        if (r < 0)
                return r;
        printf("\nMPS and TIME-SLICED: from the first client's first kernel to the last one's "
               "end; K/S: kernels a second, all clients;\nEFFICIENCY: MPS throughput against N "
               "times one client alone.\n");
        for (size_t i = 0; i < report->count; i++)
                for (int pass = 0; pass < 2; pass++) {
                        const struct bench_point *p = pass ? &report->sliced[i] : &report->mps[i];
                        if (p->latest_start > BENCH_LATE_SHARE * p->makespan)
                                printf("N = %u %s: a client began %.3f s after the others%s: "
                                       "the clients did not all work at once\n",
                                       p->clients, pass ? "time-sliced" : "through MPS",
                                       p->latest_start,
                                       p->retried ? ", also when measured again" : "");
                }
        if (report->startup_measured)
                printf("first client's start-up (cuInit to its first kernel): server started "
                       "lazily %.3f s, started ahead %.3f s, without MPS %.3f s\n",
                       report->startup_lazy, report->startup_ahead, report->startup_sliced);
        else
                printf("first client's start-up: %s\n", report->startup_note);
        return 0;
}

/* A figure rounded to what the clocks behind it say: microseconds, or 4 significant places of a
 * ratio (0.9561, not 0.956103287...). */
static double rounded(double value, double unit)
{
        return (double)(long long)(value / unit + (value < 0 ? -0.5 : 0.5)) * unit;
}

static json_t *point_json(const struct bench_point *point)
{
        return json_pack("{s:f, s:f, s:I, s:f, s:b, s:o}", "seconds",
                         rounded(point->makespan, 1e-6), "kernels_per_second",
                         rounded(point->throughput, 0.1), "failed", (json_int_t)point->failed,
                         "latest_start_seconds", rounded(point->latest_start, 1e-6), "retried",
                         point->retried, "error", json_text(point->failed ? point->error : NULL));
}

static int print_json(const struct ops_context *context, const struct bench_report *report)
{
        json_t *points = json_array();
        for (size_t i = 0; points && i < report->count; i++) {
                json_t *item = json_pack(
                    "{s:i, s:o, s:o, s:f, s:f}", "clients", (int)report->mps[i].clients, "mps",
                    point_json(&report->mps[i]), "time_sliced", point_json(&report->sliced[i]),
                    "speedup", rounded(speedup(report, i), 1e-4), "efficiency",
                    rounded(efficiency(report, i), 1e-4));
                if (!item || json_array_append_new(points, item) < 0) {
                        json_decref(points);
                        points = NULL;
                }
        }
        json_t *startup =
            report->startup_measured
                ? json_pack("{s:f, s:f, s:f, s:n}", "lazy_seconds",
                            rounded(report->startup_lazy, 1e-6), "ahead_seconds",
                            rounded(report->startup_ahead, 1e-6), "without_mps_seconds",
                            rounded(report->startup_sliced, 1e-6), "note")
                : json_pack("{s:n, s:n, s:n, s:o}", "lazy_seconds", "ahead_seconds",
                            "without_mps_seconds", "note", json_text(report->startup_note));
        json_t *document =
            json_pack("{s:i, s:s, s:o, s:s, s:s, s:I, s:I, s:i, s:i, s:{s:f, s:f}, s:o, s:o}",
                      "schema_version", BENCH_SCHEMA_VERSION, "verb", "bench", "target",
                      lifecycle_target_json(report->target, &report->paths), "driver_version",
                      context->node->driver_version, "timings",
                      report->timings_simulated ? "simulated" : "real", "kernels",
                      (json_int_t)report->kernels, "spin_cycles", (json_int_t)report->spin_cycles,
                      "blocks", 8, "threads_per_block", 128, "solo", "seconds",
                      rounded(report->solo_seconds, 1e-6), "kernels_per_second",
                      rounded(report->solo_rate, 0.1), "points", points, "startup", startup);
        if (!document)
                return -ENOMEM;
        int r = output_json(document, stdout);
        json_decref(document);
        return r;
}

static int bench_run_verb(int argc, char **argv)
{
        _cleanup_(bench_args_done) struct bench_args args = {0};
        int status = parse_args(argc, argv, &args);
        if (status >= 0)
                return status;
        struct lifecycle_args *lifecycle = &args.lifecycle;
        /* Without a TARGET: the first target whose daemon runs, whole GPUs with folders of the
         * layout included, as status sees them. */
        bool sweep_whole_gpus =
            lifecycle->options.name_count == 0 && !lifecycle->options.whole_gpus;
        if (sweep_whole_gpus)
                lifecycle->options.whole_gpus = true;
        _cleanup_(ops_context_done) struct ops_context context = {0};
        status = lifecycle_open(lifecycle, &context);
        if (status != EXIT_OK)
                return status;
        if (sweep_whole_gpus)
                ops_stop_keep_used_whole_gpus(&context);
        if (context.target_count == 0) {
                cli_error("no MPS target to benchmark: start a daemon first (`mpsmig start`)");
                return EXIT_FAILURE_;
        }
        if (lifecycle->options.name_count == 1 && context.target_count != 1) {
                cli_error("bench: '%s' names %zu targets: name one", lifecycle->options.names[0],
                          context.target_count);
                return EXIT_USAGE;
        }
        struct error err = {0};
        _cleanup_free_ char *probe = NULL;
        if (probe_find(&probe, &err) < 0) {
                cli_report(&err);
                return EXIT_FAILURE_;
        }
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
                cli_error("cannot find this program's own path in /proc/self/exe: %s",
                          strerror(errno));
                return EXIT_FAILURE_;
        }
        self[n] = '\0';
        struct bench_options options = {
            .self_path = self,
            .probe_path = probe,
            .kernels = args.kernels,
            .spin_cycles = args.spin,
            .clients = args.clients,
            .client_count = args.client_count,
            .startup = args.startup,
        };
        _cleanup_(bench_report_done) struct bench_report report = {0};
        if (ops_bench(&context, &options, &report, &err) < 0) {
                cli_report(&err);
                return EXIT_FAILURE_;
        }
        int r = lifecycle->json ? print_json(&context, &report) : print_text(&context, &report);
        if (r < 0) {
                cli_error("cannot write the results: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        size_t failed = 0;
        for (size_t i = 0; i < report.count; i++) {
                failed += report.mps[i].failed + report.sliced[i].failed;
                if (report.mps[i].failed)
                        cli_error("%u clients through MPS: %zu failed: %s", report.mps[i].clients,
                                  report.mps[i].failed, report.mps[i].error);
                if (report.sliced[i].failed)
                        cli_error("%u time-sliced clients: %zu failed: %s",
                                  report.sliced[i].clients, report.sliced[i].failed,
                                  report.sliced[i].error);
        }
        if (args.plot) {
                bool script_only = false;
                if (bench_plot(&report, args.plot, &script_only, &err) < 0) {
                        cli_report(&err);
                        return EXIT_FAILURE_;
                }
                if (script_only)
                        cli_error("gnuplot is not installed: wrote the plot's script to %s.gp "
                                  "(`gnuplot %s.gp` draws %s where gnuplot is)",
                                  args.plot, args.plot, args.plot);
        }
        return failed ? EXIT_FAILURE_ : EXIT_OK;
}

const struct verb verb_bench = {
    .name = "bench",
    .summary = "Measure what MPS gains on a target: throughput with and without MPS",
    .usage = "Usage: mpsmig bench [--clients N,N...] [--kernels K] [--spin CYCLES] [--no-startup]\n"
             "                    [--plot FILE] [--layout KIND] [--runtime-dir DIR]\n"
             "                    [--whole-gpus] [--json] [TARGET]\n"
             "\n"
             "Runs N clients (mpsmig-probe) at once, each launching K kernels of 8\n"
             "blocks of 128 threads that wait CYCLES cycles: through `mpsmig run` on the\n"
             "target's daemon, then the same N with no daemon (time-sliced), and one client\n"
             "alone. Shows each N's makespan and aggregate throughput, the speed-up of MPS\n"
             "over time-slicing, and its efficiency against N times one client alone; then\n"
             "the first client's start-up with the server started lazily and ahead\n"
             "(start_server; it shuts the daemon's idle servers down for that, and skips it\n"
             "when they serve clients). Over simgpu the timings are simulated, and it says\n"
             "so. The target's daemon must run (`mpsmig start`); without TARGET, the first\n"
             "target whose daemon runs.\n"
             "\n"
             "Options:\n"
             "  --clients N,N...     numbers of clients at once, 1 to 48 (default 1,2,4,8;\n"
             "                       may be repeated)\n"
             "  --kernels K          kernels per client (default 400)\n"
             "  --spin CYCLES        cycles each kernel waits (default 1000000: 400 kernels\n"
             "                       take about 0.2 s on an H100 or H200)\n"
             "  --no-startup         do not measure the start-up (leaves the servers alone)\n"
             "  --plot FILE          draw throughput against N into FILE (SVG) with gnuplot;\n"
             "                       without gnuplot, write its script to "
             "FILE.gp\n" LIFECYCLE_OPTIONS_HELP LIFECYCLE_HELP_OPTION "\n"
             "Exit status: 0 every client ran, 1 a client failed or the daemon does not run,\n"
             "2 usage error, unknown target or no usable driver.\n",
    .run = bench_run_verb,
};
