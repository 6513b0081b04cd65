/* fd_io.h's loops, and the closing of inherited fds. */
#define _GNU_SOURCE
#include "base/fd_io.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

ssize_t fd_read_fully(int fd, char *buffer, size_t size)
{
        size_t total = 0;
        while (total < size) {
                ssize_t n = read(fd, buffer + total, size - total);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                total += (size_t)n;
        }
        return (ssize_t)total;
}

int fd_write_fully(int fd, const char *data, size_t size)
{
        while (size > 0) {
                ssize_t n = write(fd, data, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;
                data += n;
                size -= (size_t)n;
        }
        return 0;
}

void fd_close_inherited(int keep)
{
        if (keep > 3)
                (void)syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U);
        (void)syscall(SYS_close_range, (unsigned)(keep >= 3 ? keep + 1 : 3), ~0U, 0U);
}
