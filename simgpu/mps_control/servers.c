/* MPS servers and their clients: a server is a forked child named nvidia-cuda-mps-server that
 * is ready after a start time (as the real one, ~170 ms) and lives until the daemon closes its
 * pipe; clients attach to their user's server (one shared by all with -M), wait on a pending
 * list while it starts or another user's server drains, and leave on EOF. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mps_control.h"

#define SERVER_NAME     "nvidia-cuda-mps-server"
#define STOP_TIMEOUT_MS 2000 /* servers exit at once on EOF; SIGKILL after this */

/* The forked server: renamed so that ps and /proc show a server, holding only its pipe, it
 * waits for end-of-file and exits 0. It never returns. */
static void server_child(struct mps_daemon *daemon, int pipe_fd)
{
        char byte;

        (void)signal(SIGTERM, SIG_DFL);
        (void)prctl(PR_SET_NAME, SERVER_NAME, 0, 0, 0);
        if (daemon->argv && daemon->argv[0]) {
                /* Rewrite argv in place: /proc/PID/cmdline then reads the server's name. */
                size_t room = strlen(daemon->argv[0]);
                for (char **arg = daemon->argv + 1; *arg; arg++)
                        memset(*arg, 0, strlen(*arg));
                memset(daemon->argv[0], 0, room);
                memcpy(daemon->argv[0], SERVER_NAME,
                       room < sizeof(SERVER_NAME) - 1 ? room : sizeof(SERVER_NAME) - 1);
        }
        if (pipe_fd != 3) {
                (void)dup2(pipe_fd, 3);
        }
        (void)close_range(4, ~0U, 0);
        for (;;) {
                ssize_t got = read(3, &byte, 1);
                if (got == 0 || (got < 0 && errno != EINTR))
                        _exit(0);
        }
}

/* Until this, get_server_list lists the server but ps skips it and its clients wait as pending
 * (control.log on the H100: "Server is not ready, push client to pending list", "Server N is
 * <busy>", then "NEW SERVER N: Ready" 163-188 ms after the start). */
static void mark_ready(struct mps_daemon *daemon, struct mps_server *server)
{
        server->state = MPS_SERVER_ACTIVE;
        /* server.log's start lines as on the H100 (ordinal-keyed limits only) */
        mps_server_log(daemon, server->pid, "Active Threads Percentage set to %.1f",
                       server->limits.thread_percentage);
        for (size_t d = 0; d < MPS_MAX_DEVICES; d++)
                if (server->limits.pinned_by_ordinal[d])
                        mps_server_log(daemon, server->pid,
                                       "Device pinned memory limit for device %zu set to 0x%llx "
                                       "bytes",
                                       d, server->limits.pinned_by_ordinal[d]);
        mps_server_log(daemon, server->pid, "Server Priority set to 0");
        mps_server_log(daemon, server->pid, "Server has started");
        mps_log(daemon, "NEW SERVER %d: Ready", (int)server->pid);
}

static struct mps_server *free_slot(struct mps_daemon *daemon)
{
        for (size_t i = 0; i < MPS_MAX_SERVERS; i++)
                if (!daemon->servers[i].in_use)
                        return &daemon->servers[i];
        return NULL;
}

int mps_server_start(struct mps_daemon *daemon, uid_t uid, struct mps_server **ret)
{
        struct mps_server *server = free_slot(daemon);
        int pipe_fds[2], pidfd;
        pid_t pid;

        if (!server)
                return -EAGAIN;
        if (pipe2(pipe_fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int saved = errno;
                (void)close(pipe_fds[0]);
                (void)close(pipe_fds[1]);
                return -saved;
        }
        if (pid == 0)
                server_child(daemon, pipe_fds[0]);
        (void)close(pipe_fds[0]);
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                int saved = errno;
                (void)close(pipe_fds[1]); /* it exits on EOF */
                (void)waitpid(pid, NULL, 0);
                return -saved;
        }
        (void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);

        memset(server, 0, sizeof(*server));
        server->in_use = true;
        server->pid = pid;
        server->pidfd = pidfd;
        server->pipe_fd = pipe_fds[1];
        server->uid = uid;
        server->state = MPS_SERVER_STARTING;
        server->ready_at_ms = mps_now_ms() + daemon->server_start_ms;
        server->limits = daemon->defaults; /* set_default_* applies to servers started later */
        mps_log_as(daemon, pid, "Starting new server %d for user %u", (int)pid, (unsigned)uid);
        if (daemon->server_start_ms == 0)
                mark_ready(daemon, server);
        *ret = server;
        return 0;
}

int64_t mps_servers_next_ready_ms(const struct mps_daemon *daemon)
{
        int64_t next = -1;

        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                const struct mps_server *server = &daemon->servers[i];
                if (server->in_use && server->state == MPS_SERVER_STARTING &&
                    (next < 0 || server->ready_at_ms < next))
                        next = server->ready_at_ms;
        }
        return next;
}

void mps_servers_tick(struct mps_daemon *daemon)
{
        int64_t now = mps_now_ms();
        bool any = false;

        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                struct mps_server *server = &daemon->servers[i];
                if (server->in_use && server->state == MPS_SERVER_STARTING &&
                    server->ready_at_ms <= now) {
                        mark_ready(daemon, server);
                        any = true;
                }
        }
        if (any)
                mps_pending_run(daemon);
}

struct mps_server *mps_server_find(struct mps_daemon *daemon, pid_t pid)
{
        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                struct mps_server *server = &daemon->servers[i];
                if (server->in_use && server->pid == pid && server->state != MPS_SERVER_EXITING)
                        return server;
        }
        return NULL;
}

struct mps_server *mps_server_serving(struct mps_daemon *daemon)
{
        for (size_t i = 0; i < MPS_MAX_SERVERS; i++)
                if (daemon->servers[i].in_use && daemon->servers[i].state == MPS_SERVER_ACTIVE)
                        return &daemon->servers[i];
        return NULL;
}

/* Whether a server runs that is not yet exiting (active or draining): without -M only one
 * user's server runs at a time. */
static bool server_busy(struct mps_daemon *daemon)
{
        for (size_t i = 0; i < MPS_MAX_SERVERS; i++)
                if (daemon->servers[i].in_use && daemon->servers[i].state != MPS_SERVER_EXITING)
                        return true;
        return false;
}

size_t mps_server_client_count(struct mps_daemon *daemon, const struct mps_server *server)
{
        size_t count = 0;

        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                const struct mps_connection *c = daemon->connections[i];
                if (c && c->kind == MPS_CONNECTION_CLIENT &&
                    &daemon->servers[c->client.server] == server)
                        count++;
        }
        return count;
}

/* Closes the clients of a server; `force` also when it is alive (shutdown_server -f, quit). */
static void close_clients(struct mps_daemon *daemon, struct mps_server *server)
{
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (c && c->kind == MPS_CONNECTION_CLIENT &&
                    &daemon->servers[c->client.server] == server)
                        mps_connection_close(daemon, c);
        }
}

void mps_server_shutdown(struct mps_daemon *daemon, struct mps_server *server, bool force)
{
        if (server->state == MPS_SERVER_EXITING)
                return;
        if (force)
                close_clients(daemon, server);
        if (mps_server_client_count(daemon, server) > 0) {
                server->state = MPS_SERVER_DRAINING;
                return;
        }
        server->state = MPS_SERVER_EXITING;
        (void)close(server->pipe_fd);
        server->pipe_fd = -1;
}

static void log_exit(struct mps_daemon *daemon, pid_t pid, int status)
{
        if (WIFEXITED(status))
                mps_log(daemon, "Server %d exited with status %d", (int)pid, WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                mps_log(daemon, "Server %d was killed by signal %d", (int)pid, WTERMSIG(status));
}

/* Called when the server's pidfd is readable: reaps it, drops clients of a server that died
 * under them, and lets the pending list move. */
void mps_server_reaped(struct mps_daemon *daemon, struct mps_server *server)
{
        int status = 0;
        pid_t got = waitpid(server->pid, &status, WNOHANG);

        if (got == 0)
                return;
        if (got == server->pid)
                log_exit(daemon, server->pid, status);
        close_clients(daemon, server);
        if (server->pipe_fd >= 0)
                (void)close(server->pipe_fd);
        (void)close(server->pidfd);
        memset(server, 0, sizeof(*server));
        mps_pending_run(daemon);
}

/* At quit: every server's pipe closed, each reaped within STOP_TIMEOUT_MS or killed. */
void mps_servers_stop_all(struct mps_daemon *daemon)
{
        int64_t deadline = mps_now_ms() + STOP_TIMEOUT_MS;

        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                struct mps_server *server = &daemon->servers[i];
                if (!server->in_use)
                        continue;
                if (server->state != MPS_SERVER_EXITING)
                        mps_log(daemon, "Try shutting down server %d, backoff is disabled",
                                (int)server->pid);
                close_clients(daemon, server);
                if (server->pipe_fd >= 0)
                        (void)close(server->pipe_fd);
                server->pipe_fd = -1;
                server->state = MPS_SERVER_EXITING;
        }
        for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                struct mps_server *server = &daemon->servers[i];
                struct pollfd pfd = {.fd = server->pidfd, .events = POLLIN};
                int64_t left;

                if (!server->in_use)
                        continue;
                while ((left = deadline - mps_now_ms()) > 0 && poll(&pfd, 1, (int)left) < 0 &&
                       errno == EINTR)
                        ;
                int status = 0;
                if (waitpid(server->pid, &status, WNOHANG) == 0) {
                        (void)pidfd_send_signal(server->pidfd, SIGKILL, NULL, 0);
                        (void)waitpid(server->pid, &status, 0);
                }
                log_exit(daemon, server->pid, status);
                (void)close(server->pidfd);
                memset(server, 0, sizeof(*server));
        }
}

static unsigned long pid_namespace(pid_t pid)
{
        char path[64];
        struct stat st;

        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
        if (stat(path, &st) == 0)
                return (unsigned long)st.st_ino;
        if (stat("/proc/self/ns/pid", &st) == 0)
                return (unsigned long)st.st_ino;
        return 0;
}

static void refuse(struct mps_connection *connection, const char *reason)
{
        char text[256];
        int length = snprintf(text, sizeof(text), "%s\n", reason);

        connection->kind = MPS_CONNECTION_UI;
        mps_connection_queue(connection, 1, text, (size_t)length);
}

/* Binds a client to a running server and answers its effective limits: the lower of the
 * server's and the client's own, the pinned limit of device 0 under either key. */
static void bind_client(struct mps_daemon *daemon, struct mps_connection *connection,
                        struct mps_server *server)
{
        struct mps_client *client = &connection->client;
        double percentage = server->limits.thread_percentage;
        unsigned long long pinned = 0, candidates[3];
        char text[128];
        int length;

        if (mps_server_client_count(daemon, server) >= MPS_MAX_CLIENTS) {
                mps_log(daemon, "Server %d has reached its limit of %d clients", (int)server->pid,
                        MPS_MAX_CLIENTS);
                refuse(connection, "the MPS server has reached its client limit");
                return;
        }
        if (client->thread_percentage > 0 && client->thread_percentage < percentage)
                percentage = client->thread_percentage;
        candidates[0] = server->limits.pinned_by_ordinal[0];
        candidates[1] = server->limits.pinned_by_uuid[0];
        candidates[2] = client->pinned;
        for (size_t i = 0; i < 3; i++)
                if (candidates[i] && (!pinned || candidates[i] < pinned))
                        pinned = candidates[i];

        client->server = (int)(server - daemon->servers);
        client->id = ++server->next_client_id;
        client->pid_namespace = pid_namespace(client->pid);
        connection->kind = MPS_CONNECTION_CLIENT;
        /* The words driver 580 writes (docs/hardware/2026-11-25/mps_control_unknowns2.txt). */
        mps_server_log(daemon, server->pid, "Client {PID: %d, Context ID: 0} connected",
                       (int)client->pid);
        length = snprintf(text, sizeof(text), "%d %g %llu\n", (int)server->pid, percentage, pinned);
        mps_connection_queue(connection, 0, text, (size_t)length);
}

static void make_pending(struct mps_daemon *daemon, struct mps_connection *connection)
{
        connection->kind = MPS_CONNECTION_PENDING;
        mps_log(daemon,
                "NEW CLIENT %d from user %u: Server is not ready, push client to "
                "pending list",
                (int)connection->client.pid, (unsigned)connection->client.uid);
}

void mps_client_attach(struct mps_daemon *daemon, struct mps_connection *connection)
{
        struct mps_server *server = mps_server_serving(daemon);
        struct mps_client *client = &connection->client;

        if (daemon->state != MPS_DAEMON_RUNNING) {
                refuse(connection, "the MPS control daemon is shutting down");
                return;
        }
        if (server && (daemon->multiuser || server->uid == client->uid)) {
                mps_log(daemon, "NEW CLIENT %d from user %u: Server already exists",
                        (int)client->pid, (unsigned)client->uid);
                bind_client(daemon, connection, server);
                return;
        }
        make_pending(daemon, connection);
        mps_pending_run(daemon);
}

void mps_client_detached(struct mps_daemon *daemon, struct mps_connection *connection)
{
        struct mps_server *server = &daemon->servers[connection->client.server];

        /* Driver 580 logs every client's exit so, misspelling included (H200, 2026-12-02:
         * docs/hardware/2026-12-02/doctor.txt). */
        mps_server_log(daemon, server->pid,
                       "Server failed to recevie command with status 806, assuming client {PID: "
                       "%d, Context ID: 0} exit",
                       (int)connection->client.pid);
        /* The caller has already taken the connection off the list. */
        if (server->state == MPS_SERVER_DRAINING && mps_server_client_count(daemon, server) == 0)
                mps_server_shutdown(daemon, server, false);
}

static int by_sequence(const void *a, const void *b)
{
        const struct mps_connection *x = *(struct mps_connection *const *)a;
        const struct mps_connection *y = *(struct mps_connection *const *)b;

        return x->client.sequence < y->client.sequence ? -1
                                                       : x->client.sequence > y->client.sequence;
}

size_t mps_clients_in_order(struct mps_daemon *daemon, const struct mps_server *server,
                            struct mps_connection **ret)
{
        size_t count = 0;

        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (c && c->kind == MPS_CONNECTION_CLIENT &&
                    (!server || &daemon->servers[c->client.server] == server))
                        ret[count++] = c;
        }
        qsort(ret, count, sizeof(ret[0]), by_sequence);
        return count;
}

/* The oldest pending uid, from clients and start_server requests; false when none. */
static bool oldest_pending(struct mps_daemon *daemon, uid_t *ret_uid)
{
        uint64_t best = UINT64_MAX;
        bool found = false;

        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                const struct mps_connection *c = daemon->connections[i];
                if (c && c->kind == MPS_CONNECTION_PENDING && c->client.sequence < best) {
                        best = c->client.sequence;
                        *ret_uid = c->client.uid;
                        found = true;
                }
        }
        for (size_t i = 0; i < daemon->pending_start_count; i++) {
                if (daemon->pending_start_sequences[i] < best) {
                        best = daemon->pending_start_sequences[i];
                        *ret_uid = daemon->pending_start_uids[i];
                        found = true;
                }
        }
        return found;
}

static void drop_pending_starts(struct mps_daemon *daemon, uid_t uid, bool all)
{
        size_t kept = 0;

        for (size_t i = 0; i < daemon->pending_start_count; i++) {
                if (!all && daemon->pending_start_uids[i] != uid) {
                        daemon->pending_start_uids[kept] = daemon->pending_start_uids[i];
                        daemon->pending_start_sequences[kept] = daemon->pending_start_sequences[i];
                        kept++;
                }
        }
        daemon->pending_start_count = kept;
}

/* Moves the pending list: binds the waiting clients of the serving user, asks a server that
 * blocks another user to drain, starts the next user's server once none runs. */
void mps_pending_run(struct mps_daemon *daemon)
{
        for (int round = 0; round < 2 && daemon->state == MPS_DAEMON_RUNNING; round++) {
                struct mps_server *server = mps_server_serving(daemon);
                uid_t uid = 0;

                if (server) {
                        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                                struct mps_connection *c = daemon->connections[i];
                                if (c && c->kind == MPS_CONNECTION_PENDING &&
                                    (daemon->multiuser || c->client.uid == server->uid))
                                        bind_client(daemon, c, server);
                        }
                        drop_pending_starts(daemon, server->uid, daemon->multiuser);
                        if (oldest_pending(daemon, &uid)) {
                                mps_log(daemon, "Try shutting down server %d", (int)server->pid);
                                mps_server_shutdown(daemon, server, false);
                        }
                        return;
                }
                if (!oldest_pending(daemon, &uid) || server_busy(daemon))
                        return;
                if (mps_server_start(daemon, uid, &server) < 0) {
                        mps_log(daemon, "Failed to start a server for user %u", (unsigned)uid);
                        drop_pending_starts(daemon, uid, false);
                        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                                struct mps_connection *c = daemon->connections[i];
                                if (c && c->kind == MPS_CONNECTION_PENDING && c->client.uid == uid)
                                        refuse(c, "the MPS server failed to start");
                        }
                        return;
                }
        }
}

void mps_server_start_for_uid(struct mps_daemon *daemon, uid_t uid)
{
        struct mps_server *server = mps_server_serving(daemon);

        if (daemon->state != MPS_DAEMON_RUNNING)
                return;
        if (server && (daemon->multiuser || server->uid == uid))
                return;
        for (size_t i = 0; i < daemon->pending_start_count; i++)
                if (daemon->pending_start_uids[i] == uid)
                        return;
        if (daemon->pending_start_count == MPS_MAX_SERVERS) {
                mps_log(daemon, "Too many servers pending");
                return;
        }
        daemon->pending_start_uids[daemon->pending_start_count] = uid;
        daemon->pending_start_sequences[daemon->pending_start_count] = daemon->next_sequence++;
        daemon->pending_start_count++;
        mps_pending_run(daemon);
}
