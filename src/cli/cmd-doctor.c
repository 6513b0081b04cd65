/* `mpsmig doctor`: what makes MPS silently not work on this node, per target, each finding with
 * its severity, what was seen and what to do; text for people, JSON for monitoring; exit 1 when
 * any finding is an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli/cli.h"
#include "cli/lifecycle.h"
#include "cli/output.h"
#include "driver/probe_client.h"
#include "node/target_name.h"
#include "ops/doctor.h"

#define DOCTOR_SCHEMA_VERSION 1

static const char *severity_word(enum doctor_severity severity)
{
        return severity == DOCTOR_ERROR ? "ERROR" : doctor_severity_string(severity);
}

static void print_findings(const struct doctor_findings *findings)
{
        for (size_t i = 0; i < findings->count; i++) {
                const struct doctor_finding *f = &findings->items[i];
                printf("  %-8s %-14s %s\n", severity_word(f->severity), f->check, f->what);
                if (f->action[0] && f->severity != DOCTOR_OK)
                        printf("  %-8s %-14s -> %s\n", "", "", f->action);
        }
}

static void print_text(const struct ops_context *context, const struct doctor_report *report)
{
        if (context)
                printf("%zu target%s, layout %s in %s%s\n", report->target_count,
                       report->target_count == 1 ? "" : "s", layout_kind_name(context->layout.kind),
                       context->layout.kind == LAYOUT_SEED ? LAYOUT_SEED_DIR
                                                           : context->layout.runtime_dir,
                       report->timings_simulated ? "; timings simulated by simgpu" : "");
        printf("\nnode\n");
        print_findings(&report->node);
        for (size_t i = 0; i < report->target_count; i++) {
                const struct doctor_target *t = &report->targets[i];
                char name[32];
                lifecycle_target_name(t->target, name, sizeof(name));
                printf("\n%s %s (%s)\n", name, t->target->uuid[0] ? t->target->uuid : "-",
                       target_kind_string(t->target->kind));
                print_findings(&t->findings);
        }
        printf("\n%zu error%s, %zu warning%s, %zu ok%s\n", report->counts[DOCTOR_ERROR],
               report->counts[DOCTOR_ERROR] == 1 ? "" : "s", report->counts[DOCTOR_WARNING],
               report->counts[DOCTOR_WARNING] == 1 ? "" : "s", report->counts[DOCTOR_OK],
               report->counts[DOCTOR_ERROR] ? ": MPS does not work as it should where the errors "
                                              "are"
                                            : "");
}

static json_t *findings_json(const struct doctor_findings *findings)
{
        json_t *array = json_array();
        for (size_t i = 0; array && i < findings->count; i++) {
                const struct doctor_finding *f = &findings->items[i];
                json_t *item =
                    json_pack("{s:s, s:s, s:o, s:o}", "check", f->check, "severity",
                              doctor_severity_string(f->severity), "what", json_text(f->what),
                              "action", json_text(f->action[0] ? f->action : NULL));
                if (!item || json_array_append_new(array, item) < 0) {
                        json_decref(array);
                        array = NULL;
                }
        }
        return array;
}

static int print_json(const struct ops_context *context, const struct doctor_report *report)
{
        json_t *targets = json_array();
        for (size_t i = 0; targets && i < report->target_count; i++) {
                const struct doctor_target *t = &report->targets[i];
                json_t *item = lifecycle_target_json(t->target, &t->paths);
                if (!item ||
                    json_object_set_new(item, "findings", findings_json(&t->findings)) < 0 ||
                    json_array_append_new(targets, item) < 0) {
                        json_decref(targets);
                        targets = NULL;
                }
        }
        json_t *document =
            json_pack("{s:i, s:s, s:o, s:o, s:s, s:o, s:o, s:{s:I, s:I, s:I}}", "schema_version",
                      DOCTOR_SCHEMA_VERSION, "verb", "doctor", "layout",
                      context ? json_string(layout_kind_name(context->layout.kind)) : json_null(),
                      "runtime_dir", context ? json_text(context->layout.runtime_dir) : json_null(),
                      "timings", report->timings_simulated ? "simulated" : "real", "node",
                      findings_json(&report->node), "targets", targets, "summary", "ok",
                      (json_int_t)report->counts[DOCTOR_OK], "warning",
                      (json_int_t)report->counts[DOCTOR_WARNING], "error",
                      (json_int_t)report->counts[DOCTOR_ERROR]);
        if (!document)
                return -ENOMEM;
        int r = output_json(document, stdout);
        json_decref(document);
        return r;
}

static int report_and_exit(const struct ops_context *context, const struct doctor_report *report,
                           bool json)
{
        int r = json ? print_json(context, report) : (print_text(context, report), 0);
        if (r < 0) {
                cli_error("cannot write the report: %s", strerror(-r));
                return EXIT_FAILURE_;
        }
        return report->counts[DOCTOR_ERROR] ? EXIT_FAILURE_ : EXIT_OK;
}

static int doctor_run(int argc, char **argv)
{
        _cleanup_(lifecycle_args_done) struct lifecycle_args args = {0};
        int status = lifecycle_parse(&verb_doctor, false, argc, argv, &args);
        if (status >= 0)
                return status;
        /* As status: without TARGETs, every MIG device, whole GPUs with folders of the layout,
         * orphans, lost GPUs. */
        bool sweep_whole_gpus = args.options.name_count == 0 && !args.options.whole_gpus;
        if (sweep_whole_gpus)
                args.options.whole_gpus = true;
        args.options.orphans = true;

        _cleanup_(doctor_report_done) struct doctor_report report = {0};
        _cleanup_(ops_context_done) struct ops_context context = {0};
        struct error err = {0};
        enum ops_failure failure;
        if (ops_context_open(&args.options, &context, &failure, &err) < 0) {
                if (failure != OPS_FAILURE_DRIVER) {
                        cli_report(&err);
                        return failure == OPS_FAILURE_OTHER ? EXIT_FAILURE_ : EXIT_USAGE;
                }
                if (doctor_report_no_driver(&err, &report) < 0) {
                        cli_error("out of memory");
                        return EXIT_FAILURE_;
                }
                return report_and_exit(NULL, &report, args.json);
        }
        if (sweep_whole_gpus)
                ops_stop_keep_used_whole_gpus(&context);
        if (ops_context_add_lost_gpus(&context) < 0) {
                cli_error("out of memory");
                return EXIT_FAILURE_;
        }
        _cleanup_free_ char *probe = NULL;
        struct error probe_error = {0};
        (void)probe_find(&probe, &probe_error);
        struct doctor_options options = {.probe_path = probe};
        if (ops_doctor(&context, &options, &report, &err) < 0) {
                cli_report(&err);
                return EXIT_FAILURE_;
        }
        if (report.target_count == 0)
                cli_error("no MPS targets to look at: no MIG devices and no whole GPUs with "
                          "folders of this layout (name a GPU, or use --whole-gpus)");
        return report_and_exit(&context, &report, args.json);
}

const struct verb verb_doctor = {
    .name = "doctor",
    .summary = "Find what makes MPS silently not work, and say what to do",
    .usage = "Usage: mpsmig doctor [--whole-gpus] [--layout default|seed] [--runtime-dir DIR]\n"
             "                     [--timeout SECONDS] [--wide] [--json] [TARGET...]\n"
             "\n"
             "Looks at every target (as status does: without TARGETs, every MIG device and\n"
             "the whole GPUs with folders of the layout) and at the node, and reports each\n"
             "finding as ok, warning or ERROR with what to do: the driver and its versions;\n"
             "the compute mode (EXCLUSIVE_PROCESS advised on whole GPUs); the daemon alive\n"
             "and answering, or stale; a second daemon on the same device; the folders'\n"
             "owners and modes and the parents a non-root server or client must traverse;\n"
             "errors in control.log and server.log since the daemon started, and pinned\n"
             "limits set under a wrong key; the daemon's open-file limit; a probe client\n"
             "(mpsmig-probe) launched with the target's variables, which must show in the\n"
             "daemon's client list (else: client bypassed MPS), with the SM count and the\n"
             "pinned limit the daemon reports; this shell's CUDA_MPS_PIPE_DIRECTORY and\n"
             "open-file limit. Daemons are asked at once and no lock is held meanwhile.\n"
             "Over simgpu the timings it shows are simulated, and it says so.\n"
             "\n"
             "Options:\n" LIFECYCLE_OPTIONS_HELP
             "  --timeout SECONDS    How long a daemon may take to answer before it counts\n"
             "                       as not answering (default 5)\n" LIFECYCLE_HELP_OPTION "\n"
             "Exit status: 0 no finding is an error (warnings allowed), 1 some finding is an\n"
             "error (the driver cannot be loaded included), 2 usage error or bad runtime\n"
             "folder.\n",
    .run = doctor_run,
};
