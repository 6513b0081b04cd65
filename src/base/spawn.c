/* Starts one child program with posix_spawn, or fork and exec when it must run as another user
 * (explicit environment, absolute path, pipes for its stdin and output, a pidfd), runs one to
 * completion under a CLOCK_MONOTONIC deadline by driving it through spawn_child.c's steps in one
 * poll(), and builds the explicit environments children get. See spawn.h and spawn_child.h. */
#define _GNU_SOURCE
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "base/spawn_child.h"

extern char **environ;

static void close_fd(int *fd)
{
        if (*fd >= 0) {
                (void)close(*fd);
                *fd = -1;
        }
}

/* Keeps our pipe ends off fds 0-2 so that the child's dup2 onto them can never be a no-op that
 * leaves FD_CLOEXEC set (possible only when the caller runs with a standard stream closed). */
static int keep_above_stdio(int *fd)
{
        if (*fd > 2)
                return 0;
        int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
        if (moved < 0)
                return -errno;
        (void)close(*fd);
        *fd = moved;
        return 0;
}

static int make_pipe(int fds[2])
{
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        int r = keep_above_stdio(&fds[0]);
        if (r == 0)
                r = keep_above_stdio(&fds[1]);
        if (r < 0) {
                close_fd(&fds[0]);
                close_fd(&fds[1]);
        }
        return r;
}

static int set_nonblocking(int fd)
{
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
        long fd = syscall(SYS_pidfd_open, pid, 0); /* pidfds are always close-on-exec */
        return fd < 0 ? -errno : (int)fd;
#else
        (void)pid;
        return -ENOSYS;
#endif
}

static int setup_spawn(const struct spawn_options *o, int in_child, int out_child, int err_child,
                       posix_spawn_file_actions_t *actions, posix_spawnattr_t *attr)
{
        int r = posix_spawn_file_actions_init(actions);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(attr);
        if (r != 0) {
                (void)posix_spawn_file_actions_destroy(actions);
                return -r;
        }
        if (in_child >= 0)
                r = posix_spawn_file_actions_adddup2(actions, in_child, STDIN_FILENO);
        else
                r = posix_spawn_file_actions_addopen(actions, STDIN_FILENO, "/dev/null", O_RDONLY,
                                                     0);
        if (r == 0 && out_child >= 0)
                r = posix_spawn_file_actions_adddup2(actions, out_child, STDOUT_FILENO);
        else if (r == 0)
                r = posix_spawn_file_actions_addopen(actions, STDOUT_FILENO, "/dev/null", O_WRONLY,
                                                     0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(actions, err_child, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        /* Every fd of ours is CLOEXEC; this also keeps out what a library opened without it. */
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(actions, STDERR_FILENO + 1);
#endif

        /* The child starts with no blocked signals and every handler at its default: what the
         * calling thread blocked or ignored is not the child's business. */
        sigset_t empty, all;
        sigemptyset(&empty);
        sigfillset(&all);
        if (r == 0)
                r = posix_spawnattr_setsigmask(attr, &empty);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(attr, &all);
        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        /* A process group of its own: a terminal's Ctrl-C reaches its parent, not it. */
        if (r == 0 && o->own_process_group) {
                r = posix_spawnattr_setpgroup(attr, 0);
                flags |= POSIX_SPAWN_SETPGROUP;
        }
        if (r == 0)
                r = posix_spawnattr_setflags(attr, flags);
        if (r != 0) {
                (void)posix_spawn_file_actions_destroy(actions);
                (void)posix_spawnattr_destroy(attr);
                return -r;
        }
        return 0;
}

/* The steps of a child that takes credentials, for the message when one fails. */
enum child_step {
        CHILD_STDIO,
        CHILD_SETGROUPS,
        CHILD_SETGID,
        CHILD_SETUID,
        CHILD_EXEC,
};

static const char *child_step_name(int step)
{
        static const char *const names[] = {"setting up its stdin, stdout and stderr",
                                            "setgroups (dropping the supplementary groups)",
                                            "setgid", "setuid", "exec"};
        return step >= 0 && step <= CHILD_EXEC ? names[step] : "?";
}

struct child_failure {
        int step;
        int error;
};

/* In the child of fork (the parent may have threads): only async-signal-safe calls, the
 * credentials through raw system calls so that they apply to this one thread, which is all the
 * child has. A failure goes to `report` (close-on-exec: an exec that works closes it). */
static _Noreturn void child_exec(const struct spawn_options *o, int in_fd, int out_fd, int err_fd,
                                 int report)
{
        struct child_failure failure = {CHILD_STDIO, 0};
        struct sigaction default_action = {.sa_handler = SIG_DFL};
        for (int sig = 1; sig < NSIG; sig++)
                (void)sigaction(sig, &default_action, NULL);
        sigset_t empty;
        sigemptyset(&empty);
        (void)sigprocmask(SIG_SETMASK, &empty, NULL);
        if (o->own_process_group && setpgid(0, 0) < 0)
                goto fail;
        if (in_fd < 0)
                in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out_fd < 0)
                out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (in_fd < 0 || out_fd < 0 || dup2(in_fd, STDIN_FILENO) < 0 ||
            dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
                goto fail;
#ifdef SYS_close_range
        /* Every fd of ours is CLOEXEC; this also covers what a library opened without it. */
        (void)syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
#endif
        failure.step = CHILD_SETGROUPS;
        if (syscall(SYS_setgroups, 0, NULL) < 0)
                goto fail;
        failure.step = CHILD_SETGID;
        if (syscall(SYS_setgid, o->credentials->gid) < 0)
                goto fail;
        failure.step = CHILD_SETUID;
        if (syscall(SYS_setuid, o->credentials->uid) < 0)
                goto fail;
        failure.step = CHILD_EXEC;
        (void)execve(o->path, o->argv, o->envp);
fail:
        failure.error = errno;
        while (write(report, &failure, sizeof(failure)) < 0 && errno == EINTR)
                ;
        _exit(127);
}

/* fork, the credentials, exec; the parent learns through a close-on-exec pipe whether the exec
 * happened. */
static int fork_exec(const struct spawn_options *o, int in_fd, int out_fd, int err_fd,
                     pid_t *ret_pid, struct error *err)
{
        int report[2];
        int r = make_pipe(report);
        if (r < 0)
                return error_set(err, r, "cannot run %s: cannot create a pipe: %s", o->path,
                                 strerror(-r));
        pid_t pid = fork();
        if (pid == 0)
                child_exec(o, in_fd, out_fd, err_fd, report[1]);
        int fork_error = errno;
        close_fd(&report[1]);
        if (pid < 0) {
                close_fd(&report[0]);
                return error_set(err, -fork_error, "cannot run %s: fork: %s", o->path,
                                 strerror(fork_error));
        }
        struct child_failure failure;
        ssize_t n;
        while ((n = read(report[0], &failure, sizeof(failure))) < 0 && errno == EINTR)
                ;
        close_fd(&report[0]);
        if (n != (ssize_t)sizeof(failure)) {
                *ret_pid = pid;
                return 0;
        }
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return error_set(err, -failure.error, "cannot run %s as uid %u gid %u: %s failed: %s",
                         o->path, (unsigned)o->credentials->uid, (unsigned)o->credentials->gid,
                         child_step_name(failure.step), strerror(failure.error));
}

/* posix_spawn, the child running as we do. */
static int spawn_plain(const struct spawn_options *o, int in_fd, int out_fd, int err_fd,
                       pid_t *ret_pid, struct error *err)
{
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        int r = setup_spawn(o, in_fd, out_fd, err_fd, &actions, &attr);
        if (r < 0)
                return error_set(err, r, "cannot run %s: %s", o->path, strerror(-r));
        int spawn_error = posix_spawn(ret_pid, o->path, &actions, &attr, o->argv, o->envp);
        (void)posix_spawn_file_actions_destroy(&actions);
        (void)posix_spawnattr_destroy(&attr);
        if (spawn_error != 0)
                return error_set(err, -spawn_error, "cannot run %s: %s", o->path,
                                 strerror(spawn_error));
        return 0;
}

static int check_options(const struct spawn_options *o, struct error *err)
{
        if (!o || !o->path || o->path[0] != '/' || !o->argv || !o->argv[0] || !o->envp ||
            o->timeout_ms < 0 || (o->stdin_size > 0 && !o->stdin_data))
                return error_set(err, -EINVAL, "cannot run %s: %s", o && o->path ? o->path : "?",
                                 o && o->path && o->path[0] != '/'
                                     ? "the program path is not absolute"
                                     : "invalid spawn options");
        return 0;
}

int spawn_start(const struct spawn_options *o, struct spawn_child *ret_child, struct error *err)
{
        int r = check_options(o, err);
        if (r < 0)
                return r;
        size_t max = o->output_max ? o->output_max : SPAWN_OUTPUT_MAX_DEFAULT;
        int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
        if (o->stdin_data)
                r = make_pipe(in_pipe);
        if (r == 0 && !o->stdout_to_null)
                r = make_pipe(out_pipe);
        if (r == 0)
                r = make_pipe(err_pipe);
        if (r == 0 && in_pipe[1] >= 0)
                r = set_nonblocking(in_pipe[1]);
        if (r == 0 && out_pipe[0] >= 0)
                r = set_nonblocking(out_pipe[0]);
        if (r == 0)
                r = set_nonblocking(err_pipe[0]);
        if (r < 0) {
                error_set(err, r, "cannot run %s: cannot create pipes: %s", o->path, strerror(-r));
                goto finish;
        }

        pid_t pid;
        r = o->credentials ? fork_exec(o, in_pipe[0], out_pipe[1], err_pipe[1], &pid, err)
                           : spawn_plain(o, in_pipe[0], out_pipe[1], err_pipe[1], &pid, err);
        if (r < 0)
                goto finish;
        int pidfd = open_pidfd(pid);
        if (pidfd < 0 && pidfd != -ENOSYS) {
                r = error_set(err, pidfd, "cannot watch %s (pid %d): pidfd_open: %s", o->path,
                              (int)pid, strerror(-pidfd));
                (void)kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                goto finish;
        }

        struct spawn_child child = {
            .pid = pid,
            .pidfd = pidfd < 0 ? -1 : pidfd,
            .stdin_fd = TAKE_FD(in_pipe[1]),
            .stdin_data = o->stdin_data,
            .stdin_size = o->stdin_size,
            .out = {.fd = TAKE_FD(out_pipe[0]), .max = max},
            .err = {.fd = TAKE_FD(err_pipe[0]), .max = max},
            .deadline_ms = o->timeout_ms > 0 ? monotonic_now_ms() + o->timeout_ms : 0,
            .grace_ms = o->grace_ms,
        };
        if (child.stdin_fd >= 0 && o->stdin_size == 0)
                close_fd(&child.stdin_fd);
        *ret_child = child;

finish:
        close_fd(&in_pipe[0]);
        close_fd(&in_pipe[1]);
        close_fd(&out_pipe[0]);
        close_fd(&out_pipe[1]);
        close_fd(&err_pipe[0]);
        close_fd(&err_pipe[1]);
        return r;
}

int spawn_run(const struct spawn_options *o, struct spawn_result *ret_result, struct error *err)
{
        if (o && o->timeout_ms <= 0)
                return error_set(err, -EINVAL, "cannot run %s: invalid spawn options",
                                 o->path ? o->path : "?");
        struct spawn_child child = {0};
        int r = spawn_start(o, &child, err);
        if (r < 0)
                return r;
        /* The wait: one poll() over the pidfd and the pipes until the child is reaped. */
        while ((r = spawn_child_step(&child)) == 0) {
                struct pollfd fds[SPAWN_CHILD_POLLFDS];
                nfds_t n = spawn_child_pollfds(&child, fds);
                long long wakeup = spawn_child_wakeup_ms(&child);
                long long left = wakeup - monotonic_now_ms();
                int timeout = wakeup == 0        ? -1
                              : left <= 0        ? 0
                              : left > INT32_MAX ? INT32_MAX
                                                 : (int)left;
                if (poll(fds, n, timeout) < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
        }
        if (r == 1)
                r = spawn_child_result(&child, ret_result);
        spawn_child_done(&child);
        if (r < 0)
                return error_set(err, r, "cannot run %s: %s", o->path, strerror(-r));
        return 0;
}

void spawn_result_done(struct spawn_result *result)
{
        if (!result)
                return;
        free(result->out);
        free(result->err);
        *result = (struct spawn_result){0};
}

const char *spawn_result_describe(const struct spawn_result *result, int timeout_ms, char *buf,
                                  size_t size)
{
        char timed[64] = "";
        if (result->timed_out)
                (void)snprintf(timed, sizeof(timed), "timed out after %d ms and ", timeout_ms);
        if (result->exited)
                (void)snprintf(buf, size, "%sexited with status %d", timed, result->exit_status);
        else if (result->signaled)
                (void)snprintf(buf, size, "%swas killed by signal %d (%s)", timed,
                               result->term_signal, strsignal(result->term_signal));
        else
                (void)snprintf(buf, size, "%sended in an unknown way", timed);
        return buf;
}

/* ---- environments ---- */

static size_t name_length(const char *assignment)
{
        const char *eq = strchr(assignment, '=');
        return eq ? (size_t)(eq - assignment) : 0;
}

static ssize_t env_builder_find(const struct env_builder *b, const char *name, size_t len)
{
        for (size_t i = 0; i < b->count; i++)
                if (strncmp(b->entries[i], name, len) == 0 && b->entries[i][len] == '=')
                        return (ssize_t)i;
        return -1;
}

/* Takes ownership of `entry` ("NAME=value", validated). */
static int env_builder_put(struct env_builder *b, char *entry)
{
        ssize_t at = env_builder_find(b, entry, name_length(entry));
        if (at >= 0) {
                free(b->entries[at]);
                b->entries[at] = entry;
                return 0;
        }
        if (b->count + 2 > b->capacity) {
                size_t capacity = b->capacity ? b->capacity * 2 : 16;
                char **bigger = realloc(b->entries, capacity * sizeof(*bigger));
                if (!bigger) {
                        free(entry);
                        return -ENOMEM;
                }
                b->entries = bigger;
                b->capacity = capacity;
        }
        b->entries[b->count++] = entry;
        b->entries[b->count] = NULL;
        return 0;
}

int env_builder_add(struct env_builder *b, const char *assignment)
{
        if (!assignment || name_length(assignment) == 0)
                return -EINVAL;
        char *entry = strdup(assignment);
        if (!entry)
                return -ENOMEM;
        return env_builder_put(b, entry);
}

int env_builder_set(struct env_builder *b, const char *name, const char *value)
{
        if (!name || !name[0] || strchr(name, '=') || !value)
                return -EINVAL;
        char *entry;
        if (asprintf(&entry, "%s=%s", name, value) < 0)
                return -ENOMEM;
        return env_builder_put(b, entry);
}

int env_builder_pass(struct env_builder *b, const char *name)
{
        const char *value = getenv(name);
        if (!value)
                return 0;
        return env_builder_set(b, name, value);
}

int env_builder_pass_prefix(struct env_builder *b, const char *prefix)
{
        size_t len = strlen(prefix);
        for (char **e = environ; e && *e; e++) {
                if (strncmp(*e, prefix, len) != 0 || name_length(*e) < len)
                        continue;
                int r = env_builder_add(b, *e);
                if (r < 0)
                        return r;
        }
        return 0;
}

const char *env_builder_get(const struct env_builder *b, const char *name)
{
        ssize_t at = env_builder_find(b, name, strlen(name));
        return at >= 0 ? b->entries[at] + strlen(name) + 1 : NULL;
}

char *const *env_builder_array(struct env_builder *b)
{
        if (!b->entries) {
                b->entries = calloc(1, sizeof(*b->entries));
                if (!b->entries)
                        return NULL;
                b->capacity = 1;
        }
        return b->entries;
}

void env_builder_done(struct env_builder *b)
{
        if (!b)
                return;
        for (size_t i = 0; i < b->count; i++)
                free(b->entries[i]);
        free(b->entries);
        *b = (struct env_builder){0};
}
