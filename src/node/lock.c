/* The node lock; see lock.h. flock has no timed wait, so the wait retries a non-blocking flock
 * with a growing pause (1 ms to 25 ms) against a CLOCK_MONOTONIC deadline: a blocking flock could
 * only be bounded by a signal, which would reach other threads of the caller. */
#define _GNU_SOURCE
#include "node/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/safe_fs.h"

#define PAUSE_MIN_NS 1000000L  /* 1 ms */
#define PAUSE_MAX_NS 25000000L /* 25 ms */

static long long monotonic_ms(void)
{
        struct timespec now;
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The pid the holder wrote, if it still names a live process; 0 otherwise. */
static pid_t read_holder(int fd)
{
        char text[32];
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        if (n <= 0)
                return 0;
        text[n] = '\0';
        long pid = strtol(text, NULL, 10);
        if (pid <= 0 || pid > INT_MAX)
                return 0;
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
                return 0;
        return (pid_t)pid;
}

static int write_holder(int fd)
{
        char text[32];
        int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n)
                return -errno;
        return 0;
}

static int open_lock_file(int runtime_fd, const char *runtime_path, int *ret_fd, struct error *err)
{
        int fd = openat(runtime_fd, NODE_LOCK_NAME,
                        O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0) {
                if (errno == ELOOP)
                        return error_set(err, -ELOOP,
                                         "the node lock %s/%s is a symbolic link: "
                                         "remove it and try again",
                                         runtime_path, NODE_LOCK_NAME);
                return error_set(err, -errno, "cannot open the node lock %s/%s: %s", runtime_path,
                                 NODE_LOCK_NAME, strerror(errno));
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                (void)close(fd);
                return error_set(err, -e, "cannot inspect the node lock %s/%s: %s", runtime_path,
                                 NODE_LOCK_NAME, strerror(e));
        }
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
                char owner[128] = "";
                if (S_ISREG(st.st_mode))
                        safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                (void)close(fd);
                return error_set(err, -EPERM,
                                 "the node lock %s/%s is %s%s: remove it and try "
                                 "again",
                                 runtime_path, NODE_LOCK_NAME,
                                 owner[0] ? "owned by " : "not a regular file", owner);
        }
        *ret_fd = fd;
        return 0;
}

int node_lock_acquire(int runtime_fd, const char *runtime_path, int timeout_ms, int *ret_fd,
                      struct error *err)
{
        _cleanup_close_ int fd = -1;
        int r = open_lock_file(runtime_fd, runtime_path, &fd, err);
        if (r < 0)
                return r;
        long long deadline = monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        long pause_ns = PAUSE_MIN_NS;
        for (;;) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return error_set(err, -errno, "cannot lock %s/%s: %s", runtime_path,
                                         NODE_LOCK_NAME, strerror(errno));
                long long left = deadline - monotonic_ms();
                if (left <= 0) {
                        pid_t holder = read_holder(fd);
                        char who[64] = "another process";
                        if (holder > 0)
                                (void)snprintf(who, sizeof(who), "another mpsmig (pid %ld)",
                                               (long)holder);
                        return error_set(err, -ETIMEDOUT,
                                         "%s holds the node lock %s/%s: waited %d ms for it to "
                                         "finish its start or stop; try again when it is done",
                                         who, runtime_path, NODE_LOCK_NAME, timeout_ms);
                }
                struct timespec pause = {0, pause_ns};
                if (pause_ns / 1000000 > left)
                        pause.tv_nsec = (long)left * 1000000;
                (void)nanosleep(&pause, NULL);
                if (pause_ns < PAUSE_MAX_NS)
                        pause_ns *= 2;
        }
        r = write_holder(fd);
        if (r < 0)
                return error_set(err, r, "cannot write into the node lock %s/%s: %s", runtime_path,
                                 NODE_LOCK_NAME, strerror(-r));
        *ret_fd = TAKE_FD(fd);
        return 0;
}

void node_lock_release(int fd)
{
        if (fd >= 0)
                (void)close(fd);
}
