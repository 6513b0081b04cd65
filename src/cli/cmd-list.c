/* `mpsmig list`: every GPU with its MIG state, the MIG devices under it, and which of them are MPS
 * targets, as a table for people or a versioned JSON document (docs/json.md) for programs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "driver/nvml.h"
#include "node/node.h"

/* Bump when a field changes meaning or goes away; adding a field keeps the version. */
#define LIST_SCHEMA_VERSION 1

static bool is_whole_gpu_target(const struct target *targets, size_t count, const struct gpu *gpu)
{
        for (size_t i = 0; i < count; i++)
                if (targets[i].kind == TARGET_WHOLE_GPU && targets[i].gpu == gpu)
                        return true;
        return false;
}

static bool is_mig_target(const struct target *targets, size_t count, const struct mig_device *mig)
{
        for (size_t i = 0; i < count; i++)
                if (targets[i].mig_device == mig)
                        return true;
        return false;
}

/* "13.0" from 13000; "unknown" when NVML did not say. */
static void format_cuda_version(char *buffer, size_t size, int version)
{
        if (version <= 0)
                (void)snprintf(buffer, size, "unknown");
        else
                (void)snprintf(buffer, size, "%d.%d", version / 1000, version % 1000 / 10);
}

static const char *plural(size_t n)
{
        return n == 1 ? "" : "s";
}

static void gpu_row(struct table *table, const struct gpu *gpu, bool target)
{
        char sms[16], memory[32];
        format_count(sms, sizeof(sms), gpu->lost ? 0 : gpu->sm_count);
        format_mib(memory, sizeof(memory), gpu->lost ? 0 : gpu->memory_bytes);
        bool no_instances =
            !gpu->lost && gpu->mig_current == MIG_MODE_ENABLED && gpu->mig_device_count == 0;

        table_cellf(table, "GPU %u", gpu->index);
        /* A lost GPU has no name from NVML: its bus id (nvidia-smi and the kernel's Xid lines
         * name it so) tells an administrator which one it is. */
        if (!gpu->name[0] && gpu->pci_bus_id[0])
                table_cellf(table, "PCI %s", gpu->pci_bus_id);
        else
                table_cellf(table, "%s", gpu->name[0] ? gpu->name : "-");
        table_cellf(table, "%s%s", gpu_mig_state_string(gpu),
                    no_instances ? ", no MIG devices" : "");
        table_cellf(table, "-");
        table_cellf(table, "-");
        table_cellf(table, "%s", sms);
        table_cellf(table, "%s", memory);
        table_cellf(table, "%s", target ? "target" : "-");
        table_cellf(table, "%s", gpu->uuid[0] ? gpu->uuid : "-");
}

static void mig_row(struct table *table, const struct mig_device *mig, bool target)
{
        char sms[16], memory[32];
        format_count(sms, sizeof(sms), mig->sm_count);
        format_mib(memory, sizeof(memory), mig->memory_bytes);

        table_cellf(table, "  MIG %u", mig->device_index);
        table_cellf(table, "%s", mig->profile);
        table_cellf(table, "-");
        table_cellf(table, "%u", mig->gpu_instance_id);
        table_cellf(table, "%u", mig->compute_instance_id);
        table_cellf(table, "%s", sms);
        table_cellf(table, "%s", memory);
        table_cellf(table, "%s", target ? "target" : "-");
        table_cellf(table, "%s", mig->uuid);
}

static int print_table(const struct node *node, const struct target *targets, size_t count)
{
        static const struct table_column columns[] = {
            {"DEVICE", TABLE_LEFT},  {"NAME", TABLE_LEFT}, {"MIG", TABLE_LEFT},
            {"GI", TABLE_RIGHT},     {"CI", TABLE_RIGHT},  {"SM", TABLE_RIGHT},
            {"MEMORY", TABLE_RIGHT}, {"MPS", TABLE_LEFT},  {"UUID", TABLE_UUID},
        };
        char cuda[16];
        format_cuda_version(cuda, sizeof(cuda), node->cuda_driver_version);
        printf("NVIDIA driver %s, CUDA %s: %zu GPU%s, %zu MIG device%s, %zu MPS target%s\n",
               node->driver_version, cuda, node->gpu_count, plural(node->gpu_count),
               node->mig_device_count, plural(node->mig_device_count), count, plural(count));
        if (node->gpu_count == 0)
                return ferror(stdout) ? -EIO : 0;

        _cleanup_table_ struct table *table = table_new(columns, ELEMENTSOF(columns));
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < node->gpu_count; i++) {
                const struct gpu *gpu = &node->gpus[i];
                gpu_row(table, gpu, is_whole_gpu_target(targets, count, gpu));
                for (size_t m = 0; m < gpu->mig_device_count; m++) {
                        const struct mig_device *mig =
                            &node->mig_devices[gpu->first_mig_device + m];
                        mig_row(table, mig, is_mig_target(targets, count, mig));
                }
        }
        putchar('\n');
        return table_print(table, stdout);
}

/* One key and its value a line. */
/* clang-format off */
static json_t *mig_device_json(const struct mig_device *mig)
{
        return json_pack("{s:I, s:s, s:s, s:I, s:I, s:o, s:o}",
                         "index", (json_int_t)mig->device_index,
                         "uuid", mig->uuid,
                         "profile", mig->profile,
                         "gpu_instance_id", (json_int_t)mig->gpu_instance_id,
                         "compute_instance_id", (json_int_t)mig->compute_instance_id,
                         "sm_count", json_count_or_null(mig->sm_count),
                         "memory_mib", json_count_or_null(mig->memory_bytes >> 20));
}

/* A lost GPU keeps index, lost, error, and the uuid and name if NVML gave them; the rest is
 * null. */
static json_t *gpu_fields_json(const struct gpu *gpu, json_t *mig_devices)
{
        bool known = !gpu->lost;
        const char *compute = known && gpu->compute_mode != COMPUTE_MODE_UNKNOWN
                                      ? compute_mode_string(gpu->compute_mode) : NULL;
        return json_pack("{s:I, s:s?, s:s?, s:s?, s:b, s:s?, s:s?, s:s?, s:s?, s:o, s:o, s:o}",
                         "index", (json_int_t)gpu->index,
                         "uuid", gpu->uuid[0] ? gpu->uuid : NULL,
                         "name", gpu->name[0] ? gpu->name : NULL,
                         "pci_bus_id", gpu->pci_bus_id[0] ? gpu->pci_bus_id : NULL,
                         "lost", gpu->lost,
                         "error", gpu->lost ? gpu->lost_reason : NULL,
                         "mig_mode_current", known ? mig_mode_string(gpu->mig_current) : NULL,
                         "mig_mode_pending", known ? mig_mode_string(gpu->mig_pending) : NULL,
                         "compute_mode", compute,
                         "sm_count", json_count_or_null(known ? gpu->sm_count : 0),
                         "memory_mib", json_count_or_null(known ? gpu->memory_bytes >> 20 : 0),
                         "mig_devices", mig_devices);
}
/* clang-format on */

static json_t *gpu_json(const struct node *node, const struct gpu *gpu)
{
        json_t *mig_devices = json_array();
        if (!mig_devices)
                return NULL;
        for (size_t m = 0; m < gpu->mig_device_count; m++) {
                const struct mig_device *mig = &node->mig_devices[gpu->first_mig_device + m];
                if (json_array_append_new(mig_devices, mig_device_json(mig)) < 0) {
                        json_decref(mig_devices);
                        return NULL;
                }
        }
        return gpu_fields_json(gpu, mig_devices);
}

static int print_json(const struct node *node, const struct target *targets, size_t count,
                      bool whole_gpus)
{
        json_t *gpus = json_array();
        json_t *uuids = json_array();
        for (size_t i = 0; gpus && i < node->gpu_count; i++)
                if (json_array_append_new(gpus, gpu_json(node, &node->gpus[i])) < 0) {
                        json_decref(gpus);
                        gpus = NULL;
                }
        for (size_t i = 0; uuids && i < count; i++)
                if (json_array_append_new(uuids, json_string(targets[i].uuid)) < 0) {
                        json_decref(uuids);
                        uuids = NULL;
                }
        if (!gpus || !uuids) {
                json_decref(gpus);
                json_decref(uuids);
                return -ENOMEM;
        }

        char cuda[16];
        format_cuda_version(cuda, sizeof(cuda), node->cuda_driver_version);
        json_t *document = json_pack("{s:i, s:s, s:s?, s:b, s:o, s:o}", "schema_version",
                                     LIST_SCHEMA_VERSION, "driver_version", node->driver_version,
                                     "cuda_version", node->cuda_driver_version > 0 ? cuda : NULL,
                                     "whole_gpus", whole_gpus, "gpus", gpus, "targets", uuids);
        if (!document)
                return -ENOMEM;
        int r = output_json(document, stdout);
        json_decref(document);
        return r;
}

/* Why there is nothing to target, and what would change that. */
static void report_no_targets(const struct node *node, bool whole_gpus)
{
        if (node->gpu_count == 0) {
                cli_error("no MPS targets: no GPUs");
                return;
        }
        for (size_t i = 0; !whole_gpus && i < node->gpu_count; i++) {
                if (gpu_is_whole_target(&node->gpus[i])) {
                        cli_error("no MPS targets: no MIG devices (use --whole-gpus to manage "
                                  "whole GPUs)");
                        return;
                }
        }
        cli_error("no MPS targets: no MIG devices (create GPU and compute instances with "
                  "'nvidia-smi mig -cgi PROFILES -C')");
}

static int list_run(int argc, char **argv)
{
        static const struct option options[] = {
            {"whole-gpus", no_argument, NULL, 'w'},
            {"json", no_argument, NULL, 'j'},
            {"wide", no_argument, NULL, 'W'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        bool whole_gpus = false, json = false;
        int c;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                switch (c) {
                case 'w':
                        whole_gpus = true;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'W':
                        output_set_wide(true);
                        break;
                case 'h':
                        return cli_verb_help(&verb_list);
                default:
                        return cli_option_error("list", c, argv);
                }
        }
        if (optind < argc)
                return cli_usage_error("list: unexpected argument '%s'", argv[optind]);

        struct error err = {0};
        _cleanup_nvml_ struct nvml *nvml = NULL;
        if (nvml_open(&nvml, &err) < 0) {
                cli_report(&err);
                return EXIT_USAGE;
        }
        _cleanup_node_ struct node *node = NULL;
        int lost = node_discover_with_lost(nvml, &node, &err);
        if (lost < 0) {
                cli_report(&err);
                return EXIT_FAILURE_;
        }
        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        int r = node_targets(node, whole_gpus, &targets, &count);
        if (r >= 0)
                r = json ? print_json(node, targets, count, whole_gpus)
                         : print_table(node, targets, count);
        if (r < 0) {
                cli_error("cannot write the list: %s", strerror(-r));
                return EXIT_FAILURE_;
        }

        for (size_t i = 0; i < node->gpu_count; i++)
                if (node->gpus[i].lost)
                        cli_error("GPU %u%s%s%s is lost: %s (it needs a reset or a reboot)",
                                  node->gpus[i].index, node->gpus[i].pci_bus_id[0] ? " (PCI " : "",
                                  node->gpus[i].pci_bus_id, node->gpus[i].pci_bus_id[0] ? ")" : "",
                                  node->gpus[i].lost_reason);
        if (count == 0)
                report_no_targets(node, whole_gpus);
        return lost > 0 ? EXIT_FAILURE_ : EXIT_OK;
}

const struct verb verb_list = {
    .name = "list",
    .summary = "Show the GPUs, their MIG devices, and which are MPS targets",
    .usage = "Usage: mpsmig list [--whole-gpus] [--wide] [--json]\n"
             "\n"
             "Shows every GPU with its MIG mode, the MIG devices under it (GPU instance,\n"
             "compute instance, profile, SMs, memory, UUID), and which of them are MPS\n"
             "targets: the devices `mpsmig start` runs one MPS control daemon for.\n"
             "\n"
             "Options:\n"
             "  --whole-gpus  Also target every GPU whose MIG mode is disabled or unsupported\n"
             "  --wide        Show every UUID whole, however wide the table (by default a\n"
             "                table wider than the terminal, or 100 columns, shows unique\n"
             "                prefixes: MIG-22f0c05f\u2026)\n"
             "  --json        Print a JSON document (schema: docs/json.md) instead of a table\n"
             "  -h, --help    Show this help\n"
             "\n"
             "Exit status: 0 listed (also when there is nothing to target: a note says why),\n"
             "1 a GPU is lost (the others are still listed) or NVML failed, 2 usage error or\n"
             "no usable NVIDIA driver.\n",
    .run = list_run,
};
