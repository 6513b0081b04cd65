/* The command line's shared pieces: the verb table entry each cmd-<verb>.c exports, and the
 * helpers every verb uses to report errors the same way. Only cli/ prints or exits. */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "ops/config.h"

/* Exit codes, documented in README.md and docs/cli.md. */
enum {
        EXIT_OK = 0,
        EXIT_FAILURE_ = 1, /* an operation failed */
        EXIT_USAGE = 2,    /* bad usage, bad config, no driver */
        EXIT_DOWN = 3,     /* status: some daemon is not running */
};

struct verb {
        const char *name;
        const char *summary; /* one line for `mpsmig --help` */
        const char *usage;   /* full text for `mpsmig help VERB` and `mpsmig VERB --help` */
        /* argv[0] is the verb name; getopt state is reset before the call. Returns an exit code. */
        int (*run)(int argc, char **argv);
};

/* Each cmd-<verb>.c defines one of these; main.c lists them in its table. */
extern const struct verb verb_list;
extern const struct verb verb_start;
extern const struct verb verb_stop;
extern const struct verb verb_status;
extern const struct verb verb_env;
extern const struct verb verb_run;
extern const struct verb verb_set;
extern const struct verb verb_config;
extern const struct verb verb_doctor;
extern const struct verb verb_bench;
extern const struct verb verb_daemon;

/* Prints "mpsmig: <message>" on stderr. */
void cli_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Prints "mpsmig: <err->message>" and the words of its hint on stderr. */
void cli_report(const struct error *err);

/* The error's message and the words of its hint (hints.c), with the command to type; returns
 * `buffer`. */
const char *cli_error_text(const struct error *err, char *buffer, size_t size);

/* The folder options (enum layout_kind, --runtime-dir) that hints repeat in the commands they
 * suggest; set by each verb that takes them, before it reports. */
void cli_set_hint_folders(int layout_kind, const char *runtime_dir);
/* Prints "mpsmig: <message>\nTry 'mpsmig --help'." and returns EXIT_USAGE; once a verb is
 * running (cli_set_usage_verb), the hint is "Try 'mpsmig help VERB'." instead. */
int cli_usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* The verb whose usage errors follow (NULL: the global ones), set by main before it runs one. */
void cli_set_usage_verb(const char *verb);

/* For a verb's getopt_long loop (optstring starting with ":", after any "+", so that a missing
 * argument returns ':'; opterr = 0). `c` is what getopt_long returned, '?' or ':'. Reports
 * "VERB: unknown option '--x'", "VERB: option needs an argument: '--x'" or "VERB: option takes
 * no argument: '--x'" as a usage error and returns EXIT_USAGE. `verb` NULL: global options. */
int cli_option_error(const char *verb, int c, char *const *argv);

/* Prints the verb's usage on stdout and returns EXIT_OK: every verb answers -h/--help with it. */
int cli_verb_help(const struct verb *verb);

/* The configuration file named by the global option --config (settings.c); NULL: none named. */
void cli_set_config_option(const char *path);
const char *cli_config_option(void);

/* Loads the configuration file (--config, else $MPSMIG_CONFIG, else /etc/mpsmig/mpsmig.conf, which
 * may be absent): 0 with *ret_config, or reports why not (FILE:LINE: ...) and returns EXIT_USAGE.
 */
int cli_load_config(struct config **ret_config);

/* The runtime folder to use: `option` (--runtime-dir) when given, else NULL when
 * $MPSMIG_RUNTIME_DIR is set (layout_init reads it), else the configuration's runtime_dir, else
 * NULL (the default). The command line wins over the environment, which wins over the file. */
const char *cli_runtime_dir(const char *option, const struct config *config);
