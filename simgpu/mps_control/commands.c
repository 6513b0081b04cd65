/* The command table of the simulated control daemon: each client-mode command, its answer text
 * as driver 580 prints it (docs/simgpu-mps.md lists each and where it is from), its control.log
 * lines, and the internal simgpu_attach that libcuda sends. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mps_control.h"
#include "mps_wire.h"

#define GIB             (1024ULL * 1024 * 1024)
#define MIB             (1024ULL * 1024)
#define PS_DEVICE_WIDTH 22 /* the UUID as ps shows it: a 23-byte field with its terminator */

struct command {
        const char *name;
        void (*run)(struct mps_daemon *daemon, struct mps_connection *connection, int argc,
                    char **argv, struct mps_answer *answer);
};

/* A decimal number in (0, 100]: digits with at most one point, nothing else (no sign, no
 * exponent, no hex, no "inf"), as a caller would type a percentage. */
int mps_parse_percentage(const char *text, double *ret)
{
        bool digit = false, point = false;
        double value;

        if (!text)
                return -EINVAL;
        for (const char *c = text; *c; c++) {
                if (*c >= '0' && *c <= '9')
                        digit = true;
                else if (*c == '.' && !point)
                        point = true;
                else
                        return -EINVAL;
        }
        if (!digit)
                return -EINVAL;
        value = strtod(text, NULL);
        if (!isfinite(value) || value <= 0.0 || value > 100.0)
                return -EINVAL;
        *ret = value;
        return 0;
}

/* A pinned-limit VALUE as driver 580 reads it (mps_control_unknowns.txt and ...2.txt): digits,
 * then the character after them decides: G or g is GiB, anything else (M, none, K, T, X, the '.'
 * of `1.5G`) is MiB, so `1048576` reads back 1024G, `1T` 1M and `1.5G` 1M; what follows is not
 * looked at (`2GB` is 2G). 0 clears the limit (the getter then prints nothing). No digits
 * (`lots`) and overflow are refused. */
int mps_parse_size(const char *text, unsigned long long *ret)
{
        unsigned long long value = 0, scale = MIB;
        const char *c = text;

        if (!text || !isdigit((unsigned char)*c))
                return -EINVAL;
        for (; isdigit((unsigned char)*c); c++) {
                if (value > (~0ULL - 9) / 10)
                        return -ERANGE;
                value = value * 10 + (unsigned long long)(*c - '0');
        }
        if (toupper((unsigned char)*c) == 'G')
                scale = GIB;
        if (value > ~0ULL / scale)
                return -ERANGE;
        *ret = value * scale;
        return 0;
}

/* Read-back of a pinned limit: whole G, rounded down, from 1G up; M below (driver 580). */
static void answer_size(struct mps_answer *answer, unsigned long long bytes)
{
        if (bytes >= GIB)
                mps_answer_printf(answer, "%lluG\n", bytes / GIB);
        else
                mps_answer_printf(answer, "%lluM\n", bytes / MIB);
}

static int parse_pid(const char *text, pid_t *ret)
{
        char *end;
        long value;

        if (!text || !isdigit((unsigned char)*text))
                return -EINVAL;
        errno = 0;
        value = strtol(text, &end, 10);
        if (errno || *end || value <= 0 || value > 0x7fffffffL)
                return -EINVAL;
        *ret = (pid_t)value;
        return 0;
}

/* A live server named by a PID argument, or NULL after answering `Server <PID> not found`, the
 * pid as given (driver 580, docs/hardware/2026-11-25/mps_control_unknowns.txt). */
static struct mps_server *server_argument(struct mps_daemon *daemon, const char *text,
                                          struct mps_answer *answer)
{
        struct mps_server *server = NULL;
        pid_t pid;

        if (parse_pid(text, &pid) == 0)
                server = mps_server_find(daemon, pid);
        if (!server)
                mps_answer_printf(answer, "Server %s not found\n", text ? text : "");
        return server;
}

/* A device key: an ordinal or the UUID of a device the daemon sees. Driver 580 took ordinal 7 on
 * a one-device daemon and handed it to its server (server.log: "Device pinned memory limit for
 * device 7 set to ..."): any ordinal below simgpu's table size is kept. */
static int device_argument(struct mps_daemon *daemon, const char *text, size_t *ret_index,
                           bool *ret_by_uuid)
{
        char *end;

        if (!text)
                return -EINVAL;
        if (isdigit((unsigned char)*text)) {
                unsigned long ordinal = strtoul(text, &end, 10);
                if (*end || ordinal >= MPS_MAX_DEVICES)
                        return -ENODEV;
                *ret_index = ordinal;
                *ret_by_uuid = false;
                return 0;
        }
        for (size_t i = 0; i < daemon->device_count; i++) {
                if (strcmp(daemon->devices[i].uuid, text) == 0) {
                        *ret_index = i;
                        *ret_by_uuid = true;
                        return 0;
                }
        }
        return -ENODEV;
}

static unsigned long long *pinned_slot(struct mps_limits *limits, size_t index, bool by_uuid)
{
        return by_uuid ? &limits->pinned_by_uuid[index] : &limits->pinned_by_ordinal[index];
}

static void set_pinned(struct mps_daemon *daemon, struct mps_limits *limits, const char *what,
                       int argc, char **argv, int first)
{
        unsigned long long bytes;
        size_t index;
        bool by_uuid;

        if (argc < first + 2 || device_argument(daemon, argv[first], &index, &by_uuid) < 0 ||
            mps_parse_size(argv[first + 1], &bytes) < 0) {
                mps_log(daemon, "Invalid arguments to %s", what);
                return;
        }
        *pinned_slot(limits, index, by_uuid) = bytes;
        mps_log(daemon, "%s %s %s.", what, argv[first], argv[first + 1]);
}

static void get_pinned(struct mps_daemon *daemon, struct mps_limits *limits, int argc, char **argv,
                       int first, struct mps_answer *answer)
{
        size_t index;
        bool by_uuid;

        if (argc < first + 1 || device_argument(daemon, argv[first], &index, &by_uuid) < 0) {
                mps_log(daemon, "Invalid device");
                return;
        }
        if (*pinned_slot(limits, index, by_uuid) == 0) {
                mps_log(daemon, "No default pinned memory limit set for the device!");
                return;
        }
        answer_size(answer, *pinned_slot(limits, index, by_uuid));
}

static void cmd_get_server_list(struct mps_daemon *daemon, struct mps_connection *connection,
                                int argc, char **argv, struct mps_answer *answer)
{
        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                const struct mps_server *server = &daemon->servers[i];
                if (server->in_use && server->state != MPS_SERVER_EXITING)
                        mps_answer_printf(answer, "%d\n", (int)server->pid);
        }
}

static void cmd_get_server_status(struct mps_daemon *daemon, struct mps_connection *connection,
                                  int argc, char **argv, struct mps_answer *answer)
{
        /* Driver 580 answered ACTIVE for a server still starting (mps_control_unknowns2.txt:
         * asked about 30 ms after start_server, while ps still said "Server not found"). */
        if (server_argument(daemon, argc > 1 ? argv[1] : NULL, answer))
                mps_answer_printf(answer, "ACTIVE\n");
}

static void cmd_get_client_list(struct mps_daemon *daemon, struct mps_connection *connection,
                                int argc, char **argv, struct mps_answer *answer)
{
        struct mps_server *server = server_argument(daemon, argc > 1 ? argv[1] : NULL, answer);

        struct mps_connection *clients[MPS_MAX_CONNECTIONS];
        size_t count;

        if (!server)
                return;
        count = mps_clients_in_order(daemon, server, clients);
        for (size_t i = 0; i < count; i++)
                mps_answer_printf(answer, "%d\n", (int)clients[i]->client.pid);
}

/* Driver 580: no ready server, `Server not found`, each starting server logged as `<busy>`
 * (probe.txt's control.log); `-p` naming no ready server, `Server <PID> not found` twice and an
 * empty line (mps_control_unknowns.txt); a server without clients, nothing; else the table.
 * While a server starts, the answer (as it stands now) leaves only once the server is ready:
 * the asker holds the daemon that much longer, which is how driver 580 refuses more control
 * clients while a server starts (docs/driver-facts.md, 2026-12-02). */
static void cmd_ps(struct mps_daemon *daemon, struct mps_connection *connection, int argc,
                   char **argv, struct mps_answer *answer)
{
        struct mps_connection *clients[MPS_MAX_CONNECTIONS];
        struct mps_server *only = NULL;
        bool any_server = false, header = false;
        size_t count;
        pid_t pid;

        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                const struct mps_server *server = &daemon->servers[i];
                if (!server->in_use || server->state == MPS_SERVER_EXITING)
                        continue;
                if (server->state == MPS_SERVER_STARTING) {
                        mps_log(daemon, "Server %d is <busy>", (int)server->pid);
                        connection->awaiting_server = true;
                } else
                        any_server = true;
        }
        if (argc > 2 && strcmp(argv[1], "-p") == 0) {
                if (parse_pid(argv[2], &pid) == 0)
                        only = mps_server_find(daemon, pid);
                if (!only || only->state == MPS_SERVER_STARTING) {
                        mps_answer_printf(answer, "Server %s not found\nServer %s not found\n\n",
                                          argv[2], argv[2]);
                        return;
                }
        }
        if (!any_server) {
                mps_answer_printf(answer, "Server not found\n");
                return;
        }
        count = mps_clients_in_order(daemon, only, clients);
        for (size_t i = 0; i < count; i++) {
                const struct mps_connection *c = clients[i];
                const struct mps_server *server = &daemon->servers[c->client.server];
                if (!header) {
                        mps_answer_printf(answer, "PID ID SERVER DEVICE NAMESPACE COMMAND\n");
                        header = true;
                }
                mps_answer_printf(answer, "%-10d%-10u%-15d%-26.*s%-15lu%s\n", (int)c->client.pid,
                                  c->client.id, (int)server->pid, PS_DEVICE_WIDTH,
                                  daemon->devices[0].uuid, c->client.pid_namespace, c->client.exe);
        }
}

static void cmd_get_device_client_list(struct mps_daemon *daemon, struct mps_connection *connection,
                                       int argc, char **argv, struct mps_answer *answer)
{
        struct mps_connection *clients[MPS_MAX_CONNECTIONS];
        struct mps_server *only = NULL;
        size_t count;

        if (argc > 1 && !(only = server_argument(daemon, argv[1], answer)))
                return;
        /* A simulated client runs on the first device, so only device 0 can have a line; with
         * no client, driver 580 prints nothing at all (mps_control_unknowns.txt). */
        count = mps_clients_in_order(daemon, only, clients);
        if (count == 0 || daemon->device_count == 0)
                return;
        mps_answer_printf(answer, "[0] %s, %s\n", daemon->devices[0].pci_short,
                          daemon->devices[0].name);
        for (size_t i = 0; i < count; i++)
                mps_answer_printf(answer, "%d.%u\n", (int)clients[i]->client.pid,
                                  clients[i]->client.id);
}

static void cmd_start_server(struct mps_daemon *daemon, struct mps_connection *connection, int argc,
                             char **argv, struct mps_answer *answer)
{
        static const char no_uid[] = "A user id (UID) is required to start a new server\n";
        char *end;
        unsigned long uid;

        /* Driver 580 answers no_uid, status 0, to a missing -uid, `-uid` alone and `-uid abc`
         * (mps_control_unknowns.txt); an out-of-range number gets the same here. */
        if (argc < 3 || strcmp(argv[1], "-uid") != 0 || !isdigit((unsigned char)argv[2][0])) {
                mps_answer_printf(answer, no_uid);
                return;
        }
        errno = 0;
        uid = strtoul(argv[2], &end, 10);
        if (errno || *end || uid > 0xfffffffeUL) {
                mps_answer_printf(answer, no_uid);
                return;
        }
        mps_server_start_for_uid(daemon, (uid_t)uid);
}

static void cmd_shutdown_server(struct mps_daemon *daemon, struct mps_connection *connection,
                                int argc, char **argv, struct mps_answer *answer)
{
        struct mps_server *server = server_argument(daemon, argc > 1 ? argv[1] : NULL, answer);
        bool force = argc > 2 && strcmp(argv[2], "-f") == 0;

        if (!server)
                return;
        mps_log(daemon, "Try shutting down server %d, backoff is disabled", (int)server->pid);
        mps_server_shutdown(daemon, server, force);
}

/* Driver 580 answers a CUresult when it fails (mps_control_unknowns.txt): an unknown server,
 * `Server S not found`, `Server S not found!` and 1 (CUDA_ERROR_INVALID_VALUE); a client the
 * server does not have, 201 (CUDA_ERROR_INVALID_CONTEXT) and two server.log lines. What it
 * prints when it succeeds is not read: simgpu prints nothing. */
static void cmd_terminate_client(struct mps_daemon *daemon, struct mps_connection *connection,
                                 int argc, char **argv, struct mps_answer *answer)
{
        const char *server_text = argc > 1 ? argv[1] : "";
        struct mps_server *server = NULL;
        pid_t pid;

        if (parse_pid(server_text, &pid) == 0)
                server = mps_server_find(daemon, pid);
        if (!server) {
                mps_answer_printf(answer, "Server %s not found\nServer %s not found!\n1\n",
                                  server_text, server_text);
                return;
        }
        if (argc < 3 || parse_pid(argv[2], &pid) < 0)
                pid = 0;
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (c && c->kind == MPS_CONNECTION_CLIENT && c->client.pid == pid &&
                    &daemon->servers[c->client.server] == server) {
                        mps_log(daemon, "Terminating client %d of server %d", (int)pid,
                                (int)server->pid);
                        mps_connection_close(daemon, c);
                        return;
                }
        }
        mps_server_log(daemon, server->pid,
                       "Client termination request failed: There is no active client context "
                       "found for process %s.",
                       argc > 2 ? argv[2] : "");
        mps_server_log(daemon, server->pid,
                       "Client termination failed with invalid device context.");
        mps_answer_printf(answer, "201\n");
}

static void cmd_set_default_active_thread_percentage(struct mps_daemon *daemon,
                                                     struct mps_connection *connection, int argc,
                                                     char **argv, struct mps_answer *answer)
{
        /* Driver 580 does not reject a bad value: it prints the unchanged one. */
        if (argc > 1 && !daemon->faults.ignore_defaults)
                (void)mps_parse_percentage(argv[1], &daemon->defaults.thread_percentage);
        mps_answer_printf(answer, "%.1f\n", daemon->defaults.thread_percentage);
}

static void cmd_get_default_active_thread_percentage(struct mps_daemon *daemon,
                                                     struct mps_connection *connection, int argc,
                                                     char **argv, struct mps_answer *answer)
{
        mps_answer_printf(answer, "%.1f\n", daemon->defaults.thread_percentage);
}

static void cmd_set_active_thread_percentage(struct mps_daemon *daemon,
                                             struct mps_connection *connection, int argc,
                                             char **argv, struct mps_answer *answer)
{
        struct mps_server *server = server_argument(daemon, argc > 1 ? argv[1] : NULL, answer);

        if (!server)
                return;
        if (argc > 2)
                (void)mps_parse_percentage(argv[2], &server->limits.thread_percentage);
        mps_answer_printf(answer, "%.1f\n", server->limits.thread_percentage);
}

static void cmd_get_active_thread_percentage(struct mps_daemon *daemon,
                                             struct mps_connection *connection, int argc,
                                             char **argv, struct mps_answer *answer)
{
        struct mps_server *server = server_argument(daemon, argc > 1 ? argv[1] : NULL, answer);

        if (server)
                mps_answer_printf(answer, "%.1f\n", server->limits.thread_percentage);
}

static void cmd_set_default_device_pinned_mem_limit(struct mps_daemon *daemon,
                                                    struct mps_connection *connection, int argc,
                                                    char **argv, struct mps_answer *answer)
{
        if (!daemon->faults.ignore_defaults)
                set_pinned(daemon, &daemon->defaults, argv[0], argc, argv, 1);
}

static void cmd_get_default_device_pinned_mem_limit(struct mps_daemon *daemon,
                                                    struct mps_connection *connection, int argc,
                                                    char **argv, struct mps_answer *answer)
{
        get_pinned(daemon, &daemon->defaults, argc, argv, 1, answer);
}

static void cmd_set_device_pinned_mem_limit(struct mps_daemon *daemon,
                                            struct mps_connection *connection, int argc,
                                            char **argv, struct mps_answer *answer)
{
        struct mps_server *server = server_argument(daemon, argc > 1 ? argv[1] : NULL, answer);

        if (server)
                set_pinned(daemon, &server->limits, argv[0], argc, argv, 2);
}

static void cmd_get_device_pinned_mem_limit(struct mps_daemon *daemon,
                                            struct mps_connection *connection, int argc,
                                            char **argv, struct mps_answer *answer)
{
        struct mps_server *server = server_argument(daemon, argc > 1 ? argv[1] : NULL, answer);

        if (server)
                get_pinned(daemon, &server->limits, argc, argv, 2, answer);
}

static void cmd_set_default_client_priority(struct mps_daemon *daemon,
                                            struct mps_connection *connection, int argc,
                                            char **argv, struct mps_answer *answer)
{
        if (argc > 1 && (strcmp(argv[1], "0") == 0 || strcmp(argv[1], "1") == 0)) {
                if (!daemon->faults.ignore_defaults)
                        daemon->default_client_priority = argv[1][0] - '0';
        } else
                mps_answer_printf(answer, "Invalid priority value - must be 0 or 1!\n");
}

static void cmd_get_default_client_priority(struct mps_daemon *daemon,
                                            struct mps_connection *connection, int argc,
                                            char **argv, struct mps_answer *answer)
{
        mps_answer_printf(answer, "%d\n", daemon->default_client_priority);
}

/* The PCI column as driver 580 prints it: 00000000:00:06.0 reads 0000:00.06.00. */
static void device_query_pci(const struct mps_device *device, char *text, size_t size)
{
        unsigned domain = 0, bus = 0, slot = 0, function = 0;

        if (sscanf(device->pci_bus_id, "%x:%x:%x.%x", &domain, &bus, &slot, &function) != 4)
                domain = bus = slot = function = 0;
        snprintf(text, size, "%04x:%02x.%02x.%02x", domain & 0xffff, bus & 0xff, slot & 0xff,
                 function & 0xff);
}

/* One table, columns as driver 580 spaces them (mps_control_unknowns.txt). Attributes read N/A
 * with and without limits set; what else it may show is not read. */
static void device_table(struct mps_daemon *daemon, struct mps_answer *answer)
{
        char pci[32];

        mps_answer_printf(answer, "%-16s%-15s%-42s%-34s%s\n", "Device Ordinal", "PCI IDs", "UUID",
                          "Name", "Attributes");
        for (size_t d = 0; d < daemon->device_count; d++) {
                const struct mps_device *device = &daemon->devices[d];
                device_query_pci(device, pci, sizeof(pci));
                mps_answer_printf(answer, "%-16zu%-15s%-42s%-34s%s\n", d, pci, device->uuid,
                                  device->name, "N/A");
        }
}

/* `Default`, then a blank line and `Server S` before each ready server's table. The PID and
 * --csv arguments the help lists are not simulated (ignored). */
static void cmd_device_query(struct mps_daemon *daemon, struct mps_connection *connection, int argc,
                             char **argv, struct mps_answer *answer)
{
        mps_answer_printf(answer, "Default\n");
        device_table(daemon, answer);
        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                struct mps_server *server = &daemon->servers[i];
                /* a starting server has its table too (mps_control_unknowns2.txt) */
                if (!server->in_use || server->state == MPS_SERVER_EXITING)
                        continue;
                mps_answer_printf(answer, "\nServer %d\n", (int)server->pid);
                device_table(daemon, answer);
        }
}

static void cmd_quit(struct mps_daemon *daemon, struct mps_connection *connection, int argc,
                     char **argv, struct mps_answer *answer)
{
        long seconds = -1;
        char *end;

        if (argc > 2 && strcmp(argv[1], "-t") == 0) {
                seconds = strtol(argv[2], &end, 10);
                if (*end || seconds < 0)
                        seconds = -1;
                else if (seconds > 86400)
                        seconds = 86400;
        }
        /* Driver 580 logs this line only for -t (recon and mps_control_unknowns.txt). */
        if (seconds >= 0)
                mps_log(daemon, "quit command issued with timeout of %ld", seconds);

        if (daemon->faults.hang_on_quit) {
                daemon->state = MPS_DAEMON_HUNG; /* SIMGPU_MPS_HANG_ON_QUIT */
                return;
        }
        daemon->state = MPS_DAEMON_QUITTING;
        daemon->quit_deadline_ms = seconds >= 0 ? mps_now_ms() + seconds * 1000 : -1;
}

static const struct command commands[] = {
    {"get_server_list", cmd_get_server_list},
    {"get_server_status", cmd_get_server_status},
    {"get_client_list", cmd_get_client_list},
    {"ps", cmd_ps},
    {"get_device_client_list", cmd_get_device_client_list},
    {"start_server", cmd_start_server},
    {"shutdown_server", cmd_shutdown_server},
    {"terminate_client", cmd_terminate_client},
    {"set_default_active_thread_percentage", cmd_set_default_active_thread_percentage},
    {"get_default_active_thread_percentage", cmd_get_default_active_thread_percentage},
    {"set_active_thread_percentage", cmd_set_active_thread_percentage},
    {"get_active_thread_percentage", cmd_get_active_thread_percentage},
    {"set_default_device_pinned_mem_limit", cmd_set_default_device_pinned_mem_limit},
    {"get_default_device_pinned_mem_limit", cmd_get_default_device_pinned_mem_limit},
    {"set_device_pinned_mem_limit", cmd_set_device_pinned_mem_limit},
    {"get_device_pinned_mem_limit", cmd_get_device_pinned_mem_limit},
    {"set_default_client_priority", cmd_set_default_client_priority},
    {"get_default_client_priority", cmd_get_default_client_priority},
    {"device_query", cmd_device_query},
    {"quit", cmd_quit},
};

/* simgpu_attach PID UID THREAD_PCT PINNED_BYTES EXE_PATH (mps_wire.h). EXE_PATH is the rest of
 * the line and may hold spaces. Answers now, or later when the client leaves the pending list. */
static void internal_attach(struct mps_daemon *daemon, struct mps_connection *connection,
                            const char *arguments)
{
        struct mps_client *client = &connection->client;
        long long pid, uid;
        double percentage;
        unsigned long long pinned;
        int exe_at = -1;

        if (connection->kind == MPS_CONNECTION_CLIENT ||
            connection->kind == MPS_CONNECTION_PENDING) {
                static const char text[] = "already attached\n";
                mps_connection_queue(connection, 1, text, sizeof(text) - 1);
                return;
        }
        if (sscanf(arguments, "%lld %lld %lf %llu %n", &pid, &uid, &percentage, &pinned, &exe_at) <
                4 ||
            exe_at < 0 || pid <= 0 || pid > 0x7fffffffLL || uid < 0 || uid > 0xfffffffeLL ||
            !isfinite(percentage) || percentage < 0) {
                static const char text[] = "malformed simgpu_attach\n";
                mps_connection_queue(connection, 1, text, sizeof(text) - 1);
                return;
        }
        memset(client, 0, sizeof(*client));
        client->pid = (pid_t)pid;
        client->uid = (uid_t)uid;
        client->thread_percentage = percentage;
        client->pinned = pinned;
        snprintf(client->exe, sizeof(client->exe), "%s", arguments + exe_at);
        client->sequence = daemon->next_sequence++;
        mps_client_attach(daemon, connection);
}

static void log_answer(struct mps_daemon *daemon, const struct mps_answer *answer)
{
        const char *line = answer->text;

        while (*line) {
                const char *end = strchr(line, '\n');
                int length = end ? (int)(end - line) : (int)strlen(line);
                mps_log(daemon, "%.*s", length, line);
                line += length + (end ? 1 : 0);
        }
}

void mps_command_run(struct mps_daemon *daemon, struct mps_connection *connection, char *line)
{
        static const size_t prefix_length = sizeof(MPS_WIRE_INTERNAL_PREFIX) - 1;
        static struct mps_answer answer; /* one command at a time; too big for the stack */
        char copy[MPS_LINE_MAX], *argv[MPS_MAX_ARGS + 1], *save = NULL;
        int argc = 0;

        if (strncmp(line, "simgpu_attach ", 14) == 0) {
                internal_attach(daemon, connection, line + 14);
                return;
        }

        if (connection->kind == MPS_CONNECTION_NEW) {
                /* Driver 580 serves one control client at a time and refuses the others
                 * (docs/driver-facts.md); clients attaching are never refused. */
                if (mps_daemon_held_by_other(daemon, connection)) {
                        mps_connection_refuse_busy(connection);
                        return;
                }
                mps_log(daemon, "NEW UI");
                connection->ui_logged = true;
                connection->kind = MPS_CONNECTION_UI;
        }
        mps_log(daemon, "Cmd:%s", line);
        mps_drop_departed_clients(daemon);
        memset(&answer, 0, sizeof(answer));
        snprintf(copy, sizeof(copy), "%s", line);
        for (char *word = strtok_r(copy, " \t", &save); word && argc < MPS_MAX_ARGS;
             word = strtok_r(NULL, " \t", &save))
                argv[argc++] = word;
        argv[argc] = NULL;

        const struct command *found = NULL;
        if (argc > 0 && strncmp(argv[0], MPS_WIRE_INTERNAL_PREFIX, prefix_length) != 0)
                for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                        if (strcmp(commands[i].name, argv[0]) == 0)
                                found = &commands[i];
        if (found)
                found->run(daemon, connection, argc, argv, &answer);
        else
                mps_answer_printf(&answer, "Unknown command \"%s\"\n", line);

        log_answer(daemon, &answer);
        mps_connection_queue(connection, answer.status, answer.text, answer.used);
}
