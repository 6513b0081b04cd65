/* Watching a started child without blocking: its stdin fed and its output read as the pipes allow,
 * its exit seen through its pidfd and reaped, its deadline enforced with SIGTERM then SIGKILL.
 * spawn_run's wait and the agent's loop both drive a child through these steps. See
 * spawn_child.h. */
#define _GNU_SOURCE
#include "base/spawn_child.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "base/spawn.h"

#define READ_CHUNK        65536
#define FALLBACK_POLL_MS  10 /* how often the child is polled when the kernel has no pidfd_open */
#define CHUNKS_PER_WAKEUP 16
#define CHUNKS_AFTER_EXIT 64 /* 4 MiB: more than a pipe can hold (pipe-max-size is 1 MiB) */

static void close_fd(int *fd)
{
        if (*fd >= 0) {
                (void)close(*fd);
                *fd = -1;
        }
}

/* Reads what the pipe holds now, at most `chunks` reads so that a writer faster than us cannot
 * keep us from the deadline. Returns -ENOMEM, or 0 (the fd is closed at end of file). */
static int stream_read(struct spawn_stream *s, unsigned chunks)
{
        char chunk[READ_CHUNK];
        while (s->fd >= 0 && chunks-- > 0) {
                ssize_t n = read(s->fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                close_fd(&s->fd);
                        return 0;
                }
                if (n == 0) {
                        close_fd(&s->fd);
                        return 0;
                }
                size_t keep = (size_t)n;
                if (keep > s->max - s->size) {
                        keep = s->max - s->size;
                        s->truncated = true;
                }
                if (keep == 0)
                        continue;
                if (s->size + keep + 1 > s->capacity) {
                        size_t capacity = s->capacity ? s->capacity : 4096;
                        while (capacity < s->size + keep + 1)
                                capacity *= 2;
                        char *bigger = realloc(s->data, capacity);
                        if (!bigger)
                                return -ENOMEM;
                        s->data = bigger;
                        s->capacity = capacity;
                }
                memcpy(s->data + s->size, chunk, keep);
                s->size += keep;
                s->data[s->size] = '\0';
        }
        return 0;
}

char *spawn_stream_take(struct spawn_stream *stream, size_t *ret_size)
{
        char *data = stream->size > 0 ? TAKE_PTR(stream->data) : NULL;
        *ret_size = data ? stream->size : 0;
        if (data) {
                stream->size = 0;
                stream->capacity = 0;
        }
        return data;
}

/* Hands the captured text out, NUL-terminated, an empty string when nothing came. */
static int stream_hand_out(struct spawn_stream *s, char **ret_text, size_t *ret_size,
                           bool *ret_truncated)
{
        if (!s->data) {
                s->data = strdup("");
                if (!s->data)
                        return -ENOMEM;
        }
        *ret_text = TAKE_PTR(s->data);
        *ret_size = s->size;
        *ret_truncated = s->truncated;
        s->size = s->capacity = 0;
        return 0;
}

/* Writes what the child's stdin pipe takes now. SIGPIPE is blocked in this thread around the
 * write and a SIGPIPE it raised is consumed, so a child that exits without reading all of its
 * input makes only this pipe close, not the caller's process die. */
static void feed_stdin(struct spawn_child *c)
{
        sigset_t pipe_set, old_mask, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        (void)sigpending(&pending);
        bool was_pending = sigismember(&pending, SIGPIPE) == 1;
        (void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

        while (c->stdin_written < c->stdin_size) {
                ssize_t n = write(c->stdin_fd, c->stdin_data + c->stdin_written,
                                  c->stdin_size - c->stdin_written);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        if (errno == EPIPE && !was_pending) {
                                static const struct timespec zero = {0, 0};
                                (void)sigtimedwait(&pipe_set, NULL, &zero);
                        }
                        close_fd(&c->stdin_fd);
                        break;
                }
                c->stdin_written += (size_t)n;
        }
        if (c->stdin_fd >= 0 && c->stdin_written == c->stdin_size)
                close_fd(&c->stdin_fd);
        (void)pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
}

/* Reaps the child if it has exited. Returns true once reaped. */
static bool try_reap(struct spawn_child *c)
{
        for (;;) {
                pid_t r = waitpid(c->pid, &c->status, WNOHANG);
                if (r == c->pid) {
                        c->reaped = true;
                        return true;
                }
                if (r < 0 && errno == EINTR)
                        continue;
                return false;
        }
}

static void reap_blocking(struct spawn_child *c)
{
        while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
                ;
        c->reaped = true;
}

size_t spawn_child_pollfds(const struct spawn_child *c, struct pollfd *fds)
{
        size_t n = 0;
        if (c->pid <= 0 || c->reaped)
                return 0;
        if (c->pidfd >= 0)
                fds[n++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
        if (c->out.fd >= 0)
                fds[n++] = (struct pollfd){.fd = c->out.fd, .events = POLLIN};
        if (c->err.fd >= 0)
                fds[n++] = (struct pollfd){.fd = c->err.fd, .events = POLLIN};
        if (c->stdin_fd >= 0)
                fds[n++] = (struct pollfd){.fd = c->stdin_fd, .events = POLLOUT};
        return n;
}

long long spawn_child_wakeup_ms(const struct spawn_child *c)
{
        if (c->pid <= 0 || c->reaped)
                return 0;
        long long wakeup = c->deadline_ms;
        if (c->pidfd < 0) {
                long long poll_at = monotonic_now_ms() + FALLBACK_POLL_MS;
                if (wakeup == 0 || poll_at < wakeup)
                        wakeup = poll_at;
        }
        return wakeup;
}

int spawn_child_signal(struct spawn_child *c, int signal)
{
        if (c->pid <= 0 || c->reaped)
                return 0;
#ifdef SYS_pidfd_send_signal
        if (c->pidfd >= 0)
                return syscall(SYS_pidfd_send_signal, c->pidfd, signal, NULL, 0) < 0 ? -errno : 0;
#endif
        return kill(c->pid, signal) < 0 ? -errno : 0;
}

/* Once the child is gone, what it wrote is in the pipes: take what is readable and stop, without
 * waiting for end of file (a grandchild, a daemon it forked, may hold the write ends). */
static int drain(struct spawn_child *c)
{
        int r = stream_read(&c->out, CHUNKS_AFTER_EXIT);
        if (r == 0)
                r = stream_read(&c->err, CHUNKS_AFTER_EXIT);
        return r;
}

int spawn_child_step(struct spawn_child *c)
{
        if (c->pid <= 0)
                return -EINVAL;
        if (c->reaped)
                return 1;
        if (c->stdin_fd >= 0)
                feed_stdin(c);
        int r = stream_read(&c->out, CHUNKS_PER_WAKEUP);
        if (r == 0)
                r = stream_read(&c->err, CHUNKS_PER_WAKEUP);
        if (r < 0) {
                /* Out of memory: do not leave the child behind. */
                (void)spawn_child_signal(c, SIGKILL);
                reap_blocking(c);
                c->killed = true;
                return r;
        }
        /* A pidfd turns readable when the child exits; without one, ask. */
        if (try_reap(c))
                return drain(c) < 0 ? -ENOMEM : 1;
        if (c->deadline_ms == 0 || monotonic_now_ms() < c->deadline_ms)
                return 0;
        if (!c->timed_out) {
                c->timed_out = true;
                (void)spawn_child_signal(c, SIGTERM);
                c->deadline_ms =
                    monotonic_now_ms() + (c->grace_ms > 0 ? c->grace_ms : SPAWN_GRACE_MS_DEFAULT);
                return 0;
        }
        (void)spawn_child_signal(c, SIGKILL);
        reap_blocking(c);
        return drain(c) < 0 ? -ENOMEM : 1;
}

int spawn_child_result(struct spawn_child *c, struct spawn_result *ret_result)
{
        if (!c->reaped)
                return -EINVAL;
        struct spawn_result result = {
            .pid = c->pid,
            .exited = WIFEXITED(c->status),
            .exit_status = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 0,
            .signaled = WIFSIGNALED(c->status),
            .term_signal = WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0,
            .timed_out = c->timed_out,
        };
        int r = stream_hand_out(&c->out, &result.out, &result.out_size, &result.out_truncated);
        if (r == 0)
                r = stream_hand_out(&c->err, &result.err, &result.err_size, &result.err_truncated);
        if (r < 0) {
                spawn_result_done(&result);
                return r;
        }
        *ret_result = result;
        return 0;
}

void spawn_child_done(struct spawn_child *c)
{
        if (!c || c->pid <= 0)
                return;
        if (!c->reaped) {
                (void)spawn_child_signal(c, SIGKILL);
                reap_blocking(c);
                c->killed = true;
        }
        close_fd(&c->pidfd);
        close_fd(&c->stdin_fd);
        close_fd(&c->out.fd);
        close_fd(&c->err.fd);
        free(c->out.data);
        free(c->err.data);
        c->out.data = c->err.data = NULL;
        c->out.size = c->err.size = c->out.capacity = c->err.capacity = 0;
        c->pid = 0;
}
