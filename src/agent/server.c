/* The agent's socket, <runtime folder>/agent.sock: a stream socket every user may connect to
 * (authority comes from SO_PEERCRED, per request), one JSON request read until the peer shuts its
 * side down, one JSON answer written, then closed. Non-blocking throughout: a slow or silent peer
 * costs the loop nothing and is dropped at its deadline. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/protocol.h"
#include "agent/state.h"
#include "base/cleanup.h"
#include "base/flock_wait.h"

#define CLIENT_DEADLINE_MS 10000 /* to send a request, and to take its answer */
#define CLIENTS_MAX        1024  /* connections at once; more wait in the backlog */
#define LISTEN_BACKLOG     256

int agent_listen(struct agent *agent, struct error *err)
{
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int n = snprintf(agent->socket_path, sizeof(agent->socket_path), "%s/%s",
                         agent->context.layout.runtime_dir, AGENT_SOCKET_NAME);
        if (n < 0 || (size_t)n >= sizeof(address.sun_path))
                return error_set(err, -ENAMETOOLONG,
                                 "the agent's socket %s/%s is too long for a unix socket address",
                                 agent->context.layout.runtime_dir, AGENT_SOCKET_NAME);
        memcpy(address.sun_path, agent->socket_path, (size_t)n + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return error_set(err, -errno, "cannot make the agent's socket: %s",
                                 strerror(errno));
        /* The agent lock is ours: a socket left there is a dead agent's. */
        (void)unlink(agent->socket_path);
        if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
                return error_set(err, -errno, "cannot bind the agent's socket %s: %s",
                                 agent->socket_path, strerror(errno));
        /* Every user may ask (status, env, run); what each may do is decided per request. */
        if (chmod(agent->socket_path, 0666) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
                int e = errno;
                (void)unlink(agent->socket_path);
                return error_set(err, -e, "cannot listen on the agent's socket %s: %s",
                                 agent->socket_path, strerror(e));
        }
        agent->listen_fd = TAKE_FD(fd);
        return 0;
}

void agent_close_listener(struct agent *agent)
{
        if (agent->listen_fd < 0)
                return;
        (void)close(agent->listen_fd);
        agent->listen_fd = -1;
        (void)unlink(agent->socket_path);
}

void agent_accept(struct agent *agent)
{
        while (agent->listen_fd >= 0 && agent->client_count < CLIENTS_MAX) {
                int fd = accept4(agent->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                        return; /* EAGAIN, or a peer that went away already */
                struct ucred peer;
                socklen_t length = sizeof(peer);
                struct agent_client *client = calloc(1, sizeof(*client));
                if (!client || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) < 0) {
                        free(client);
                        (void)close(fd);
                        continue;
                }
                client->fd = fd;
                client->pid = peer.pid;
                client->uid = peer.uid;
                client->phase = CLIENT_READING;
                client->deadline_ms = monotonic_now_ms() + CLIENT_DEADLINE_MS;
                client->next = agent->clients;
                agent->clients = client;
                agent->client_count++;
        }
}

void agent_client_answer(struct agent_client *client, json_t *answer)
{
        free(client->out);
        char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        /* One line: the newline ends the answer, so the client need not wait for the close. */
        if (!text || asprintf(&client->out, "%s\n", text) < 0)
                client->out = strdup("{\"version\":1,\"ok\":false,\"failure\":\"other\","
                                     "\"error\":{\"errno\":-12,\"message\":\"out of memory\"}}\n");
        free(text);
        client->out_size = client->out ? strlen(client->out) : 0;
        client->out_sent = 0;
        client->phase = CLIENT_WRITING;
        client->deadline_ms = monotonic_now_ms() + CLIENT_DEADLINE_MS;
}

size_t agent_client_pollfds(const struct agent *agent, struct pollfd *fds, size_t max)
{
        size_t n = 0;
        for (const struct agent_client *c = agent->clients; c && n < max; c = c->next) {
                if (c->gone || c->phase == CLIENT_WAITING)
                        continue;
                fds[n++] = (struct pollfd){.fd = c->fd,
                                           .events = c->phase == CLIENT_READING ? POLLIN : POLLOUT};
        }
        return n;
}

long long agent_clients_wakeup(const struct agent *agent)
{
        long long at = 0;
        for (const struct agent_client *c = agent->clients; c; c = c->next)
                if (!c->gone && c->phase != CLIENT_WAITING && (at == 0 || c->deadline_ms < at))
                        at = c->deadline_ms;
        return at;
}

/* Reads what the peer sent; true once it has shut its side down (the request is complete). */
static bool read_request(struct agent_client *c)
{
        if (!c->in) {
                c->in = malloc(AGENT_REQUEST_MAX + 1);
                if (!c->in) {
                        c->gone = true;
                        return false;
                }
        }
        for (;;) {
                if (c->in_used >= AGENT_REQUEST_MAX) {
                        c->gone = true; /* not one of ours */
                        return false;
                }
                ssize_t n = recv(c->fd, c->in + c->in_used, AGENT_REQUEST_MAX - c->in_used, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return false;
                if (n < 0) {
                        c->gone = true;
                        return false;
                }
                if (n == 0) {
                        c->in[c->in_used] = '\0';
                        return true;
                }
                c->in_used += (size_t)n;
        }
}

static void write_answer(struct agent_client *c)
{
        while (c->out_sent < c->out_size) {
                ssize_t n =
                    send(c->fd, c->out + c->out_sent, c->out_size - c->out_sent, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n < 0) {
                        c->gone = true;
                        return;
                }
                c->out_sent += (size_t)n;
        }
        /* All sent: the end of the stream is the end of the answer, said now (the fd itself is
         * closed at the loop's next turn, which may be a while). */
        (void)shutdown(c->fd, SHUT_RDWR);
        c->gone = true;
}

static void handle_request(struct agent *agent, struct agent_client *c)
{
        json_error_t parse_error;
        json_t *request = json_loads(c->in, 0, &parse_error);
        json_t *answer;
        if (!request || !json_is_object(request)) {
                struct error err = {0};
                (void)error_set(&err, -EBADMSG, "the request is not a JSON object: %s",
                                parse_error.text);
                answer = agent_error_answer(&err, AGENT_FAILURE_USAGE);
        } else {
                answer = agent_answer_request(agent, c, request);
        }
        json_decref(request);
        if (c->phase == CLIENT_WAITING) {
                json_decref(answer);
                return; /* answered once the work is done */
        }
        agent_client_answer(c, answer);
        json_decref(answer);
        write_answer(c);
}

static void client_free(struct agent_client *c)
{
        (void)close(c->fd);
        json_decref(c->waiting);
        free(c->uuids);
        free(c->in);
        free(c->out);
        free(c);
}

void agent_clients_step(struct agent *agent)
{
        long long now = monotonic_now_ms();
        for (struct agent_client *c = agent->clients; c; c = c->next) {
                if (c->gone)
                        continue;
                if (c->phase == CLIENT_READING && read_request(c))
                        handle_request(agent, c);
                else if (c->phase == CLIENT_WRITING)
                        write_answer(c);
                if (!c->gone && c->phase != CLIENT_WAITING && now >= c->deadline_ms)
                        c->gone = true;
        }
        struct agent_client **link = &agent->clients;
        while (*link) {
                struct agent_client *c = *link;
                if (!c->gone) {
                        link = &c->next;
                        continue;
                }
                /* A stopper that would answer this client answers nobody now. */
                for (struct stopper *s = agent->stoppers; s; s = s->next)
                        if (s->client == c)
                                s->client = NULL;
                *link = c->next;
                agent->client_count--;
                client_free(c);
        }
}

void agent_clients_progress(struct agent *agent)
{
        for (struct agent_client *c = agent->clients; c; c = c->next) {
                if (c->gone || c->phase != CLIENT_WAITING || !c->waiting ||
                    !agent_waiting_done(agent, c))
                        continue;
                json_t *answer = agent_answer_waiting(agent, c);
                agent_client_answer(c, answer);
                json_decref(answer);
                write_answer(c);
        }
}
