/* Finding MPS control daemons through /proc and proving a pid's identity before signalling it;
 * see daemon_scan.h. The program is recognised by /proc/PID/exe (which another process cannot
 * fake), by its command line only when exe cannot be read (another user's process, which we
 * could not signal anyway). */
#define _GNU_SOURCE
#include "node/daemon_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "driver/mps_control.h"

#define ENVIRON_MAX (1024 * 1024) /* bytes of /proc/PID/environ read at most */

/* Reads /proc/PID/NAME whole (up to `max` bytes) into a malloc'd buffer, NUL-terminated. */
static int read_proc(pid_t pid, const char *name, size_t max, char **ret_text, size_t *ret_size)
{
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t capacity = 4096, size = 0;
        _cleanup_free_ char *text = malloc(capacity + 1);
        if (!text)
                return -ENOMEM;
        for (;;) {
                if (size == capacity) {
                        if (capacity >= max)
                                break;
                        capacity *= 2;
                        char *bigger = realloc(text, capacity + 1);
                        if (!bigger)
                                return -ENOMEM;
                        text = bigger;
                }
                ssize_t n = read(fd, text + size, capacity - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == ESRCH ? -ESRCH : -errno;
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        text[size] = '\0';
        *ret_text = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

/* State letter, parent and start time from /proc/PID/stat (the command name may hold spaces and
 * parentheses, so fields are counted after the last ')'). */
static int read_stat(pid_t pid, char *ret_state, pid_t *ret_ppid, unsigned long long *ret_start)
{
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = read_proc(pid, "stat", 4096, &text, &size);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        char *close_paren = strrchr(text, ')');
        if (!close_paren)
                return -EBADMSG;
        char state = 0;
        int ppid = 0;
        unsigned long long start = 0;
        /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
         * cutime cstime priority nice num_threads itrealvalue starttime */
        if (sscanf(
                close_paren + 1,
                " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                &state, &ppid, &start) != 3)
                return -EBADMSG;
        *ret_state = state;
        *ret_ppid = (pid_t)ppid;
        *ret_start = start;
        return 0;
}

static const char *base_name(const char *path)
{
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

/* Whether `name` (a file name) is `program`'s. The control program also answers to the name of
 * the one mpsmig is told to run ($MPSMIG_MPS_CONTROL): a copy under another name is still the
 * program that made the daemons, and taking them for something else would make status call them
 * dead and stop remove their folders under them. */
static bool program_named(const char *name, const char *program)
{
        if (strcmp(name, program) == 0)
                return true;
        const char *override = getenv(MPS_CONTROL_ENV_OVERRIDE);
        return strcmp(program, DAEMON_CONTROL_PROGRAM) == 0 && override && override[0] == '/' &&
               strcmp(name, base_name(override)) == 0;
}

/* Whether /proc/PID/exe is `program` (by file name): 1 yes, 0 no; -ENOENT when the process has
 * no executable (a kernel thread, a zombie, or gone), -EACCES when it is not ours to read (the
 * caller then looks at argv[0]). One system call, which rules out nearly every pid of a scan. */
static int exe_is(pid_t pid, const char *program)
{
        char path[64], exe[PATH_MAX];
        (void)snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        if (n < 0)
                return errno == ENOENT ? -ENOENT : errno == EACCES || errno == EPERM ? -EACCES : 0;
        exe[n] = '\0';
        /* A binary replaced on disk (a reinstall, a rebuild) reads "... (deleted)". */
        char *deleted = strstr(exe, " (deleted)");
        if (deleted && deleted[strlen(" (deleted)")] == '\0')
                *deleted = '\0';
        return program_named(base_name(exe), program);
}

/* Whether the process runs `program`: by /proc/PID/exe, or by argv[0] when exe is unreadable.
 * `cmdline` is the process's NUL-separated command line. */
static bool runs_program(pid_t pid, const char *program, const char *cmdline, size_t cmdline_size)
{
        int exe = exe_is(pid, program);
        if (exe != -EACCES)
                return exe == 1;
        return cmdline_size > 0 && program_named(base_name(cmdline), program);
}

/* Whether the command line asks for a daemon (-d, --daemon) or the foreground one (-f,
 * --forground as the program spells it), as opposed to a client-mode invocation. */
static bool daemon_arguments(const char *cmdline, size_t size)
{
        size_t at = strlen(cmdline) + 1; /* skip argv[0] */
        while (at < size) {
                const char *arg = cmdline + at;
                if (strcmp(arg, "--daemon") == 0 || strcmp(arg, "--forground") == 0 ||
                    strcmp(arg, "--foreground") == 0)
                        return true;
                if (arg[0] == '-' && arg[1] != '-' && (strchr(arg, 'd') || strchr(arg, 'f')))
                        return true;
                at += strlen(arg) + 1;
        }
        return false;
}

/* The value of NAME in a NUL-separated environment block, or NULL. */
static const char *environ_value(const char *block, size_t size, const char *name)
{
        size_t len = strlen(name);
        for (size_t at = 0; at < size; at += strlen(block + at) + 1)
                if (strncmp(block + at, name, len) == 0 && block[at + len] == '=')
                        return block + at + len + 1;
        return NULL;
}

static void strip_trailing_slashes(char *path)
{
        size_t len = strlen(path);
        while (len > 1 && path[len - 1] == '/')
                path[--len] = '\0';
}

int process_uid(pid_t pid, uid_t *ret_uid)
{
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r = read_proc(pid, "status", 16384, &text, &size);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        const char *line = strstr(text, "\nUid:");
        unsigned uid;
        if (!line || sscanf(line, "\nUid: %u", &uid) != 1)
                return -EBADMSG;
        *ret_uid = (uid_t)uid;
        return 0;
}

/* daemon_inspect, cheapest test first: a scan of /proc visits every kernel thread and every
 * process (hundreds of pids on a GPU node), which their executable alone rules out. `scanning`
 * skips telling a zombie from a kernel thread, which only a caller that holds a pid needs. */
static int inspect(pid_t pid, bool scanning, struct mps_daemon *ret_daemon)
{
        char state;
        pid_t ppid;
        unsigned long long start;
        _cleanup_free_ char *cmdline = NULL;
        size_t cmdline_size;
        int exe = exe_is(pid, DAEMON_CONTROL_PROGRAM);
        if (exe == 0)
                return -EPERM;
        if (exe == -ENOENT) {
                if (scanning)
                        return -EPERM;
                int r = read_stat(pid, &state, &ppid, &start);
                if (r < 0)
                        return r;
                return state == 'Z' || state == 'X' ? -ESRCH : -EPERM;
        }
        int r = read_proc(pid, "cmdline", 65536, &cmdline, &cmdline_size);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        if (cmdline_size == 0 ||
            (exe < 0 && !program_named(base_name(cmdline), DAEMON_CONTROL_PROGRAM)) ||
            !daemon_arguments(cmdline, cmdline_size))
                return -EPERM;
        r = read_stat(pid, &state, &ppid, &start);
        if (r < 0)
                return r;
        if (state == 'Z' || state == 'X')
                return -ESRCH;

        struct mps_daemon daemon = {.pid = pid, .start_ticks = start};
        r = process_uid(pid, &daemon.uid);
        if (r < 0)
                return r;
        (void)snprintf(daemon.pipe_dir, sizeof(daemon.pipe_dir), "%s", DAEMON_DEFAULT_PIPE_DIR);
        _cleanup_free_ char *environment = NULL;
        size_t environ_size;
        if (read_proc(pid, "environ", ENVIRON_MAX, &environment, &environ_size) == 0) {
                daemon.environ_known = true;
                const char *devices =
                    environ_value(environment, environ_size, "CUDA_VISIBLE_DEVICES");
                if (devices) {
                        daemon.has_visible_devices = true;
                        (void)snprintf(daemon.visible_devices, sizeof(daemon.visible_devices), "%s",
                                       devices);
                }
                const char *pipe =
                    environ_value(environment, environ_size, "CUDA_MPS_PIPE_DIRECTORY");
                if (pipe && pipe[0])
                        (void)snprintf(daemon.pipe_dir, sizeof(daemon.pipe_dir), "%s", pipe);
        }
        strip_trailing_slashes(daemon.pipe_dir);
        *ret_daemon = daemon;
        return 0;
}

int daemon_inspect(pid_t pid, struct mps_daemon *ret_daemon)
{
        return inspect(pid, false, ret_daemon);
}

static bool is_pid_name(const char *name)
{
        if (!name[0])
                return false;
        for (const char *c = name; *c; c++)
                if (!isdigit((unsigned char)*c))
                        return false;
        return true;
}

/* Calls `visit` for every pid in /proc; stops at its first non-zero return. */
static int for_each_pid(int (*visit)(pid_t pid, void *data), void *data)
{
        _cleanup_closedir_ DIR *proc = opendir("/proc");
        if (!proc)
                return -errno;
        struct dirent *entry;
        while ((entry = readdir(proc)))
                if (is_pid_name(entry->d_name)) {
                        int r = visit((pid_t)atoi(entry->d_name), data);
                        if (r != 0)
                                return r;
                }
        return 0;
}

struct daemon_list {
        struct mps_daemon *items;
        size_t count, capacity;
        pid_t self;
};

static int collect_daemon(pid_t pid, void *data)
{
        struct daemon_list *list = data;
        struct mps_daemon daemon;
        /* mpsmig itself is never a control daemon. */
        if (pid == list->self)
                return 0;
        if (inspect(pid, true, &daemon) < 0)
                return 0;
        if (list->count == list->capacity) {
                size_t capacity = list->capacity ? list->capacity * 2 : 8;
                struct mps_daemon *bigger = realloc(list->items, capacity * sizeof(*bigger));
                if (!bigger)
                        return -ENOMEM;
                list->items = bigger;
                list->capacity = capacity;
        }
        list->items[list->count++] = daemon;
        return 0;
}

static int by_pid(const void *a, const void *b)
{
        pid_t x = ((const struct mps_daemon *)a)->pid, y = ((const struct mps_daemon *)b)->pid;
        return (x > y) - (x < y);
}

int daemon_scan(struct mps_daemon **ret_daemons, size_t *ret_count, struct error *err)
{
        struct daemon_list list = {.self = getpid()};
        int r = for_each_pid(collect_daemon, &list);
        if (r < 0) {
                free(list.items);
                return error_set(err, r, "cannot scan /proc for MPS control daemons: %s",
                                 strerror(-r));
        }
        if (list.count > 1)
                qsort(list.items, list.count, sizeof(*list.items), by_pid);
        *ret_daemons = list.items;
        *ret_count = list.count;
        return 0;
}

bool daemon_serves(const struct mps_daemon *daemon, const char *uuid)
{
        if (!daemon->environ_known)
                return false;
        if (!daemon->has_visible_devices && !daemon->served_known)
                return false;
        const char *list =
            daemon->has_visible_devices ? daemon->visible_devices : daemon->served_devices;
        size_t len = strlen(uuid);
        for (const char *at = list; *at;) {
                size_t item = strcspn(at, ",");
                if (item == len && strncmp(at, uuid, len) == 0)
                        return true;
                at += item;
                if (*at == ',')
                        at++;
        }
        return false;
}

bool daemon_serves_unknown(const struct mps_daemon *daemon)
{
        return daemon->environ_known && !daemon->has_visible_devices && !daemon->served_known;
}

bool daemon_uses_pipe_dir(const struct mps_daemon *daemon, const char *pipe_dir)
{
        char wanted[PATH_MAX];
        (void)snprintf(wanted, sizeof(wanted), "%s", pipe_dir);
        strip_trailing_slashes(wanted);
        return daemon->environ_known && strcmp(daemon->pipe_dir, wanted) == 0;
}

static int pidfd_open_raw(pid_t pid)
{
        long fd = syscall(SYS_pidfd_open, pid, 0); /* pidfds are always close-on-exec */
        return fd < 0 ? -errno : (int)fd;
}

/* Whether the process behind the pidfd has exited (then /proc/PID may be someone else). */
static bool pidfd_exited(int pidfd)
{
        struct pollfd watch = {.fd = pidfd, .events = POLLIN};
        return poll(&watch, 1, 0) > 0;
}

int daemon_open(pid_t pid, unsigned long long start_ticks, int *ret_pidfd, struct error *err)
{
        _cleanup_close_ int pidfd = pidfd_open_raw(pid);
        if (pidfd == -ESRCH)
                return -ESRCH;
        if (pidfd < 0)
                return error_set(err, pidfd, "cannot watch process %d: pidfd_open: %s", (int)pid,
                                 strerror(-pidfd));
        struct mps_daemon now;
        int r = daemon_inspect(pid, &now);
        /* Read while the pidfd pins the process: if it has not exited since, /proc/PID was it. */
        if (pidfd_exited(pidfd) || r == -ESRCH)
                return -ESRCH;
        if (r == -EPERM || (r == 0 && start_ticks != 0 && now.start_ticks != start_ticks))
                return error_set(err, -EPERM,
                                 "process %d is no longer the MPS control daemon it was (its pid "
                                 "was reused): not signalling it",
                                 (int)pid);
        if (r < 0)
                return error_set(err, r, "cannot inspect process %d: %s", (int)pid, strerror(-r));
        *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}

int daemon_signal(int pidfd, int signal)
{
        if (syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0) < 0)
                return -errno;
        return 0;
}

int daemon_wait_gone(int pidfd, int timeout_ms)
{
        struct pollfd watch = {.fd = pidfd, .events = POLLIN};
        struct timespec start, now;
        (void)clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                (void)clock_gettime(CLOCK_MONOTONIC, &now);
                long long spent =
                    (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
                long long left = timeout_ms - spent;
                int n = poll(&watch, 1, left > 0 ? (int)left : 0);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n == 0 && left <= 0)
                        return -ETIMEDOUT;
        }
}

/* Whether `pid` is a live MPS server whose parent is `daemon`: the server program, or a child
 * the control program forked and named a server without exec (simgpu's servers are). */
static bool is_server_of(pid_t pid, pid_t daemon)
{
        char state;
        pid_t ppid;
        unsigned long long start;
        if (read_stat(pid, &state, &ppid, &start) < 0 || ppid != daemon || state == 'Z')
                return false;
        _cleanup_free_ char *cmdline = NULL;
        size_t size;
        if (read_proc(pid, "cmdline", 65536, &cmdline, &size) < 0)
                return false;
        if (runs_program(pid, DAEMON_SERVER_PROGRAM, cmdline, size))
                return true;
        return size > 0 && strcmp(base_name(cmdline), DAEMON_SERVER_PROGRAM) == 0 &&
               runs_program(pid, DAEMON_CONTROL_PROGRAM, cmdline, size);
}

struct server_search {
        pid_t daemon;
        pid_t *pids;
        size_t count, capacity;
};

static int collect_server(pid_t pid, void *data)
{
        struct server_search *search = data;
        if (!is_server_of(pid, search->daemon))
                return 0;
        if (search->count == search->capacity) {
                size_t capacity = search->capacity ? search->capacity * 2 : 4;
                pid_t *bigger = realloc(search->pids, capacity * sizeof(*bigger));
                if (!bigger)
                        return -ENOMEM;
                search->pids = bigger;
                search->capacity = capacity;
        }
        search->pids[search->count++] = pid;
        return 0;
}

int daemon_servers(pid_t daemon, pid_t **ret_pids, size_t *ret_count)
{
        struct server_search search = {.daemon = daemon};
        int r = for_each_pid(collect_server, &search);
        if (r < 0) {
                free(search.pids);
                return r;
        }
        *ret_pids = search.pids;
        *ret_count = search.count;
        return 0;
}

int daemon_open_server(pid_t daemon, pid_t server, int *ret_pidfd)
{
        _cleanup_close_ int pidfd = pidfd_open_raw(server);
        if (pidfd < 0)
                return pidfd;
        bool verified = is_server_of(server, daemon);
        if (pidfd_exited(pidfd))
                return -ESRCH;
        if (!verified)
                return -EPERM;
        *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}

int process_uptime(pid_t pid, double *ret_seconds)
{
        char state;
        pid_t ppid;
        unsigned long long start;
        int r = read_stat(pid, &state, &ppid, &start);
        if (r < 0)
                return r;
        long ticks = sysconf(_SC_CLK_TCK);
        struct timespec boot;
        if (ticks <= 0 || clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
                return -EIO;
        double seconds =
            (double)boot.tv_sec + (double)boot.tv_nsec / 1e9 - (double)start / (double)ticks;
        *ret_seconds = seconds < 0 ? 0 : seconds;
        return 0;
}
