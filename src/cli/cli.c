/* How the command line speaks: every message on stderr with the "mpsmig: " prefix, usage errors
 * with the same hint, and one reading of getopt_long's failures shared by all verbs. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void vreport(const char *format, va_list ap) __attribute__((format(printf, 1, 0)));
static void vreport(const char *format, va_list ap)
{
        fputs("mpsmig: ", stderr);
        vfprintf(stderr, format, ap);
        fputc('\n', stderr);
}

void cli_error(const char *format, ...)
{
        va_list ap;
        va_start(ap, format);
        vreport(format, ap);
        va_end(ap);
}

void cli_report(const struct error *err)
{
        char text[sizeof(err->message) + 8192];
        cli_error("%s", cli_error_text(err, text, sizeof(text)));
}

/* The verb whose options are being read: its usage errors point at its own help. */
static const char *usage_verb;

void cli_set_usage_verb(const char *verb)
{
        usage_verb = verb;
}

int cli_usage_error(const char *format, ...)
{
        va_list ap;
        va_start(ap, format);
        vreport(format, ap);
        va_end(ap);
        if (usage_verb)
                fprintf(stderr, "Try 'mpsmig help %s'.\n", usage_verb);
        else
                fputs("Try 'mpsmig --help'.\n", stderr);
        return EXIT_USAGE;
}

/* After a failed getopt_long: was the offending option a long one ("--x", "--x=y")? It is in
 * argv[optind - 1] when it was long; a short option inside a cluster ("-ab") leaves optind on
 * the cluster, so argv[optind - 1] is the argument before it and must not be blamed. */
static bool failed_option_is_long(char *const *argv)
{
        const char *previous = argv[optind - 1];
        if (strncmp(previous, "--", 2) != 0 || previous[2] == '\0')
                return false;
        const char *current = argv[optind];
        if (optopt != 0 && current && current[0] == '-' && current[1] != '-' &&
            strchr(current + 1, optopt))
                return false;
        return true;
}

int cli_option_error(const char *verb, int c, char *const *argv)
{
        char name[128];
        bool has_value = false;
        if (optind > 0 && failed_option_is_long(argv)) {
                const char *option = argv[optind - 1];
                size_t length = strcspn(option, "=");
                has_value = option[length] == '=';
                (void)snprintf(name, sizeof(name), "%.*s", (int)length, option);
        } else {
                (void)snprintf(name, sizeof(name), "-%c", optopt);
        }

        const char *what = "unknown option";
        if (c == ':')
                what = "option needs an argument:";
        else if (has_value && optopt != 0)
                what = "option takes no argument:";
        if (verb)
                return cli_usage_error("%s: %s '%s'", verb, what, name);
        return cli_usage_error("%s '%s'", what, name);
}

int cli_verb_help(const struct verb *verb)
{
        fputs(verb->usage, stdout);
        return EXIT_OK;
}
