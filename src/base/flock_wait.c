/* A flock with a deadline; see flock_wait.h. */
#define _GNU_SOURCE
#include "base/flock_wait.h"

#include <errno.h>
#include <sys/file.h>
#include <time.h>

#define PAUSE_MAX_NS 5000000L /* 5 ms */

long long monotonic_now_ms(void)
{
        struct timespec now;
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void backoff_pause(long *pause_ns, long long deadline_ms)
{
        long long left = deadline_ms - monotonic_now_ms();
        if (left <= 0)
                return;
        struct timespec pause = {0, *pause_ns};
        if (*pause_ns / 1000000 > left)
                pause.tv_nsec = (long)left * 1000000;
        (void)nanosleep(&pause, NULL);
        if (*pause_ns < PAUSE_MAX_NS)
                *pause_ns *= 2;
}

int flock_wait(int fd, int operation, long long deadline_ms)
{
        long pause_ns = PAUSE_START_NS;
        for (;;) {
                if (flock(fd, operation | LOCK_NB) == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return -errno;
                if (deadline_ms - monotonic_now_ms() <= 0)
                        return -ETIMEDOUT;
                backoff_pause(&pause_ns, deadline_ms);
        }
}
