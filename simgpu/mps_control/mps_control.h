/* simgpu's nvidia-cuda-mps-control: the state that its files share (the daemon, its servers, its
 * connections and their clients) and the functions each file offers the others. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "topology.h"

#define MPS_BINARY_VERSION_DEFAULT 13000
#define MPS_PIPE_DIR_DEFAULT       "/tmp/nvidia-mps"
#define MPS_LOG_DIR_DEFAULT        "/var/log/nvidia-mps"
#define MPS_PID_FILE               "nvidia-cuda-mps-control.pid"
#define MPS_LOCK_FILE              "control_lock"
#define MPS_PRIVILEGED_SOCKET      "control_privileged"
#define MPS_LOG_FIFO               "log"
#define MPS_START_LATENCY_MS       35
#define MPS_SERVER_START_MS        170  /* a server's start to "NEW SERVER N: Ready" on the H100 */
#define MPS_DIR_MAX                3968 /* a folder path, leaving room for a file name */

/* Bounds: a request line (as in mps_wire.c), connections, devices, servers alive at once
 * (one serving plus those still exiting), clients per server (the real limit per device is 48),
 * queued answer bytes per connection, arguments per command. */
#define MPS_LINE_MAX        4096
#define MPS_MAX_CONNECTIONS 256
#define MPS_MAX_DEVICES     64
#define MPS_MAX_SERVERS     8
#define MPS_MAX_CLIENTS     48
#define MPS_OUTPUT_MAX      (256 * 1024)
#define MPS_MAX_ARGS        8

/* Limits a server hands its clients: copied from the daemon's defaults when it starts.
 * Pinned limits read back only under the key they were set with (ordinal or UUID), and both
 * keys of a device apply to its clients. 0 bytes means "not set". */
struct mps_limits {
        double thread_percentage;
        unsigned long long pinned_by_ordinal[MPS_MAX_DEVICES];
        unsigned long long pinned_by_uuid[MPS_MAX_DEVICES];
};

/* One device the daemon sees (after CUDA_VISIBLE_DEVICES), ordinal = index in the array. */
struct mps_device {
        char uuid[SIM_UUID_MAX];
        char name[SIM_NAME_MAX + SIM_PROFILE_MAX + 8];
        char pci_short[32];  /* "17:00.0" */
        char pci_bus_id[32]; /* "00000000:17:00.0" */
};

enum mps_server_state {
        MPS_SERVER_STARTING, /* listed, but busy: ps skips it, its clients wait as pending */
        MPS_SERVER_ACTIVE,   /* takes new clients */
        MPS_SERVER_DRAINING, /* shut down once its last client leaves; takes no new ones */
        MPS_SERVER_EXITING,  /* its pipe is closed; waiting to reap it */
};

struct mps_server {
        bool in_use;
        pid_t pid;
        int pidfd;
        int pipe_fd; /* the write end; the server exits on end-of-file */
        uid_t uid;
        enum mps_server_state state;
        int64_t ready_at_ms; /* CLOCK_MONOTONIC, while STARTING */
        struct mps_limits limits;
        unsigned next_client_id;
};

enum mps_connection_kind {
        MPS_CONNECTION_NEW,     /* accepted, nothing read yet */
        MPS_CONNECTION_UI,      /* the control program in client mode */
        MPS_CONNECTION_PENDING, /* a client waiting for its user's server */
        MPS_CONNECTION_CLIENT,  /* an attached client (libcuda) */
        MPS_CONNECTION_CLOSED,  /* closed; freed at the end of the loop's round */
};

struct mps_client {
        pid_t pid;
        uid_t uid;
        double thread_percentage;  /* what the client asked for; 0: not set */
        unsigned long long pinned; /* likewise */
        char exe[1024];
        int server;                  /* index in daemon.servers, when attached */
        unsigned id;                 /* per-server client number, the ID column of ps */
        unsigned long pid_namespace; /* inode of /proc/PID/ns/pid */
        uint64_t sequence;           /* arrival order, for the pending list */
};

struct mps_connection {
        int fd;
        enum mps_connection_kind kind;
        bool ui_logged;       /* a control (UI) connection: it holds the daemon until it closes */
        bool closing;         /* close once the output is written */
        bool awaiting_server; /* ps answered while a server starts: sent once none starts */
        char input[MPS_LINE_MAX];
        size_t input_used;
        char *output;
        size_t output_used, output_size;
        struct mps_client client;
};

enum mps_daemon_state {
        MPS_DAEMON_RUNNING,
        MPS_DAEMON_QUITTING, /* quit accepted: waiting for clients to leave, or the timeout */
        MPS_DAEMON_HUNG,     /* SIMGPU_MPS_HANG_ON_QUIT: quit accepted, never exits */
        MPS_DAEMON_DONE,
};

struct mps_faults {
        bool fail_start;
        bool hang_on_quit;
        bool ignore_term;
        bool no_answer;
        bool ignore_defaults; /* set_default_* answer as usual and change nothing */
        unsigned slow_start_ms;
};

struct mps_daemon {
        bool foreground;
        bool multiuser;
        char pipe_dir[MPS_DIR_MAX];
        char log_dir[MPS_DIR_MAX];
        int binary_version;
        struct mps_device devices[MPS_MAX_DEVICES];
        size_t device_count;
        struct mps_faults faults;
        unsigned start_latency_ms;
        unsigned server_start_ms;

        int lock_fd;
        int control_fd;
        int privileged_fd;
        int fifo_fd;
        int control_log_fd;
        int server_log_fd;
        bool pid_file_written;
        pid_t pid;
        pid_t watch_pid; /* SIMGPU_MPS_EXIT_WITH_PID: the daemon ends when this process does */
        int watch_pidfd; /* its pidfd, -1 when none */

        struct mps_limits defaults;
        int default_client_priority;

        struct mps_server servers[MPS_MAX_SERVERS];
        struct mps_connection *connections[MPS_MAX_CONNECTIONS];
        uint64_t next_sequence;
        uid_t pending_start_uids[MPS_MAX_SERVERS]; /* start_server requests waiting their turn */
        uint64_t pending_start_sequences[MPS_MAX_SERVERS];
        size_t pending_start_count;

        enum mps_daemon_state state;
        int64_t quit_deadline_ms; /* CLOCK_MONOTONIC; -1: none */
        char **argv;              /* to rename a forked server in `ps` */
};

/* An answer being built for one command: the text the client prints and its exit status. */
struct mps_answer {
        char text[MPS_OUTPUT_MAX / 4];
        size_t used;
        bool truncated;
        int status;
};

/* log.c */
void mps_log_open(struct mps_daemon *daemon);
void mps_log_warn_unavailable(const struct mps_daemon *daemon);
void mps_server_log(struct mps_daemon *daemon, pid_t server_pid, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void mps_log(struct mps_daemon *daemon, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
void mps_log_as(struct mps_daemon *daemon, pid_t pid, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
int64_t mps_now_ms(void);
void mps_answer_printf(struct mps_answer *answer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* setup.c: `-d` and `-f` up to a running daemon; returns the process exit status. */
int mps_daemon_main(bool foreground, bool multiuser, char **argv);

/* loop.c */
int mps_daemon_loop(struct mps_daemon *daemon);
/* Closes a connection (a client leaves its server) but frees it only at the end of the loop's
 * round, so that a command may close any connection, its own included. */
void mps_connection_close(struct mps_daemon *daemon, struct mps_connection *connection);
void mps_connection_queue(struct mps_connection *connection, int status, const char *text,
                          size_t size);
/* Whether a control connection other than `connection` holds the daemon (mps_wire.h). */
bool mps_daemon_held_by_other(struct mps_daemon *daemon, const struct mps_connection *connection);
/* Answers the refusal frame of mps_wire.h and closes the connection once it is sent. */
void mps_connection_refuse_busy(struct mps_connection *connection);
void mps_daemon_finish_quit(struct mps_daemon *daemon);
void mps_drop_departed_clients(struct mps_daemon *daemon);

/* commands.c */
void mps_command_run(struct mps_daemon *daemon, struct mps_connection *connection, char *line);
int mps_parse_size(const char *text, unsigned long long *ret);
int mps_parse_percentage(const char *text, double *ret);

/* servers.c */
int mps_server_start(struct mps_daemon *daemon, uid_t uid, struct mps_server **ret);
struct mps_server *mps_server_find(struct mps_daemon *daemon, pid_t pid);
struct mps_server *mps_server_serving(struct mps_daemon *daemon);
void mps_server_shutdown(struct mps_daemon *daemon, struct mps_server *server, bool force);
void mps_server_reaped(struct mps_daemon *daemon, struct mps_server *server);
void mps_servers_stop_all(struct mps_daemon *daemon);
/* The attached clients of `server` (of all servers when NULL) in the order they attached;
 * `ret` holds MPS_MAX_CONNECTIONS entries. Returns the count. */
size_t mps_clients_in_order(struct mps_daemon *daemon, const struct mps_server *server,
                            struct mps_connection **ret);
size_t mps_server_client_count(struct mps_daemon *daemon, const struct mps_server *server);
void mps_client_attach(struct mps_daemon *daemon, struct mps_connection *connection);
void mps_client_detached(struct mps_daemon *daemon, struct mps_connection *connection);
void mps_pending_run(struct mps_daemon *daemon);
void mps_server_start_for_uid(struct mps_daemon *daemon, uid_t uid);
/* Makes the servers whose start time has passed ready and lets the pending list move. */
void mps_servers_tick(struct mps_daemon *daemon);
/* When the next starting server becomes ready (CLOCK_MONOTONIC ms), -1 when none starts. */
int64_t mps_servers_next_ready_ms(const struct mps_daemon *daemon);
