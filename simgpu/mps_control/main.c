/* simgpu's nvidia-cuda-mps-control: option parsing as on driver 580 (-h, -d, -f, -M, -q, -v;
 * -M or -q without -d is client mode) and client mode, which sends each line of stdin to the
 * daemon over mps_wire and prints the answers in order. Commands given as arguments do nothing,
 * as on the real driver 580. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mps_control.h"
#include "mps_wire.h"

/* -h as driver 580 prints it, byte for byte (docs/hardware/2026-11-25/mps_control_unknowns.txt):
 * it lists neither -v nor shutdown_server nor quit's -t, which the program still takes. */
static const char help_text[] =
    "CUDA MPS Control for Linux/Unix/QNX.\n"
    "Copyright (C) 2003 - 2025 NVIDIA Corporation.\n"
    "\n"
    "  This program allows multiple CUDA processes to share a single GPU context. For information"
    " on how to use the CUDA MPS, see the nvidia-cuda-mps-control manual page.\n"
    "\n"
    "nvidia-cuda-mps-control [options] [command]\n"
    "OPTIONS:\n"
    "  -h,--help                Print this message\n"
    "  -d,--daemon              Setup the daemon in the background\n"
    "  -f,--forground           Setup the daemon in the foreground\n"
    "  -M,--multiuser-server    Enable multi-user mode\n"
    "  -q,--ready-devices      Prepare the daemon to query devices on startup\n"
    "\n"
    "COMMAND:\n"
    "  start_server -uid <user id>\n"
    "                       Start a new instance of nvidia-cuda-mps-server with the given user ID\n"
    "  quit\n"
    "                       Terminate the controller\n"
    "  get_server_list\n"
    "                       Print out a list of servers\n"
    "  get_server_status <PID>\n"
    "                       Print out the status of the server\n"
    "  get_client_list <PID>\n"
    "                       List the client applications connected to the server\n"
    "  get_device_client_list [<PID>]\n"
    "                       List the devices and their client applications\n"
    "  ps [-p PID]\n"
    "                       Report a snapshot of the current client processes\n"
    "  set_default_active_thread_percentage <percentage>\n"
    "                       Set default active thread percentage for upcoming servers\n"
    "  get_default_active_thread_percentage\n"
    "                       Query the current default available thread percentage\n"
    "  set_active_thread_percentage <PID> <percentage>\n"
    "                       Override the active thread percentage of the MPS server\n"
    "  get_active_thread_percentage <PID>\n"
    "                       Query the current active thread percentage of the MPS server\n"
    "  set_default_device_pinned_mem_limit <dev> <value>\n"
    "                       Set default device pinned memory for upcoming servers\n"
    "  get_default_device_pinned_mem_limit <dev>\n"
    "                       Query the current default pinned memory limit for the device\n"
    "  set_device_pinned_mem_limit <PID> <dev> <value>\n"
    "                       Override the device pinned memory limit for MPS servers\n"
    "  get_device_pinned_mem_limit <PID> <dev>\n"
    "                       Query the current device pinned memory limit of the MPS server for"
    " the device\n"
    "  set_default_client_priority <priority>\n"
    "                       Sets default client priority for incoming clients\n"
    "  get_default_client_priority\n"
    "                       Query the current priority value that will be used for new clients\n"
    "  terminate_client <server PID> <client PID>\n"
    "                       Terminate all the outstanding GPU work of the MPS client process"
    " running on the MPS server\n"
    "  device_query [<PID>] [--csv]\n"
    "                       Enumerate all usable devices\n"
    "\n";

static const char no_daemon_message[] = "Cannot find MPS control daemon process\n";
/* Another control client holds the daemon (mps_wire.h); driver 580 does not retry either. */
static const char busy_message[] = "Cannot send command to MPS control daemon process\n";
static const char unrecognized[] = "Unrecognized option \0\n";

static const char *pipe_directory(void)
{
        const char *dir = getenv("CUDA_MPS_PIPE_DIRECTORY");

        return dir && *dir ? dir : MPS_PIPE_DIR_DEFAULT;
}

static int binary_version(void)
{
        struct sim_topology *topology = NULL;
        char error[256];
        int version = MPS_BINARY_VERSION_DEFAULT;

        if (sim_topology_load_env(&topology, error, sizeof(error)) == 0) {
                if (topology->cuda_driver_version > 0)
                        version = topology->cuda_driver_version;
                sim_topology_free(topology);
        }
        return version;
}

/* Reads one line of at most MPS_LINE_MAX - 1 characters; the rest of a longer line is dropped.
 * Returns 1 for a line, 0 at end of input. */
static int read_command_line(FILE *input, char *line, size_t size)
{
        size_t used = 0;
        bool any = false;
        int c;

        while ((c = fgetc(input)) != EOF) {
                any = true;
                if (c == '\n')
                        break;
                if (used < size - 1)
                        line[used++] = (char)c;
        }
        line[used] = '\0';
        return any ? 1 : 0;
}

static bool starts_with(const char *text, const char *prefix)
{
        return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Client mode. Internal simgpu_ commands are refused here, as the real program refuses any
 * command it does not know: only libcuda's own connection may send them. */
static int client_mode(void)
{
        char line[MPS_LINE_MAX];
        bool quit_sent = false;
        int exit_status = 0;
        int fd;

        fd = mps_wire_connect(pipe_directory());
        if (fd < 0) {
                fputs(no_daemon_message, stderr);
                return 1;
        }

        while (read_command_line(stdin, line, sizeof(line)) > 0) {
                char *text = NULL;
                int status, r;

                if (starts_with(line, MPS_WIRE_INTERNAL_PREFIX)) {
                        printf("Unknown command \"%s\"\n", line);
                        (void)fflush(stdout);
                        continue;
                }
                r = mps_wire_request(fd, line, &status, &text);
                if (r == -EBUSY) {
                        fputs(busy_message, stderr);
                        exit_status = 1;
                        break;
                }
                if (r < 0) {
                        /* After quit the daemon may be gone before the next line. */
                        if (!quit_sent) {
                                fputs(no_daemon_message, stderr);
                                exit_status = 1;
                        }
                        break;
                }
                fputs(text, stdout);
                (void)fflush(stdout);
                free(text);
                if (status != 0)
                        exit_status = status;
                if (strcmp(line, "quit") == 0 || starts_with(line, "quit "))
                        quit_sent = true;
        }
        (void)close(fd);
        return exit_status;
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
            {"help", no_argument, NULL, 'h'},          {"daemon", no_argument, NULL, 'd'},
            {"forground", no_argument, NULL, 'f'},     {"multiuser-server", no_argument, NULL, 'M'},
            {"ready-devices", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0},
        };
        bool daemon_mode = false, foreground = false, multiuser = false, ready_devices = false;
        int option;

        opterr = 0;
        while ((option = getopt_long(argc, argv, "hdfMqv", options, NULL)) != -1) {
                switch (option) {
                case 'h':
                        fputs(help_text, stdout);
                        return 0;
                case 'd':
                        daemon_mode = true;
                        foreground = false;
                        break;
                case 'f':
                        daemon_mode = true;
                        foreground = true;
                        break;
                case 'M':
                        multiuser = true;
                        break;
                case 'q':
                        ready_devices = true;
                        break;
                case 'v':
                        printf("CUDA MPS Control for Linux/Unix/QNX. Binary version: %d\n",
                               binary_version());
                        return 0;
                default:
                        /* Driver 580: "Unrecognized option ", a NUL byte (for `--bogus` and for
                         * `-z` alike: mps_control_unknowns*.txt), a newline, then the help, all
                         * on stdout, status 0. */
                        fwrite(unrecognized, 1, sizeof(unrecognized) - 1, stdout);
                        fputs(help_text, stdout);
                        return 0;
                }
        }

        if (daemon_mode && ready_devices) {
                fputs("nvidia-cuda-mps-control (simgpu): -q/--ready-devices with -d or -f is not "
                      "simulated\n",
                      stderr);
                return 1;
        }
        if (daemon_mode)
                return mps_daemon_main(foreground, multiuser, argv);
        /* On driver 580 a command given as arguments prints nothing and does nothing. */
        if (optind < argc)
                return 0;
        return client_mode();
}
