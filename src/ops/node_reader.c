/* NVML read in a forked child: on the H100 it costs about 20 ms per command, as much as a control
 * daemon takes to start and answer, so `start` starts daemons meanwhile and the agent keeps
 * serving. A forked child rather than a thread: NVML loads libcuda, whose mapping and relocation
 * hold the memory-map lock that a thread would share with the caller's own work
 * (docs/benchmarks.md has the figures). See node_reader.h. */
#define _GNU_SOURCE
#include "ops/node_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fd_io.h"
#include "base/flock_wait.h"
#include "driver/nvml.h"
#include "node/node_cache.h"

#define ANSWER_MAX (NODE_CACHE_MAX_BYTES + 64)

/* The child is forked from a process that is single-threaded at that moment (start before its
 * workers, the agent always) and runs no other program: it loads NVML, writes "RESULT FAILURE\n"
 * and the node (node_cache_format_with_lost) or the error message into the pipe, closes it, and
 * only then shuts NVML down, so that the parent need not wait for that. */
static _Noreturn void reader_child(int fd)
{
        /* Nothing of the parent's (the agent's socket and lock, other children's pipes) is held
         * while NVML loads, however long that takes. */
        fd_close_inherited(fd);
        struct nvml *nvml = NULL;
        struct node *node = NULL;
        struct error err = {0};
        enum ops_failure failure = OPS_FAILURE_DRIVER;
        char *text = NULL;
        int r = nvml_open(&nvml, &err);
        if (r == 0) {
                failure = OPS_FAILURE_OTHER;
                /* A lost GPU is handed over marked: the callers serve the healthy ones. */
                r = node_discover_with_lost(nvml, &node, &err);
                if (r > 0)
                        r = 0;
        }
        if (r == 0 && (r = node_cache_format_with_lost(node, &text)) < 0)
                (void)error_set(&err, r, "cannot pass the node on: %s", strerror(-r));
        char header[64];
        int length = snprintf(header, sizeof(header), "%d %d\n", r, r < 0 ? (int)failure : 0);
        /* A failed write leaves the parent a short answer, which it reports as broken. */
        if (fd_write_fully(fd, header, (size_t)length) == 0) {
                if (r == 0)
                        (void)fd_write_fully(fd, text, strlen(text));
                else
                        (void)fd_write_fully(fd, err.message, strlen(err.message));
        }
        (void)close(fd);
        nvml_close(nvml);
        free(text);
        node_free(node);
        _exit(0);
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
        long fd = syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -1 : (int)fd;
#else
        (void)pid;
        return -1;
#endif
}

void node_reader_begin(struct node_reader *reader)
{
        *reader = (struct node_reader){.begun = true, .pidfd = -1, .pipe_fd = -1};
        reader->deadline_ms = monotonic_now_ms() + NODE_READER_TIMEOUT_MS;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == 0) {
                pid_t pid = fork();
                if (pid == 0) {
                        (void)close(fds[0]);
                        reader_child(fds[1]);
                }
                (void)close(fds[1]);
                if (pid > 0) {
                        reader->child = pid;
                        reader->pidfd = open_pidfd(pid);
                        reader->pipe_fd = fds[0];
                        int flags = fcntl(fds[0], F_GETFL);
                        if (flags >= 0)
                                (void)fcntl(fds[0], F_SETFL, flags | O_NONBLOCK);
                        return;
                }
                (void)close(fds[0]);
        }
        /* No pipe or no fork only costs the overlap: read NVML here and now. */
        reader->result = ops_read_node(&reader->node, &reader->failure, &reader->error);
        reader->finished = true;
}

/* The whole answer is in: parse it into the reader. */
static void parse_answer(struct node_reader *reader)
{
        int result = 0, failure = 0, header = 0;
        reader->finished = true;
        const char *text = reader->text ? reader->text : "";
        if (sscanf(text, "%d %d\n%n", &result, &failure, &header) != 2 || header == 0 ||
            result > 0 || failure < OPS_FAILURE_NONE || failure > OPS_FAILURE_OTHER) {
                reader->result = error_set(&reader->error, -EIO,
                                           "the process reading NVML ended without an answer "
                                           "(did NVML crash it?)");
                (void)error_hint(&reader->error, ERROR_HINT_LIST);
                reader->failure = OPS_FAILURE_DRIVER;
                return;
        }
        reader->answered = true;
        if (result < 0) {
                reader->result = error_set(&reader->error, result, "%s", text + header);
                reader->failure = (enum ops_failure)failure;
                return;
        }
        reader->result =
            node_cache_parse_with_lost(text + header, reader->used - (size_t)header, &reader->node);
        if (reader->result < 0) {
                (void)error_set(&reader->error, reader->result,
                                "the process reading NVML gave an answer that does not parse");
                reader->failure = OPS_FAILURE_OTHER;
        }
}

static void fail_reader(struct node_reader *reader, int code, enum ops_failure failure,
                        const char *message)
{
        reader->finished = true;
        reader->result = error_set(&reader->error, code, "%s", message);
        reader->failure = failure;
        if (reader->pipe_fd >= 0)
                (void)close(TAKE_FD(reader->pipe_fd));
}

bool node_reader_feed(struct node_reader *reader)
{
        if (reader->finished)
                return true;
        if (!reader->text) {
                reader->text = malloc(ANSWER_MAX + 1);
                if (!reader->text) {
                        fail_reader(reader, -ENOMEM, OPS_FAILURE_OTHER, "out of memory");
                        return true;
                }
        }
        for (;;) {
                if (reader->used >= ANSWER_MAX)
                        break; /* too long: parsed as it is, which fails */
                ssize_t n =
                    read(reader->pipe_fd, reader->text + reader->used, ANSWER_MAX - reader->used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n > 0) {
                        reader->used += (size_t)n;
                        continue;
                }
                /* End of file (or a broken pipe): the answer is complete. */
                reader->text[reader->used] = '\0';
                (void)close(TAKE_FD(reader->pipe_fd));
                parse_answer(reader);
                return true;
        }
        reader->text[reader->used] = '\0';
        if (reader->used >= ANSWER_MAX) {
                (void)close(TAKE_FD(reader->pipe_fd));
                parse_answer(reader);
                return true;
        }
        if (monotonic_now_ms() >= reader->deadline_ms) {
                char message[160];
                (void)snprintf(message, sizeof(message),
                               "NVML did not answer within %d s (a hung driver? see `nvidia-smi` "
                               "and dmesg)",
                               NODE_READER_TIMEOUT_MS / 1000);
                fail_reader(reader, -ETIMEDOUT, OPS_FAILURE_DRIVER, message);
                return true;
        }
        return false;
}

void node_reader_wait(struct node_reader *reader)
{
        while (!node_reader_feed(reader)) {
                long long left = reader->deadline_ms - monotonic_now_ms();
                struct pollfd watch = {.fd = reader->pipe_fd, .events = POLLIN};
                if (left > 0)
                        (void)poll(&watch, 1, (int)left);
        }
}

bool node_reader_try_reap(struct node_reader *reader)
{
        if (reader->child <= 0)
                return true;
        pid_t r;
        while ((r = waitpid(reader->child, NULL, WNOHANG)) < 0 && errno == EINTR)
                ;
        if (r == 0)
                return false;
        reader->child = 0;
        if (reader->pidfd >= 0)
                (void)close(TAKE_FD(reader->pidfd));
        return true;
}

void node_reader_done(struct node_reader *reader)
{
        if (!reader || !reader->begun)
                return;
        if (reader->child > 0) {
                /* An answered child is only shutting NVML down (2.5 ms on the H100). */
                if (reader->answered && reader->pidfd >= 0) {
                        struct pollfd exited = {.fd = reader->pidfd, .events = POLLIN};
                        while (poll(&exited, 1, NODE_READER_EXIT_MS) < 0 && errno == EINTR)
                                ;
                }
                if (!node_reader_try_reap(reader)) {
                        (void)kill(reader->child, SIGKILL);
                        while (waitpid(reader->child, NULL, 0) < 0 && errno == EINTR)
                                ;
                        reader->child = 0;
                }
        }
        if (reader->pidfd >= 0)
                (void)close(TAKE_FD(reader->pidfd));
        if (reader->pipe_fd >= 0)
                (void)close(TAKE_FD(reader->pipe_fd));
        free(reader->text);
        reader->text = NULL;
        node_free(reader->node);
        reader->node = NULL;
        reader->begun = false;
}
