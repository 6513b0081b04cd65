/* simgpu's nvidia-smi: `-L` and `--query-gpu=FIELDS --format=csv[,noheader][,nounits]`, printed
 * byte for byte as the real program prints them, from the topology at $SIMGPU_TOPOLOGY (read
 * directly, not through the NVML double). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

/* nvidia-smi exits with the NVML return code of what failed. */
#define EXIT_USAGE             2
#define EXIT_NOT_FOUND         6
#define EXIT_DRIVER_NOT_LOADED 9
#define EXIT_GPU_IS_LOST       15

#define MAX_FIELDS 32

enum field {
        FIELD_INDEX,
        FIELD_UUID,
        FIELD_NAME,
        FIELD_MEMORY_TOTAL,
        FIELD_PCI_BUS_ID,
        FIELD_MIG_CURRENT,
        FIELD_MIG_PENDING,
        FIELD_COMPUTE_MODE,
        FIELD_PERSISTENCE_MODE,
        FIELD_DRIVER_VERSION,
        FIELD_COUNT,
};

struct field_name {
        const char *name;
        enum field field;
        const char *header; /* as the CSV header prints it */
};

/* The names (and the aliases nvidia-smi --help-query-gpu lists) this double answers. */
static const struct field_name field_names[] = {
    {"index", FIELD_INDEX, "index"},
    {"uuid", FIELD_UUID, "uuid"},
    {"gpu_uuid", FIELD_UUID, "uuid"},
    {"name", FIELD_NAME, "name"},
    {"gpu_name", FIELD_NAME, "name"},
    {"memory.total", FIELD_MEMORY_TOTAL, "memory.total [MiB]"},
    {"pci.bus_id", FIELD_PCI_BUS_ID, "pci.bus_id"},
    {"gpu_bus_id", FIELD_PCI_BUS_ID, "pci.bus_id"},
    {"mig.mode.current", FIELD_MIG_CURRENT, "mig.mode.current"},
    {"mig.mode.pending", FIELD_MIG_PENDING, "mig.mode.pending"},
    {"compute_mode", FIELD_COMPUTE_MODE, "compute_mode"},
    {"persistence_mode", FIELD_PERSISTENCE_MODE, "persistence_mode"},
    {"driver_version", FIELD_DRIVER_VERSION, "driver_version"},
    {"count", FIELD_COUNT, "count"},
};

struct csv_format {
        bool header;
        bool units;
};

static const char *mig_mode(const struct sim_gpu *gpu, unsigned mode)
{
        if (!gpu->mig_supported)
                return "[N/A]";
        return mode ? "Enabled" : "Disabled";
}

static const char *compute_mode_name(unsigned mode)
{
        static const char *const names[] = {"Default", "Exclusive_Thread", "Prohibited",
                                            "Exclusive_Process"};
        return mode < 4 ? names[mode] : "[Unknown Error]";
}

/* What nvidia-smi prints when it cannot get a handle for a GPU that fell off the bus. */
static void print_lost(const struct sim_gpu *gpu)
{
        /* the legacy bus id: the domain cut to 4 digits */
        printf("Unable to determine the device handle for GPU%s: GPU is lost.  Reboot the system "
               "to recover this GPU\n",
               gpu->pci_bus_id + 4);
}

static int list_gpus(const struct sim_topology *topology)
{
        int status = 0;
        for (size_t g = 0; g < topology->gpu_count; g++) {
                const struct sim_gpu *gpu = &topology->gpus[g];
                if (gpu->lost) {
                        print_lost(gpu);
                        status = EXIT_GPU_IS_LOST;
                        continue;
                }
                printf("GPU %u: %s (UUID: %s)\n", gpu->index, gpu->name, gpu->uuid);
                for (size_t m = 0; gpu->mig_current && m < gpu->mig_device_count; m++) {
                        const struct sim_mig_device *mig = &gpu->mig_devices[m];
                        printf("  MIG %-10s  Device %2u: (UUID: %s)\n", mig->profile, mig->slot,
                               mig->uuid);
                }
        }
        return status;
}

static void print_field(const struct sim_topology *topology, const struct sim_gpu *gpu,
                        enum field field, struct csv_format format)
{
        switch (field) {
        case FIELD_INDEX:
                printf("%u", gpu->index);
                break;
        case FIELD_UUID:
                fputs(gpu->uuid, stdout);
                break;
        case FIELD_NAME:
                fputs(gpu->name, stdout);
                break;
        case FIELD_MEMORY_TOTAL:
                printf(format.units ? "%llu MiB" : "%llu", gpu->memory_mib);
                break;
        case FIELD_PCI_BUS_ID:
                fputs(gpu->pci_bus_id, stdout);
                break;
        case FIELD_MIG_CURRENT:
                fputs(mig_mode(gpu, gpu->mig_current), stdout);
                break;
        case FIELD_MIG_PENDING:
                fputs(mig_mode(gpu, gpu->mig_pending), stdout);
                break;
        case FIELD_COMPUTE_MODE:
                fputs(compute_mode_name(gpu->compute_mode), stdout);
                break;
        case FIELD_PERSISTENCE_MODE:
                fputs(gpu->persistence_mode ? "Enabled" : "Disabled", stdout);
                break;
        case FIELD_DRIVER_VERSION:
                fputs(topology->driver_version, stdout);
                break;
        case FIELD_COUNT:
                printf("%zu", topology->gpu_count);
                break;
        }
}

/* Splits "index,uuid,name" into fields; an unknown name is reported the way nvidia-smi does. */
static int parse_fields(const char *list, const struct field_name **fields, size_t *ret_count)
{
        char *copy = strdup(list);
        size_t count = 0;
        int r = 0;
        if (!copy)
                return -ENOMEM;
        for (char *save = NULL, *name = strtok_r(copy, ",", &save); name;
             name = strtok_r(NULL, ",", &save)) {
                name += strspn(name, " ");
                const struct field_name *found = NULL;
                for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
                        if (strcmp(name, field_names[i].name) == 0)
                                found = &field_names[i];
                if (!found) {
                        printf("Field \"%s\" is not a valid field to query.\n\n", name);
                        r = -EINVAL;
                        break;
                }
                if (count == MAX_FIELDS) {
                        fprintf(stderr, "nvidia-smi: more than %d fields\n", MAX_FIELDS);
                        r = -E2BIG;
                        break;
                }
                fields[count++] = found;
        }
        free(copy);
        if (r == 0 && count == 0) {
                printf("Field \"\" is not a valid field to query.\n\n");
                r = -EINVAL;
        }
        if (r == 0)
                *ret_count = count;
        return r;
}

static int parse_format(const char *text, struct csv_format *ret)
{
        struct csv_format format = {.header = true, .units = true};
        char *copy = strdup(text);
        bool csv = false;
        int r = 0;
        if (!copy)
                return -ENOMEM;
        for (char *save = NULL, *word = strtok_r(copy, ",", &save); word;
             word = strtok_r(NULL, ",", &save)) {
                if (strcmp(word, "csv") == 0)
                        csv = true;
                else if (strcmp(word, "noheader") == 0)
                        format.header = false;
                else if (strcmp(word, "nounits") == 0)
                        format.units = false;
                else
                        r = -EINVAL;
        }
        free(copy);
        if (r < 0 || !csv) {
                printf("\"%s\" is not a valid format.\n", text);
                return -EINVAL;
        }
        *ret = format;
        return 0;
}

static int query_gpus(const struct sim_topology *topology, const char *field_list,
                      const char *format_text)
{
        const struct field_name *fields[MAX_FIELDS];
        struct csv_format format;
        size_t count;
        if (parse_fields(field_list, fields, &count) < 0 || parse_format(format_text, &format) < 0)
                return EXIT_USAGE;
        if (format.header)
                for (size_t f = 0; f < count; f++)
                        printf("%s%s", fields[f]->header, f + 1 < count ? ", " : "\n");
        int status = 0;
        for (size_t g = 0; g < topology->gpu_count; g++) {
                const struct sim_gpu *gpu = &topology->gpus[g];
                if (gpu->lost) {
                        print_lost(gpu);
                        status = EXIT_GPU_IS_LOST;
                        continue;
                }
                for (size_t f = 0; f < count; f++) {
                        print_field(topology, gpu, fields[f]->field, format);
                        fputs(f + 1 < count ? ", " : "\n", stdout);
                }
        }
        return status;
}

static int usage_error(void)
{
        printf("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n\n");
        return EXIT_USAGE;
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
            {"list-gpus", no_argument, NULL, 'L'},
            {"query-gpu", required_argument, NULL, 'Q'},
            {"format", required_argument, NULL, 'F'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        const char *query = NULL, *format = NULL;
        bool list = false;
        int c;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "Lh", options, NULL)) != -1) {
                switch (c) {
                case 'L':
                        list = true;
                        break;
                case 'Q':
                        query = optarg;
                        break;
                case 'F':
                        format = optarg;
                        break;
                case 'h':
                        printf("simgpu nvidia-smi: answers -L and "
                               "--query-gpu=FIELDS --format=csv[,noheader][,nounits]\n");
                        return 0;
                default:
                        return usage_error();
                }
        }
        if (optind < argc || list == (query != NULL) || (query && !format) || (format && !query))
                return usage_error();

        struct sim_topology *topology = NULL;
        char error[1024];
        if (sim_topology_load_env(&topology, error, sizeof(error)) < 0) {
                fprintf(stderr, "simgpu: %s\n", error);
                printf("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
                       "driver. Make sure that the latest NVIDIA driver is installed and "
                       "running.\n\n");
                return EXIT_DRIVER_NOT_LOADED;
        }
        int status;
        if (!topology->driver_loaded) {
                printf("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
                       "driver. Make sure that the latest NVIDIA driver is installed and "
                       "running.\n\n");
                status = EXIT_DRIVER_NOT_LOADED;
        } else if (topology->gpu_count == 0) {
                printf("No devices were found\n");
                status = EXIT_NOT_FOUND;
        } else if (list) {
                status = list_gpus(topology);
        } else {
                status = query_gpus(topology, query, format);
        }
        sim_topology_free(topology);
        if (fflush(stdout) != 0 && status == 0)
                status = 1;
        return status;
}
