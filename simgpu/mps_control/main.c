/* simgpu's nvidia-cuda-mps-control: option parsing as on driver 580 (-h, -d, -f, -M, -q, -v)
 * and client mode, which sends each line of stdin to the daemon over mps_wire and prints the
 * answers in order. Commands given as arguments do nothing, as on the real driver 580. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mps_control.h"
#include "mps_wire.h"

static const char help_text[] =
    "Usage: nvidia-cuda-mps-control [OPTION]\n"
    "\n"
    "Options:\n"
    "  -h, --help               Print this help and exit\n"
    "  -d, --daemon             Start the MPS control daemon in the background\n"
    "  -f, --forground          Start the MPS control daemon in the foreground\n"
    "  -M, --multiuser-server   Start one MPS server shared by all users\n"
    "  -q, --ready-devices      (not simulated by simgpu)\n"
    "  -v                       Print the binary version and exit\n"
    "\n"
    "Without an option, commands are read from standard input, one per line:\n"
    "  get_server_list\n"
    "  get_server_status PID\n"
    "  start_server -uid UID\n"
    "  shutdown_server PID [-f]\n"
    "  get_client_list PID\n"
    "  ps [-p PID]\n"
    "  get_device_client_list [PID]\n"
    "  terminate_client SERVERPID CLIENTPID\n"
    "  set_default_active_thread_percentage PERCENTAGE\n"
    "  get_default_active_thread_percentage\n"
    "  set_active_thread_percentage PID PERCENTAGE\n"
    "  get_active_thread_percentage PID\n"
    "  set_default_device_pinned_mem_limit DEV VALUE\n"
    "  get_default_device_pinned_mem_limit DEV\n"
    "  set_device_pinned_mem_limit PID DEV VALUE\n"
    "  get_device_pinned_mem_limit PID DEV\n"
    "  set_default_client_priority PRIORITY\n"
    "  get_default_client_priority\n"
    "  device_query\n"
    "  quit [-t SECONDS]\n";

static const char no_daemon_message[] = "Cannot find MPS control daemon process\n";

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
        bool daemon_mode = false, foreground = false, multiuser = false;
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
                        fputs("nvidia-cuda-mps-control (simgpu): -q/--ready-devices is not "
                              "simulated\n",
                              stderr);
                        return 1;
                case 'v':
                        printf("CUDA MPS Control for Linux/Unix/QNX. Binary version: %d\n",
                               binary_version());
                        return 0;
                default:
                        fputs(help_text, stderr);
                        return 1;
                }
        }

        if (daemon_mode)
                return mps_daemon_main(foreground, multiuser, argv);
        /* On driver 580 a command given as arguments prints nothing and does nothing. */
        if (optind < argc)
                return 0;
        return client_mode();
}
