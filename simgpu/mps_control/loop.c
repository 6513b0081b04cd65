/* The daemon's one poll() loop: accepts connections on both sockets, reads request lines and
 * runs them (one control connection at a time, mps_wire.h), writes the framed answers, reaps
 * servers through their pidfds, makes started servers ready on time, drains the log fifo into
 * server.log and carries a quit through to the files the real daemon leaves behind. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mps_control.h"
#include "mps_wire.h"

#define POLL_MAX         (4 + MPS_MAX_SERVERS + MPS_MAX_CONNECTIONS)
#define FLUSH_AT_EXIT_MS 1000 /* how long the last answers (quit's) may take to leave */

enum poll_source { SOURCE_LISTEN, SOURCE_FIFO, SOURCE_WATCH, SOURCE_SERVER, SOURCE_CONNECTION };

struct poll_entry {
        enum poll_source source;
        void *object;
};

static bool answering(const struct mps_daemon *daemon)
{
        return !daemon->faults.no_answer && daemon->state != MPS_DAEMON_HUNG;
}

/* Appends bytes to the connection's output; a reader that never reads is dropped. */
static void append_output(struct mps_connection *connection, const char *data, size_t size)
{
        size_t needed = connection->output_used + size;

        if (needed > MPS_OUTPUT_MAX) {
                connection->closing = true; /* a reader that never reads: drop it */
                connection->output_used = 0;
                return;
        }
        if (needed > connection->output_size) {
                size_t size_new = connection->output_size ? connection->output_size : 1024;
                while (size_new < needed)
                        size_new *= 2;
                char *grown = realloc(connection->output, size_new);
                if (!grown) {
                        connection->closing = true;
                        connection->output_used = 0;
                        return;
                }
                connection->output = grown;
                connection->output_size = size_new;
        }
        memcpy(connection->output + connection->output_used, data, size);
        connection->output_used += size;
}

void mps_connection_queue(struct mps_connection *connection, int status, const char *text,
                          size_t size)
{
        char header[48];
        int header_length = snprintf(header, sizeof(header), "%d %zu\n", status, size);

        if (connection->closing || connection->kind == MPS_CONNECTION_CLOSED)
                return;
        if (connection->output_used + (size_t)header_length + size > MPS_OUTPUT_MAX) {
                connection->closing = true; /* header and text go together or not at all */
                connection->output_used = 0;
                return;
        }
        append_output(connection, header, (size_t)header_length);
        append_output(connection, text, size);
}

/* Whether another connection holds the daemon: a control (UI) connection from its first
 * command line until it closes (mps_wire.h). A holder whose peer has already hung up is closed
 * here rather than refusing: its end-of-file may simply not have had its turn in the loop, and
 * a client that asks after the previous one exited must never be refused. */
bool mps_daemon_held_by_other(struct mps_daemon *daemon, const struct mps_connection *connection)
{
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                struct pollfd pfd;

                if (!c || c == connection || c->kind != MPS_CONNECTION_UI || !c->ui_logged ||
                    c->closing)
                        continue;
                pfd = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
                if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                        mps_connection_close(daemon, c);
                        continue;
                }
                return true;
        }
        return false;
}

void mps_connection_refuse_busy(struct mps_connection *connection)
{
        static const char frame[] = MPS_WIRE_BUSY "\n";

        if (connection->closing || connection->kind == MPS_CONNECTION_CLOSED)
                return;
        append_output(connection, frame, sizeof(frame) - 1);
        connection->closing = true; /* the rest of its lines are not run */
}

/* Writes what the socket takes now; returns false when the peer is gone. */
static bool flush_output(struct mps_connection *connection)
{
        while (connection->output_used > 0) {
                ssize_t sent = send(connection->fd, connection->output, connection->output_used,
                                    MSG_NOSIGNAL | MSG_DONTWAIT);
                if (sent < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN || errno == EWOULDBLOCK;
                }
                memmove(connection->output, connection->output + sent,
                        connection->output_used - (size_t)sent);
                connection->output_used -= (size_t)sent;
        }
        return true;
}

static int free_slot(struct mps_daemon *daemon)
{
        for (int i = 0; i < MPS_MAX_CONNECTIONS; i++)
                if (!daemon->connections[i])
                        return i;
        return -1;
}

void mps_connection_close(struct mps_daemon *daemon, struct mps_connection *connection)
{
        enum mps_connection_kind was = connection->kind;

        if (was == MPS_CONNECTION_CLOSED)
                return;
        /* Marked first: the server's client count must no longer include it. */
        connection->kind = MPS_CONNECTION_CLOSED;
        if (was == MPS_CONNECTION_CLIENT)
                mps_client_detached(daemon, connection);
        else if (connection->ui_logged && daemon->state != MPS_DAEMON_DONE)
                mps_log(daemon, "UI closed"); /* "Exit with status 0" is the real last line */
        (void)close(connection->fd);
        connection->fd = -1;
        connection->output_used = 0;
}

/* Frees the connections closed during this round. */
static void sweep_closed(struct mps_daemon *daemon)
{
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (c && c->kind == MPS_CONNECTION_CLOSED) {
                        free(c->output);
                        free(c);
                        daemon->connections[i] = NULL;
                }
        }
}

static void accept_connections(struct mps_daemon *daemon, int listen_fd)
{
        for (;;) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                int slot;

                if (fd < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* EAGAIN, or a connection that died before it was taken */
                }
                slot = free_slot(daemon);
                struct mps_connection *connection =
                    slot < 0 ? NULL : calloc(1, sizeof(*connection));
                if (!connection) {
                        (void)close(fd); /* bounded: a full table refuses the connection */
                        continue;
                }
                connection->fd = fd;
                connection->kind = MPS_CONNECTION_NEW;
                daemon->connections[slot] = connection;
                mps_log(daemon, "Accepting connection...");
        }
}

/* Runs every complete line in the input buffer. A pending client's further lines wait until
 * it is attached, and those after an answer held back while a server starts until it is sent;
 * a line longer than the bound ends the connection. */
static void run_lines(struct mps_daemon *daemon, struct mps_connection *connection)
{
        while (connection->kind != MPS_CONNECTION_PENDING &&
               connection->kind != MPS_CONNECTION_CLOSED && !connection->closing &&
               !connection->awaiting_server && daemon->state != MPS_DAEMON_DONE) {
                char *newline = memchr(connection->input, '\n', connection->input_used);
                size_t length;

                if (!newline) {
                        if (connection->input_used == sizeof(connection->input))
                                connection->closing = true;
                        return;
                }
                *newline = '\0';
                length = (size_t)(newline - connection->input) + 1;
                if (answering(daemon))
                        mps_command_run(daemon, connection, connection->input);
                if (connection->kind == MPS_CONNECTION_CLOSED)
                        return; /* the command closed its own connection */
                memmove(connection->input, connection->input + length,
                        connection->input_used - length);
                connection->input_used -= length;
        }
}

static void read_connection(struct mps_daemon *daemon, struct mps_connection *connection)
{
        size_t room = sizeof(connection->input) - connection->input_used;
        ssize_t got;

        if (room == 0) {
                connection->closing = true;
                return;
        }
        got = read(connection->fd, connection->input + connection->input_used, room);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (got <= 0) {
                mps_connection_close(daemon, connection);
                return;
        }
        connection->input_used += (size_t)got;
        run_lines(daemon, connection);
}

/* Drops attached and pending clients whose peer has hung up, so that a command answers without
 * a client that has already exited even when its end-of-file has not had its turn in the loop. */
void mps_drop_departed_clients(struct mps_daemon *daemon)
{
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                struct pollfd pfd;

                if (!c || (c->kind != MPS_CONNECTION_CLIENT && c->kind != MPS_CONNECTION_PENDING))
                        continue;
                pfd = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
                if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                        mps_connection_close(daemon, c);
        }
}

static void drain_fifo(struct mps_daemon *daemon)
{
        char buffer[4096];
        ssize_t got;

        while ((got = read(daemon->fifo_fd, buffer, sizeof(buffer))) > 0)
                if (daemon->server_log_fd >= 0 &&
                    write(daemon->server_log_fd, buffer, (size_t)got) < 0)
                        break;
}

static size_t attached_clients(struct mps_daemon *daemon)
{
        size_t count = 0;

        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++)
                if (daemon->connections[i] && daemon->connections[i]->kind == MPS_CONNECTION_CLIENT)
                        count++;
        return count;
}

/* Ends a quit: servers stopped and reaped, pid file and fifo removed; the sockets and
 * control_lock stay, as on the real driver. */
void mps_daemon_finish_quit(struct mps_daemon *daemon)
{
        char path[PATH_MAX];

        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (c && (c->kind == MPS_CONNECTION_PENDING || c->kind == MPS_CONNECTION_CLIENT))
                        mps_connection_close(daemon, c);
        }
        mps_servers_stop_all(daemon);
        if (daemon->pid_file_written) {
                snprintf(path, sizeof(path), "%s/%s", daemon->pipe_dir, MPS_PID_FILE);
                (void)unlink(path);
        }
        snprintf(path, sizeof(path), "%s/%s", daemon->pipe_dir, MPS_LOG_FIFO);
        (void)unlink(path);
        mps_log(daemon, "Exit with status 0");
        daemon->state = MPS_DAEMON_DONE;
}

static void check_quit(struct mps_daemon *daemon)
{
        if (daemon->state != MPS_DAEMON_QUITTING)
                return;
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (c && c->kind == MPS_CONNECTION_PENDING)
                        mps_connection_close(daemon, c);
        }
        if (attached_clients(daemon) == 0 ||
            (daemon->quit_deadline_ms >= 0 && mps_now_ms() >= daemon->quit_deadline_ms))
                mps_daemon_finish_quit(daemon);
}

/* Sends what is queued, closing connections whose peer is gone or that asked to close. */
static void flush_all(struct mps_daemon *daemon)
{
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (!c || c->kind == MPS_CONNECTION_CLOSED || c->awaiting_server)
                        continue;
                if (!flush_output(c) || (c->closing && c->output_used == 0))
                        mps_connection_close(daemon, c);
        }
        sweep_closed(daemon);
}

/* After the quit: the last answers get a bounded time to leave, then everything closes. */
static void close_everything(struct mps_daemon *daemon)
{
        int64_t deadline = mps_now_ms() + FLUSH_AT_EXIT_MS;

        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (!c || c->kind == MPS_CONNECTION_CLOSED)
                        continue;
                while (c->output_used > 0 && mps_now_ms() < deadline) {
                        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
                        if (!flush_output(c))
                                break;
                        if (c->output_used > 0)
                                (void)poll(&pfd, 1, (int)(deadline - mps_now_ms()));
                }
                mps_connection_close(daemon, c);
        }
        sweep_closed(daemon);
}

/* Once no server is starting, the answers held back meanwhile leave and their connections'
 * next lines run (a server that died while starting ends the wait too). */
static void release_awaiting(struct mps_daemon *daemon)
{
        if (mps_servers_next_ready_ms(daemon) >= 0)
                return;
        for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                struct mps_connection *c = daemon->connections[i];
                if (!c || !c->awaiting_server)
                        continue;
                c->awaiting_server = false;
                if (c->kind != MPS_CONNECTION_CLOSED)
                        run_lines(daemon, c);
        }
}

/* Until the quit's deadline or the next server's readiness, whichever comes first. */
static int poll_timeout(const struct mps_daemon *daemon)
{
        int64_t next = mps_servers_next_ready_ms(daemon), left;

        if (daemon->state == MPS_DAEMON_QUITTING && daemon->quit_deadline_ms >= 0 &&
            (next < 0 || daemon->quit_deadline_ms < next))
                next = daemon->quit_deadline_ms;
        if (next < 0)
                return -1;
        left = next - mps_now_ms();
        return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

static void handle(struct mps_daemon *daemon, const struct pollfd *pfd,
                   const struct poll_entry *entry)
{
        switch (entry->source) {
        case SOURCE_LISTEN:
                accept_connections(daemon, pfd->fd);
                break;
        case SOURCE_FIFO:
                drain_fifo(daemon);
                break;
        case SOURCE_WATCH:
                /* SIMGPU_MPS_EXIT_WITH_PID: the test that started the daemon has ended, however
                 * it ended (SIGKILL included); end as a quit would, hung or not. */
                mps_log(daemon, "Process %d ended (SIMGPU_MPS_EXIT_WITH_PID)",
                        (int)daemon->watch_pid);
                mps_daemon_finish_quit(daemon);
                break;
        case SOURCE_SERVER: {
                struct mps_server *server = entry->object;
                if (server->in_use && server->pidfd == pfd->fd)
                        mps_server_reaped(daemon, server);
                break;
        }
        case SOURCE_CONNECTION: {
                struct mps_connection *connection = entry->object;
                if (connection->kind == MPS_CONNECTION_CLOSED)
                        break; /* closed earlier in this round */
                if (pfd->revents & (POLLIN | POLLHUP | POLLERR))
                        read_connection(daemon, connection);
                break;
        }
        }
}

int mps_daemon_loop(struct mps_daemon *daemon)
{
        struct pollfd fds[POLL_MAX];
        struct poll_entry entries[POLL_MAX];

        while (daemon->state != MPS_DAEMON_DONE) {
                size_t count = 0;
                int n;

                fds[count] = (struct pollfd){.fd = daemon->control_fd, .events = POLLIN};
                entries[count++] = (struct poll_entry){SOURCE_LISTEN, NULL};
                fds[count] = (struct pollfd){.fd = daemon->privileged_fd, .events = POLLIN};
                entries[count++] = (struct poll_entry){SOURCE_LISTEN, NULL};
                fds[count] = (struct pollfd){.fd = daemon->fifo_fd, .events = POLLIN};
                entries[count++] = (struct poll_entry){SOURCE_FIFO, NULL};
                if (daemon->watch_pidfd >= 0) {
                        fds[count] = (struct pollfd){.fd = daemon->watch_pidfd, .events = POLLIN};
                        entries[count++] = (struct poll_entry){SOURCE_WATCH, NULL};
                }
                for (size_t i = 0; i < MPS_MAX_SERVERS; i++) {
                        if (!daemon->servers[i].in_use)
                                continue;
                        fds[count] =
                            (struct pollfd){.fd = daemon->servers[i].pidfd, .events = POLLIN};
                        entries[count++] = (struct poll_entry){SOURCE_SERVER, &daemon->servers[i]};
                }
                for (size_t i = 0; i < MPS_MAX_CONNECTIONS; i++) {
                        struct mps_connection *c = daemon->connections[i];
                        if (!c)
                                continue;
                        fds[count] = (struct pollfd){.fd = c->fd, .events = POLLIN};
                        if (c->output_used > 0 && !c->awaiting_server)
                                fds[count].events |= POLLOUT;
                        entries[count++] = (struct poll_entry){SOURCE_CONNECTION, c};
                }

                n = poll(fds, count, poll_timeout(daemon));
                if (n < 0 && errno != EINTR)
                        return 1;
                for (size_t i = 0; n > 0 && i < count && daemon->state != MPS_DAEMON_DONE; i++)
                        if (fds[i].revents)
                                handle(daemon, &fds[i], &entries[i]);
                if (daemon->state != MPS_DAEMON_DONE) {
                        mps_servers_tick(daemon);
                        release_awaiting(daemon);
                }
                check_quit(daemon);
                flush_all(daemon);
        }
        close_everything(daemon);
        return 0;
}
