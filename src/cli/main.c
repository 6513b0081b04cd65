/* mpsmig's entry point: global options, then one verb from the table below runs with the rest of
 * the command line. Adding a verb is one line in `verbs` and one extern in cli.h. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli/cli.h"

/* In the order `mpsmig --help` lists them. */
/* clang-format off */
static const struct verb *const verbs[] = {
        &verb_list,
        &verb_start,
        &verb_stop,
        &verb_status,
        &verb_env,
        &verb_run,
        &verb_set,
        &verb_config,
        &verb_doctor,
        &verb_bench,
        &verb_daemon,
};
/* clang-format on */

static const struct verb *verb_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i]->name, name) == 0)
                        return verbs[i];
        return NULL;
}

/* Edit distance of two short words, a swap of neighbours counting as one edit ("stauts" is one
 * from "status", two from "start"); words longer than any verb count as far. */
static size_t edit_distance(const char *a, const char *b)
{
        enum { MAX_WORD = 32 };
        size_t la = strlen(a), lb = strlen(b);
        if (la >= MAX_WORD || lb >= MAX_WORD)
                return SIZE_MAX;
        size_t d[MAX_WORD + 1][MAX_WORD + 1];
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++) {
                for (size_t j = 1; j <= lb; j++) {
                        size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
                        if (d[i - 1][j] + 1 < best)
                                best = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < best)
                                best = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                            d[i - 2][j - 2] + 1 < best)
                                best = d[i - 2][j - 2] + 1;
                        d[i][j] = best;
                }
        }
        return d[la][lb];
}

/* The verb a mistyped name most likely meant (`stauts`, `stat`): at most 2 edits away, and
 * fewer edits than the name is long, so that `x` suggests nothing. NULL when none is close. */
static const char *verb_suggest(const char *name)
{
        const char *best = NULL;
        size_t best_distance = 3;
        for (size_t i = 0; i <= ELEMENTSOF(verbs); i++) {
                const char *candidate = i < ELEMENTSOF(verbs) ? verbs[i]->name : "help";
                size_t d = edit_distance(name, candidate);
                if (d < best_distance && d < strlen(name)) {
                        best = candidate;
                        best_distance = d;
                }
        }
        return best;
}

static int unknown_verb(const char *context, const char *name)
{
        const char *guess = verb_suggest(name);
        if (guess)
                return cli_usage_error("%sunknown verb '%s'; did you mean '%s'?", context, name,
                                       guess);
        return cli_usage_error("%sunknown verb '%s'", context, name);
}

/* On stdout when asked for; on stderr, after a usage error's line, when no verb was given. */
static void print_help(FILE *out)
{
        fprintf(out, "Usage: mpsmig [-h|--help] [-V|--version] [--config FILE] VERB [ARGS...]\n"
                     "\n"
                     "Runs one NVIDIA MPS control daemon per MIG device (and per whole GPU when "
                     "asked).\n"
                     "\n"
                     "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(out, "  %-8s %s\n", verbs[i]->name, verbs[i]->summary);
        fprintf(out, "  %-8s %s\n", "help", "Show this help, or a verb's: mpsmig help VERB");
        fprintf(out, "\n"
                     "Options:\n"
                     "  -h, --help     Show this help\n"
                     "  -V, --version  Show the version\n"
                     "  --config FILE  The configuration file (default: $MPSMIG_CONFIG, else\n"
                     "                 /etc/mpsmig/mpsmig.conf when it exists; docs/config.md)\n"
                     "\n"
                     "Exit status: 0 success, 1 failure, 2 usage error, bad configuration or no "
                     "usable\nNVIDIA driver, "
                     "3 (status) some daemon is not running.\n");
}

static const char help_usage[] =
    "Usage: mpsmig help [VERB]\n"
    "\n"
    "Without VERB, shows the verb list (as mpsmig --help does); with VERB, shows that verb's\n"
    "usage, options and exit status (as mpsmig VERB --help does).\n"
    "\n"
    "Exit status: 0 success, 2 unknown verb.\n";

static int run_help(int argc, char **argv)
{
        if (argc == 1) {
                print_help(stdout);
                return EXIT_OK;
        }
        if (argc > 2)
                return cli_usage_error("help: one verb at most, got %d", argc - 1);
        if (strcmp(argv[1], "help") == 0) {
                fputs(help_usage, stdout);
                return EXIT_OK;
        }
        const struct verb *verb = verb_find(argv[1]);
        if (!verb)
                return unknown_verb("help: ", argv[1]);
        return cli_verb_help(verb);
}

static int run_verb(int argc, char **argv)
{
        if (strcmp(argv[0], "help") == 0)
                return run_help(argc, argv);
        const struct verb *verb = verb_find(argv[0]);
        if (!verb)
                return unknown_verb("", argv[0]);
        optind = 0; /* glibc: a full reset, so the verb's getopt_long starts afresh at argv[1] */
        cli_set_usage_verb(verb->name);
        return verb->run(argc, argv);
}

static int run_command_line(int argc, char **argv)
{
        static const struct option options[] = {
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {"config", required_argument, NULL, 'c'},
            {0},
        };
        opterr = 0; /* every getopt failure is reported by cli_option_error, in our words */
        int c;
        while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        print_help(stdout);
                        return EXIT_OK;
                case 'V':
                        printf("mpsmig %s\n", MPSMIG_VERSION);
                        return EXIT_OK;
                case 'c':
                        if (!optarg[0])
                                return cli_usage_error("--config needs a file");
                        cli_set_config_option(optarg);
                        break;
                default:
                        return cli_option_error(NULL, c, argv);
                }
        }
        /* No verb: the list of them is the most useful answer, but a script that forgot its verb
         * must not look successful, so it goes to stderr with exit status 2. */
        if (optind >= argc) {
                fputs("mpsmig: missing verb\n", stderr);
                print_help(stderr);
                return EXIT_USAGE;
        }
        return run_verb(argc - optind, argv + optind);
}

int main(int argc, char **argv)
{
        int status = run_command_line(argc, argv);
        /* Data that never reached stdout (a full disk, a closed pipe) is a failure. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                cli_error("cannot write the output: %s", strerror(errno ? errno : EIO));
                return status == EXIT_OK ? EXIT_FAILURE_ : status;
        }
        return status;
}
