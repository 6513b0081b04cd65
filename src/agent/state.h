/* The agent's memory and the calls between its files: the targets it supervises (each with its
 * daemon, its restarts, its one control query at a time, its placements), the helpers it forks,
 * the socket's clients, and the loop's own fds. Nothing here is shared with other processes. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agent/agent.h"
#include "agent/notify.h"
#include "base/spawn.h"
#include "driver/mps_answer.h"
#include "node/layout.h"
#include "node/node.h"
#include "ops/config.h"
#include "ops/node_reader.h"
#include "ops/ops.h"

/* Where a supervised target is. */
enum supervision {
        SUPERVISION_NEW,      /* not started yet */
        SUPERVISION_STARTING, /* a daemon runs (ours, or one adopted) but has not answered yet */
        SUPERVISION_READY,    /* it answered */
        SUPERVISION_BACKOFF,  /* it died: started again at restart_at_ms */
        SUPERVISION_REFUSED,  /* it cannot be started now (error says why): tried at the poll */
        SUPERVISION_STOPPING, /* a stopper works on it */
        SUPERVISION_STOPPED,  /* stopped on request: not started until asked */
};

enum query_kind {
        QUERY_ANSWER,       /* get_server_list: does a new daemon answer yet */
        QUERY_OVERVIEW,     /* its servers, clients and default limits, for status and placement */
        QUERY_LIMITS,       /* set_default_* and every default read back */
        QUERY_START_SERVER, /* start_server -uid UID */
};

/* Where the configuration's limits and server ahead of a daemon are: applied after each (re)start
 * before it counts as ready, and again when a reload changes them. */
enum configure_step {
        CONFIGURE_NONE,           /* nothing to do */
        CONFIGURE_LIMITS,         /* the limits are to be set and read back */
        CONFIGURE_SERVER,         /* the overview is asked: is a server ready */
        CONFIGURE_SERVER_STARTED, /* start_server was sent: the overview asked until it is ready */
};

/* A program `run` placed on a target, counted until it exits (its pidfd says when). */
struct reservation {
        pid_t pid;
        int pidfd;
};

struct agent_target {
        char uuid[NODE_UUID_MAX];
        char name[32]; /* "0:1:0", "1"; "-" when NVML no longer lists it */
        enum target_kind kind;
        struct layout_paths paths;
        bool wanted;   /* among the desired targets of the node as last read */
        bool explicit; /* started by a request although not desired by default */
        bool held;     /* stopped by a request: not restarted until started again */
        bool remove;   /* NVML no longer lists it: forgotten once stopped */
        enum supervision state;
        struct error error; /* REFUSED: why; else the last start failure */
        bool error_logged;  /* that error was logged (a refusal repeated at each poll is not) */

        /* the daemon */
        pid_t pid;
        bool adopted;             /* found running, not our child: watched by adopted_pidfd */
        struct spawn_child child; /* our own (started with -f) */
        int adopted_pidfd;        /* -1 when none */
        long long started_ms;     /* when it was started or adopted */
        long long answer_by_ms;   /* a new daemon that has not answered by then is ended */
        char words[200];          /* the last line it wrote, for its exit cause */
        bool recovered;           /* its start cleaned a dead daemon's leftovers */

        /* the configuration's limits and server ahead */
        struct target_limits limits;
        enum configure_step configure;
        bool server_start_sent;
        long long configure_by_ms;
        char limits_mismatch[400]; /* the last apply: what did not read back as asked ("": none) */

        /* restarts */
        unsigned restarts;
        unsigned quick_deaths; /* deaths in a row, each within AGENT_HEALTHY_MS of its start */
        unsigned backoff_ms;
        long long restart_at_ms;
        char last_exit[300];
        long long last_exit_ms;
        bool crash_loop;

        /* the control queue: at most one query in flight */
        enum query_kind query_kind;
        struct spawn_child query; /* pid 0: none in flight */
        char query_commands[512]; /* its stdin, written while it runs */
        long long query_at_ms;    /* the next query not before then (after a refusal) */
        unsigned busy_pause_ms;
        int turn_fd; /* the daemon's turn (node's flock on its pipe folder) while we ask */
        bool want_overview;
        struct mps_overview overview;
        bool have_overview;
        long long overview_ms;
        struct error overview_error; /* the last overview failed: why (not answering) */

        struct reservation *reservations;
        size_t reservation_count;
};

/* A forked helper that stops targets with ops_stop (what `mpsmig stop` runs), so that the loop
 * goes on while daemons quit; it writes its results as JSON into a pipe and exits. */
struct stopper {
        pid_t pid;
        int pidfd;
        int pipe_fd;
        char *text;
        size_t used;
        size_t capacity;
        char (*uuids)[NODE_UUID_MAX];
        size_t count;
        bool shutdown;               /* the agent's own stop (SIGTERM) */
        bool force;                  /* stop --force */
        struct agent_client *client; /* a stop request waiting for the results, or NULL */
        struct stopper *next;
};

enum client_phase {
        CLIENT_READING, /* the request, until the peer shuts its side down */
        CLIENT_WAITING, /* a start or stop being done */
        CLIENT_WRITING, /* the answer */
};

struct agent_client {
        int fd;
        pid_t pid; /* SO_PEERCRED */
        uid_t uid;
        enum client_phase phase;
        char *in;
        size_t in_used;
        char *out;
        size_t out_size;
        size_t out_sent;
        long long deadline_ms;
        json_t *waiting;              /* CLIENT_WAITING: the request being done */
        char (*uuids)[NODE_UUID_MAX]; /* ... and the targets it waits for */
        size_t uuid_count;
        bool gone; /* closed: freed by the loop */
        struct agent_client *next;
};

struct agent {
        struct agent_options options;
        struct config *config;      /* the file as last read well (NULL: none read yet) */
        bool multiuser;             /* -M, as the file said when the agent began */
        char runtime_dir[PATH_MAX]; /* the file's runtime_dir, when it chose the folder */
        struct ops_context context; /* layout, control program, node and its desired targets */
        char *node_text;            /* the node as NVML's reader gave it, for answers */
        long long node_read_ms;
        struct agent_target **targets;
        size_t target_count;
        size_t target_capacity;

        int signal_fd;
        int timer_fd;
        int listen_fd;
        int lock_fd; /* agent.lock, held for the agent's life */
        char socket_path[PATH_MAX];

        struct node_reader reader;
        bool reading;
        bool read_again; /* a SIGHUP came while reading */
        bool node_known; /* a first read succeeded */
        bool reloading;  /* RELOADING=1 sent, READY=1 owed */
        long long poll_at_ms;

        struct stopper *stoppers;
        struct agent_client *clients;
        size_t client_count;

        struct notifier notifier;
        bool ready_sent;
        char status_sent[256];

        bool shutting_down;
        long long shutdown_by_ms;
        bool shutdown_stopper_started;
        int shutdown_failures;
};

/* supervise.c: one target's daemon */
struct agent_target *agent_target_new(const char *uuid);
void agent_target_free(struct agent_target *target);
struct agent_target *agent_find(const struct agent *agent, const char *uuid);
/* Starts (or adopts) the daemons of the targets that need it now, under the node lock. */
void agent_start_due(struct agent *agent);
/* Steps every child of the target and its state after poll() or the timer. */
void agent_target_step(struct agent *agent, struct agent_target *target);
/* The earliest time a target needs a step (0: none). */
long long agent_target_wakeup(const struct agent_target *target);
/* Appends the target's fds to watch; returns how many were added. */
size_t agent_target_pollfds(const struct agent_target *target, struct pollfd *fds);
/* Forgets the daemon after a stop (its death expected). */
void agent_target_forget_daemon(struct agent_target *target);
/* Cancels the query in flight and drops the overview. */
void agent_target_cancel_query(struct agent_target *target);
/* Asks for a fresh overview soon. */
void agent_target_want_overview(struct agent_target *target);
/* Drops reservations whose program has exited. */
void agent_target_prune_reservations(struct agent_target *target);
/* Whether the target has a live daemon process. */
bool agent_target_has_daemon(const struct agent_target *target);
const char *supervision_string(const struct agent_target *target);
/* The target's limits as the configuration now gives them: applied again when they changed. */
void agent_target_set_limits(struct agent *agent, struct agent_target *target,
                             const struct target_limits *limits);

/* reconcile.c: the node */
void agent_read_node(struct agent *agent);
void agent_reader_step(struct agent *agent);
/* Starts a stopper for `targets`; client (may be NULL) gets the results. */
int agent_stop_targets(struct agent *agent, struct agent_target **targets, size_t count,
                       bool shutdown, bool force, struct agent_client *client);
size_t agent_stopper_pollfds(const struct agent *agent, struct pollfd *fds, size_t max);
void agent_stoppers_step(struct agent *agent);
/* Stops what should no longer run (vanished targets): called after each change. */
void agent_stop_unwanted(struct agent *agent);

/* server.c: the socket */
int agent_listen(struct agent *agent, struct error *err);
void agent_accept(struct agent *agent);
size_t agent_client_pollfds(const struct agent *agent, struct pollfd *fds, size_t max);
void agent_clients_step(struct agent *agent);
long long agent_clients_wakeup(const struct agent *agent);
/* A waiting start or stop request may be answered now. */
void agent_clients_progress(struct agent *agent);
void agent_client_answer(struct agent_client *client, json_t *answer);
void agent_close_listener(struct agent *agent);

/* answers.c: what a request is answered */
json_t *agent_answer_request(struct agent *agent, struct agent_client *client, json_t *request);
json_t *agent_answer_waiting(struct agent *agent, struct agent_client *client);
bool agent_waiting_done(struct agent *agent, const struct agent_client *client);

/* loop.c */
/* Reads the configuration file again (SIGHUP): a bad one is logged with FILE:LINE and the running
 * one kept. */
void agent_reload_config(struct agent *agent);
void agent_notify_progress(struct agent *agent);
