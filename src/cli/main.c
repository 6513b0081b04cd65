/* mpsmig's entry point: global options, then one verb from the table below runs with the rest of
 * the command line. Adding a verb is one line in `verbs` and one extern in cli.h. */
#include <errno.h>
#include <getopt.h>
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
};
/* clang-format on */

static const struct verb *verb_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i]->name, name) == 0)
                        return verbs[i];
        return NULL;
}

static int print_help(void)
{
        printf("Usage: mpsmig [-h|--help] [-V|--version] VERB [ARGS...]\n"
               "\n"
               "Runs one NVIDIA MPS control daemon per MIG device (and per whole GPU when asked).\n"
               "\n"
               "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-8s %s\n", verbs[i]->name, verbs[i]->summary);
        printf("  %-8s %s\n", "help", "Show this help, or a verb's: mpsmig help VERB");
        printf("\n"
               "Options:\n"
               "  -h, --help     Show this help\n"
               "  -V, --version  Show the version\n"
               "\n"
               "Exit status: 0 success, 1 failure, 2 usage error or no usable NVIDIA driver,\n"
               "3 (status) some daemon is not running.\n");
        return EXIT_OK;
}

static int run_help(int argc, char **argv)
{
        if (argc == 1)
                return print_help();
        if (argc > 2)
                return cli_usage_error("help: one verb at most, got %d", argc - 1);
        const struct verb *verb = verb_find(argv[1]);
        if (!verb)
                return cli_usage_error("help: unknown verb '%s'", argv[1]);
        return cli_verb_help(verb);
}

static int run_verb(int argc, char **argv)
{
        if (strcmp(argv[0], "help") == 0)
                return run_help(argc, argv);
        const struct verb *verb = verb_find(argv[0]);
        if (!verb)
                return cli_usage_error("unknown verb '%s'", argv[0]);
        optind = 0; /* glibc: a full reset, so the verb's getopt_long starts afresh at argv[1] */
        return verb->run(argc, argv);
}

static int run_command_line(int argc, char **argv)
{
        static const struct option options[] = {
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {0},
        };
        opterr = 0; /* every getopt failure is reported by cli_option_error, in our words */
        int c;
        while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        return print_help();
                case 'V':
                        printf("mpsmig %s\n", MPSMIG_VERSION);
                        return EXIT_OK;
                default:
                        return cli_option_error(NULL, c, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error("missing verb");
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
