/* `mpsmig daemon`: the node agent in the foreground (src/agent/); this file only reads its options
 * and reports why it could not run. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "cli/cli.h"

#define SECONDS_MAX 86400

/* "30", "0.5": seconds from 0 (when `zero` allows it) to a day, in milliseconds. */
static int parse_seconds(const char *text, bool zero, int *ret_ms)
{
        char *end = NULL;
        errno = 0;
        double seconds = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0' || !isfinite(seconds) || seconds < 0 ||
            (seconds == 0 && !zero) || seconds > SECONDS_MAX)
                return -EINVAL;
        *ret_ms = (int)(seconds * 1000 + 0.999);
        return 0;
}

static int daemon_run(int argc, char **argv)
{
        enum { OPT_WHOLE = 256, OPT_RUNTIME, OPT_POLL, OPT_START, OPT_STOP };
        static const struct option options[] = {
            {"whole-gpus", no_argument, NULL, OPT_WHOLE},
            {"runtime-dir", required_argument, NULL, OPT_RUNTIME},
            {"poll", required_argument, NULL, OPT_POLL},
            {"start-timeout", required_argument, NULL, OPT_START},
            {"stop-timeout", required_argument, NULL, OPT_STOP},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        struct agent_options agent = {.poll_ms = 0};
        int ms, c;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case OPT_WHOLE:
                        agent.whole_gpus = true;
                        break;
                case OPT_RUNTIME:
                        if (!optarg[0])
                                return cli_usage_error("daemon: --runtime-dir needs a folder");
                        agent.runtime_dir = optarg;
                        break;
                case OPT_POLL:
                        if (parse_seconds(optarg, true, &ms) < 0)
                                return cli_usage_error("daemon: --poll takes seconds from 0 (no "
                                                       "poll) to %d, not '%s'",
                                                       SECONDS_MAX, optarg);
                        agent.poll_ms = ms > 0 ? ms : -1;
                        break;
                case OPT_START:
                case OPT_STOP:
                        if (parse_seconds(optarg, false, &ms) < 0)
                                return cli_usage_error("daemon: --%s takes seconds, more than 0 "
                                                       "and at most %d, not '%s'",
                                                       c == OPT_START ? "start-timeout"
                                                                      : "stop-timeout",
                                                       SECONDS_MAX, optarg);
                        if (c == OPT_START)
                                agent.start_timeout_ms = ms;
                        else
                                agent.stop_timeout_ms = ms;
                        break;
                case 'h':
                        return cli_verb_help(&verb_daemon);
                default:
                        return cli_option_error("daemon", c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error("daemon: serves every target of the node; no TARGET "
                                       "('%s')",
                                       argv[optind]);
        agent.config_path = cli_config_option();
        cli_set_hint_folders(0, agent.runtime_dir);
        struct error err = {0};
        int r = agent_run(&agent, &err);
        if (r < 0) {
                cli_report(&err);
                /* A bad configuration file (FILE:LINE) is a usage error, as for the other verbs. */
                return r == -EBUSY || r == -ENOENT || r == -EACCES || r == -ENAMETOOLONG ||
                               r == -EINVAL || r == -EPERM
                           ? EXIT_USAGE
                           : EXIT_FAILURE_;
        }
        return EXIT_OK;
}

const struct verb verb_daemon = {
    .name = "daemon",
    .summary = "Run the node agent: supervise every daemon, follow MIG changes, serve the verbs",
    .usage = "Usage: mpsmig daemon [--whole-gpus] [--runtime-dir DIR] [--poll SECONDS]\n"
             "                     [--start-timeout SECONDS] [--stop-timeout SECONDS]\n"
             "\n"
             "Runs in the foreground as the parent of one MPS control daemon per MIG device\n"
             "(and per whole GPU with --whole-gpus), each started with -f so that a death is\n"
             "seen at once and restarted after a backoff (100 ms doubling to 30 s; 5 quick\n"
             "deaths in a row show as a crash loop in `mpsmig status`). Daemons already\n"
             "running in the layout's folders are adopted, never doubled. The configuration\n"
             "file (mpsmig --config FILE daemon) chooses the targets, the daemons' user and\n"
             "-M, and each target's limits and server ahead, applied after every (re)start.\n"
             "SIGHUP reads the file again (a bad one is logged, the running one kept), then\n"
             "(as the poll does) the node: new MIG devices get a daemon, vanished ones are\n"
             "stopped and their folders removed. SIGTERM or SIGINT stops every daemon\n"
             "(`quit`, escalated as `mpsmig stop` does) and exits 0. Meanwhile status, env,\n"
             "run, start and stop are answered through <runtime folder>/agent.sock\n"
             "(docs/agent.md). Logs one line per event on stderr with syslog priority\n"
             "prefixes; speaks systemd's notify protocol (Type=notify) when $NOTIFY_SOCKET\n"
             "is set.\n"
             "\n"
             "Options:\n"
             "  --whole-gpus             Also serve every GPU whose MIG mode is disabled or\n"
             "                           unsupported\n"
             "  --runtime-dir DIR        The runtime folder (default: $MPSMIG_RUNTIME_DIR, else\n"
             "                           /run/mpsmig as root, $XDG_RUNTIME_DIR/mpsmig otherwise)\n"
             "  --poll SECONDS           Read the node again this often (default 30; 0: only\n"
             "                           on SIGHUP)\n"
             "  --start-timeout SECONDS  How long a new daemon may take to answer (default 10)\n"
             "  --stop-timeout SECONDS   How long SIGTERM gives the daemons' clients (default 10)\n"
             "  -h, --help               Show this help\n"
             "\n"
             "Exit status: 0 stopped cleanly, 1 a daemon could not be stopped or the node not\n"
             "read, 2 usage error, another agent serves the runtime folder, or a bad folder.\n",
    .run = daemon_run,
};
