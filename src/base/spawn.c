/* Runs one child program under a CLOCK_MONOTONIC deadline with posix_spawn, feeding its stdin and
 * capturing its output through non-blocking pipes watched by one poll() with the child's pidfd;
 * and builds the explicit environments children get. See spawn.h. */
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

extern char **environ;

#define READ_CHUNK        65536
#define FALLBACK_POLL_MS  10 /* how often the child is polled when the kernel has no pidfd_open */
#define CHUNKS_PER_WAKEUP 16
#define CHUNKS_AFTER_EXIT 64 /* 4 MiB: more than a pipe can hold (pipe-max-size is 1 MiB) */

struct capture {
        int fd; /* our read end, -1 once closed */
        char *data;
        size_t size;
        size_t capacity;
        size_t max;
        bool truncated;
};

static int64_t now_ms(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* Reads what the pipe holds now, at most `chunks` reads so that a writer faster than us cannot
 * keep us from the deadline. Returns -ENOMEM, or 0 (the fd is closed at end of file). */
static int capture_read(struct capture *c, unsigned chunks)
{
        char chunk[READ_CHUNK];
        while (c->fd >= 0 && chunks-- > 0) {
                ssize_t n = read(c->fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                close_fd(&c->fd);
                        return 0;
                }
                if (n == 0) {
                        close_fd(&c->fd);
                        return 0;
                }
                size_t keep = (size_t)n;
                if (keep > c->max - c->size) {
                        keep = c->max - c->size;
                        c->truncated = true;
                }
                if (keep == 0)
                        continue;
                if (c->size + keep + 1 > c->capacity) {
                        size_t capacity = c->capacity ? c->capacity : 4096;
                        while (capacity < c->size + keep + 1)
                                capacity *= 2;
                        char *bigger = realloc(c->data, capacity);
                        if (!bigger)
                                return -ENOMEM;
                        c->data = bigger;
                        c->capacity = capacity;
                }
                memcpy(c->data + c->size, chunk, keep);
                c->size += keep;
                c->data[c->size] = '\0';
        }
        return 0;
}

/* Hands the captured text out, NUL-terminated, an empty string when nothing came. */
static int capture_take(struct capture *c, char **ret_text, size_t *ret_size, bool *ret_truncated)
{
        if (!c->data) {
                c->data = strdup("");
                if (!c->data)
                        return -ENOMEM;
        }
        *ret_text = TAKE_PTR(c->data);
        *ret_size = c->size;
        *ret_truncated = c->truncated;
        return 0;
}

/* Writes what the child's stdin pipe takes now. SIGPIPE is blocked in this thread around the
 * write and a SIGPIPE it raised is consumed, so a child that exits without reading all of its
 * input makes only this pipe close, not the caller's process die. */
static void feed_stdin(int *fd, const char *data, size_t size, size_t *written)
{
        sigset_t pipe_set, old_mask, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        (void)sigpending(&pending);
        bool was_pending = sigismember(&pending, SIGPIPE) == 1;
        (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

        while (*written < size) {
                ssize_t n = write(*fd, data + *written, size - *written);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        if (errno == EPIPE && !was_pending) {
                                static const struct timespec zero = {0, 0};
                                (void)sigtimedwait(&pipe_set, NULL, &zero);
                        }
                        close_fd(fd);
                        break;
                }
                *written += (size_t)n;
        }
        if (*fd >= 0 && *written == size)
                close_fd(fd);
        (void)pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
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

/* Reaps the child if it has exited. Returns true once reaped. */
static bool try_reap(pid_t pid, int *status)
{
        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);
                if (r == pid)
                        return true;
                if (r < 0 && errno == EINTR)
                        continue;
                return false;
        }
}

static void reap_blocking(pid_t pid, int *status)
{
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
}

static int setup_spawn(int in_child, int out_child, int err_child,
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
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(actions, out_child, STDOUT_FILENO);
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
        if (r == 0)
                r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
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
        if (in_fd < 0)
                in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in_fd < 0 || dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(err_fd, STDERR_FILENO) < 0)
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
        int status;
        reap_blocking(pid, &status);
        return error_set(err, -failure.error, "cannot run %s as uid %u gid %u: %s failed: %s",
                         o->path, (unsigned)o->credentials->uid, (unsigned)o->credentials->gid,
                         child_step_name(failure.step), strerror(failure.error));
}

struct run_state {
        pid_t pid;
        int pidfd; /* -1: polled with waitpid(WNOHANG) instead */
        int stdin_fd;
        size_t stdin_written;
        struct capture out, err;
        int status;
        bool reaped;
        bool timed_out;
        bool killed;
};

/* The wait: one poll() over pidfd and pipes until the child is reaped. Returns 0 or -ENOMEM
 * (the child is then killed and reaped too). */
static int wait_child(const struct spawn_options *o, struct run_state *s)
{
        int grace_ms = o->grace_ms > 0 ? o->grace_ms : SPAWN_GRACE_MS_DEFAULT;
        int64_t deadline = now_ms() + o->timeout_ms;
        int r = 0;

        while (!s->reaped) {
                struct pollfd fds[4];
                nfds_t n = 0;
                int64_t left = deadline - now_ms();
                int timeout = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
                if (s->pidfd >= 0)
                        fds[n++] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
                else if (timeout > FALLBACK_POLL_MS)
                        timeout = FALLBACK_POLL_MS;
                if (s->out.fd >= 0)
                        fds[n++] = (struct pollfd){.fd = s->out.fd, .events = POLLIN};
                if (s->err.fd >= 0)
                        fds[n++] = (struct pollfd){.fd = s->err.fd, .events = POLLIN};
                if (s->stdin_fd >= 0)
                        fds[n++] = (struct pollfd){.fd = s->stdin_fd, .events = POLLOUT};

                if (poll(fds, n, timeout) < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                if (s->stdin_fd >= 0)
                        feed_stdin(&s->stdin_fd, o->stdin_data, o->stdin_size, &s->stdin_written);
                r = capture_read(&s->out, CHUNKS_PER_WAKEUP);
                if (r == 0)
                        r = capture_read(&s->err, CHUNKS_PER_WAKEUP);
                if (r < 0)
                        break;

                /* A pidfd turns readable when the child exits; without one, ask. */
                if (try_reap(s->pid, &s->status)) {
                        s->reaped = true;
                        break;
                }
                if (now_ms() < deadline)
                        continue;
                if (!s->timed_out) {
                        s->timed_out = true;
                        (void)kill(s->pid, SIGTERM);
                        deadline = now_ms() + grace_ms;
                } else {
                        (void)kill(s->pid, SIGKILL);
                        reap_blocking(s->pid, &s->status);
                        s->reaped = true;
                }
        }
        if (!s->reaped) {
                /* Out of memory or poll failed: do not leave the child behind. */
                (void)kill(s->pid, SIGKILL);
                reap_blocking(s->pid, &s->status);
                s->reaped = true;
                s->killed = true;
                return r;
        }

        /* The child is gone; what it wrote is in the pipes now. A grandchild (a daemon it forked)
         * may still hold the write ends: take what is readable and stop, do not wait for EOF. */
        r = capture_read(&s->out, CHUNKS_AFTER_EXIT);
        if (r == 0)
                r = capture_read(&s->err, CHUNKS_AFTER_EXIT);
        return r;
}

int spawn_run(const struct spawn_options *o, struct spawn_result *ret_result, struct error *err)
{
        if (!o || !o->path || o->path[0] != '/' || !o->argv || !o->argv[0] || !o->envp ||
            o->timeout_ms <= 0 || (o->stdin_size > 0 && !o->stdin_data))
                return error_set(err, -EINVAL, "cannot run %s: %s", o && o->path ? o->path : "?",
                                 o && o->path && o->path[0] != '/'
                                     ? "the program path is not absolute"
                                     : "invalid spawn options");

        size_t max = o->output_max ? o->output_max : SPAWN_OUTPUT_MAX_DEFAULT;
        struct run_state s = {
            .pid = -1,
            .pidfd = -1,
            .stdin_fd = -1,
            .out = {.fd = -1, .max = max},
            .err = {.fd = -1, .max = max},
        };
        int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
        int r = 0;

        if (o->stdin_data)
                r = make_pipe(in_pipe);
        if (r == 0)
                r = make_pipe(out_pipe);
        if (r == 0)
                r = make_pipe(err_pipe);
        if (r == 0 && in_pipe[1] >= 0)
                r = set_nonblocking(in_pipe[1]);
        if (r == 0)
                r = set_nonblocking(out_pipe[0]);
        if (r == 0)
                r = set_nonblocking(err_pipe[0]);
        if (r < 0) {
                error_set(err, r, "cannot run %s: cannot create pipes: %s", o->path, strerror(-r));
                goto finish;
        }

        pid_t pid;
        if (o->credentials) {
                r = fork_exec(o, in_pipe[0], out_pipe[1], err_pipe[1], &pid, err);
                if (r < 0)
                        goto finish;
        } else {
                posix_spawn_file_actions_t actions;
                posix_spawnattr_t attr;
                r = setup_spawn(in_pipe[0], out_pipe[1], err_pipe[1], &actions, &attr);
                if (r < 0) {
                        error_set(err, r, "cannot run %s: %s", o->path, strerror(-r));
                        goto finish;
                }
                int spawn_error = posix_spawn(&pid, o->path, &actions, &attr, o->argv, o->envp);
                (void)posix_spawn_file_actions_destroy(&actions);
                (void)posix_spawnattr_destroy(&attr);
                if (spawn_error != 0) {
                        r = error_set(err, -spawn_error, "cannot run %s: %s", o->path,
                                      strerror(spawn_error));
                        goto finish;
                }
        }
        s.pid = pid;
        s.pidfd = open_pidfd(pid);
        if (s.pidfd < 0 && s.pidfd != -ENOSYS) {
                r = error_set(err, s.pidfd, "cannot watch %s (pid %d): pidfd_open: %s", o->path,
                              (int)pid, strerror(-s.pidfd));
                (void)kill(pid, SIGKILL);
                reap_blocking(pid, &s.status);
                s.pidfd = -1;
                goto finish;
        }
        if (s.pidfd < 0)
                s.pidfd = -1;

        close_fd(&in_pipe[0]);
        close_fd(&out_pipe[1]);
        close_fd(&err_pipe[1]);
        s.stdin_fd = in_pipe[1];
        in_pipe[1] = -1;
        s.out.fd = out_pipe[0];
        out_pipe[0] = -1;
        s.err.fd = err_pipe[0];
        err_pipe[0] = -1;
        if (s.stdin_fd >= 0 && o->stdin_size == 0)
                close_fd(&s.stdin_fd);

        r = wait_child(o, &s);
        if (r < 0) {
                error_set(err, r, "cannot run %s: %s", o->path, strerror(-r));
                goto finish;
        }

        struct spawn_result result = {
            .pid = pid,
            .exited = WIFEXITED(s.status),
            .exit_status = WIFEXITED(s.status) ? WEXITSTATUS(s.status) : 0,
            .signaled = WIFSIGNALED(s.status),
            .term_signal = WIFSIGNALED(s.status) ? WTERMSIG(s.status) : 0,
            .timed_out = s.timed_out,
        };
        r = capture_take(&s.out, &result.out, &result.out_size, &result.out_truncated);
        if (r == 0)
                r = capture_take(&s.err, &result.err, &result.err_size, &result.err_truncated);
        if (r < 0) {
                spawn_result_done(&result);
                error_set(err, r, "cannot run %s: %s", o->path, strerror(-r));
                goto finish;
        }
        *ret_result = result;

finish:
        close_fd(&in_pipe[0]);
        close_fd(&in_pipe[1]);
        close_fd(&out_pipe[0]);
        close_fd(&out_pipe[1]);
        close_fd(&err_pipe[0]);
        close_fd(&err_pipe[1]);
        close_fd(&s.pidfd);
        close_fd(&s.stdin_fd);
        close_fd(&s.out.fd);
        close_fd(&s.err.fd);
        free(s.out.data);
        free(s.err.data);
        return r;
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
