/* mpsmig-probe's command line: parses the options, loads the driver, runs the probe, prints the
 * report, holds its contexts open for --hold seconds, and exits 0 (all worked), 1 (a CUDA call
 * failed or the kernel was wrong), 2 (usage, or no usable libcuda) or 3 (--alloc was refused). */
#include "probe.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRAM          "mpsmig-probe"
#define HOLD_SECONDS_MAX 604800.0 /* a week */

enum exit_status { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_ALLOC_REFUSED = 3 };

static void print_help(void)
{
        printf("Usage: " PROGRAM " [--device N] [--alloc SIZE] [--work KERNELS [--spin CYCLES]\n"
               "                    [--start-at SECONDS]] [--hold SECONDS] [--json]\n"
               "Reports what the CUDA driver shows this process: the driver version, and per\n"
               "device its name, UUID, SM count and memory, and whether a small kernel ran\n"
               "correctly. Under MPS the SM count reflects the active thread percentage.\n"
               "\n"
               "  --device N       probe only device N (default: every visible device)\n"
               "  --alloc SIZE     try one allocation of SIZE (1024, 512M, 3G) on each device;\n"
               "                   exit 3 when the driver refuses it with out-of-memory\n"
               "  --work KERNELS   on the first device, launch KERNELS kernels of 8 blocks of\n"
               "                   128 threads that each wait --spin cycles, and time them\n"
               "  --spin CYCLES    cycles each work kernel waits (default 1000000)\n"
               "  --start-at SECONDS  begin the work at this CLOCK_MONOTONIC time, so that\n"
               "                   several clients start together\n"
               "  --hold SECONDS   keep the contexts alive that long before exiting, so that\n"
               "                   MPS client lists show this process\n"
               "  --json           print one JSON object instead of key: value lines\n"
               "  --help, --version\n"
               "\n"
               "MPSMIG_CUDA_LIBRARY names the driver library to load (default libcuda.so.1).\n"
               "Exit status: 0 all worked, 1 a CUDA call failed, 2 usage or no driver,\n"
               "3 the --alloc allocation was refused.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, PROGRAM ": ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '" PROGRAM " --help'.\n");
        return EXIT_USAGE;
}

/* 1024, 512M, 3G, 3GiB, 2GB: binary units. */
static int parse_size(const char *text, unsigned long long *ret)
{
        static const char units[] = "KMGT";
        unsigned long long value, unit = 1;
        const char *u;
        char *end;

        if (*text < '0' || *text > '9')
                return -EINVAL;
        errno = 0;
        value = strtoull(text, &end, 10);
        if (errno != 0)
                return -EINVAL;
        if (*end) {
                u = strchr(units, *end >= 'a' ? *end - 'a' + 'A' : *end);
                if (!u || !*u)
                        return -EINVAL;
                unit = 1ull << (10 * (u - units + 1));
                end++;
                if (strcmp(end, "") != 0 && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0)
                        return -EINVAL;
        }
        if (value == 0 || value > ULLONG_MAX / unit)
                return -EINVAL;
        *ret = value * unit;
        return 0;
}

static int parse_options(int argc, char **argv, struct probe_options *options)
{
        static const struct option long_options[] = {
            {"alloc", required_argument, NULL, 'a'},    {"device", required_argument, NULL, 'd'},
            {"hold", required_argument, NULL, 'H'},     {"json", no_argument, NULL, 'j'},
            {"work", required_argument, NULL, 'w'},     {"spin", required_argument, NULL, 's'},
            {"start-at", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},        {},
        };
        unsigned long long number;
        bool spin_given = false;
        char *end;
        long device;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
                switch (c) {
                case 'a':
                        if (parse_size(optarg, &options->alloc_bytes) < 0)
                                return usage_error("--alloc wants a size like 1024, 512M or 3G, "
                                                   "not '%s'",
                                                   optarg);
                        options->alloc = true;
                        break;
                case 'd':
                        errno = 0;
                        device = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || device < 0 || device > INT_MAX)
                                return usage_error("--device wants a device number, not '%s'",
                                                   optarg);
                        options->device = (int)device;
                        break;
                case 'H':
                        errno = 0;
                        options->hold_seconds = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !isfinite(options->hold_seconds) ||
                            options->hold_seconds < 0 || options->hold_seconds > HOLD_SECONDS_MAX)
                                return usage_error("--hold wants seconds between 0 and 604800, "
                                                   "not '%s'",
                                                   optarg);
                        break;
                case 'j':
                        options->json = true;
                        break;
                case 'w':
                        errno = 0;
                        number = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || *optarg == '-' || number == 0 ||
                            number > PROBE_WORK_KERNELS_MAX)
                                return usage_error("--work wants a number of kernels between 1 "
                                                   "and %u, not '%s'",
                                                   PROBE_WORK_KERNELS_MAX, optarg);
                        options->work_kernels = (unsigned)number;
                        break;
                case 's':
                        errno = 0;
                        number = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || *optarg == '-' || number == 0 ||
                            number > PROBE_SPIN_CYCLES_MAX)
                                return usage_error("--spin wants cycles between 1 and %llu, not "
                                                   "'%s'",
                                                   PROBE_SPIN_CYCLES_MAX, optarg);
                        options->spin_cycles = number;
                        spin_given = true;
                        break;
                case 't':
                        errno = 0;
                        options->start_at = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !isfinite(options->start_at) ||
                            options->start_at < 0)
                                return usage_error("--start-at wants CLOCK_MONOTONIC seconds, not "
                                                   "'%s'",
                                                   optarg);
                        break;
                case 'h':
                        print_help();
                        exit(EXIT_OK);
                case 'V':
                        printf(PROGRAM " %s\n", MPSMIG_VERSION);
                        exit(EXIT_OK);
                default:
                        if (optopt && strchr("adHwst", optopt))
                                return usage_error("option '%s' needs a value", argv[optind - 1]);
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        if (!options->work_kernels && (spin_given || options->start_at >= 0))
                return usage_error("--spin and --start-at go with --work");
        return EXIT_OK;
}

/* Sleeps until a CLOCK_MONOTONIC deadline, through signals that do not end the process. */
static void hold(double seconds)
{
        struct timespec deadline;

        if (seconds <= 0)
                return;
        (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)seconds;
        deadline.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
                ;
}

int main(int argc, char **argv)
{
        struct probe_options options = {
            .device = -1, .spin_cycles = PROBE_SPIN_CYCLES_DEFAULT, .start_at = -1};
        struct probe_report report = {0};
        struct cuda_api api;
        char why[1024];
        bool failed_before_release;
        int status;

        status = parse_options(argc, argv, &options);
        if (status != EXIT_OK)
                return status;
        if (cuda_api_load(&api, why, sizeof(why)) < 0) {
                fprintf(stderr, PROGRAM ": %s\n", why);
                return EXIT_USAGE;
        }
        probe_run(&api, &options, &report);
        if (options.json)
                report_print_json(&report, &options);
        else
                report_print_text(&report, &options);
        (void)fflush(stdout);
        if (report.failed) {
                fprintf(stderr, PROGRAM ": %s\n", report.error);
        } else {
                if (report.alloc_refused)
                        fprintf(stderr,
                                PROGRAM ": the allocation of %llu bytes was refused: "
                                        "CUDA_ERROR_OUT_OF_MEMORY\n",
                                options.alloc_bytes);
                hold(options.hold_seconds);
        }
        failed_before_release = report.failed;
        probe_release(&api, &report);
        if (report.failed && !failed_before_release)
                fprintf(stderr, PROGRAM ": %s\n", report.error);
        cuda_api_unload(&api);
        if (report.failed)
                return EXIT_FAILED;
        return report.alloc_refused ? EXIT_ALLOC_REFUSED : EXIT_OK;
}
