/* The client side of simgpu's MPS wire protocol (mps_wire.h): connect to a simulated control
 * daemon's `control` socket, send one request line, read back "<status> <length>\n" and exactly
 * <length> bytes of answer text. Shared by the control program's client mode and libcuda. */
#include "mps_wire.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The daemon refuses longer request lines; the header "<status> <length>\n" is short text. */
#define MPS_WIRE_LINE_MAX   4096
#define MPS_WIRE_HEADER_MAX 48
/* No answer of the control program comes near this; a larger length is a framing error. */
#define MPS_WIRE_TEXT_MAX (1024 * 1024)

int mps_wire_connect(const char *pipe_dir)
{
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int length, fd;

        if (!pipe_dir || !*pipe_dir)
                return -EINVAL;
        length = snprintf(address.sun_path, sizeof(address.sun_path), "%s/%s", pipe_dir,
                          MPS_WIRE_SOCKET_NAME);
        if (length < 0 || (size_t)length >= sizeof(address.sun_path))
                return -ENAMETOOLONG;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        for (;;) {
                if (connect(fd, (const struct sockaddr *)&address, sizeof(address)) == 0)
                        return fd;
                if (errno != EINTR)
                        break;
        }
        int saved = errno;
        (void)close(fd);
        return -saved;
}

static int send_all(int fd, const char *data, size_t size)
{
        while (size > 0) {
                ssize_t written = send(fd, data, size, MSG_NOSIGNAL);
                if (written < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += written;
                size -= (size_t)written;
        }
        return 0;
}

/* Reads exactly `size` bytes; end-of-file before that is a broken answer. */
static int read_exact(int fd, char *buffer, size_t size)
{
        while (size > 0) {
                ssize_t got = read(fd, buffer, size);
                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (got == 0)
                        return -ECONNRESET;
                buffer += got;
                size -= (size_t)got;
        }
        return 0;
}

/* Reads the header one byte at a time so that nothing past it is consumed: the connection is
 * reused for the next request and the body is read by its exact length. */
static int read_header(int fd, int *ret_status, size_t *ret_length)
{
        char header[MPS_WIRE_HEADER_MAX];
        size_t used = 0;
        int r;

        for (;;) {
                if (used == sizeof(header) - 1)
                        return -EPROTO;
                r = read_exact(fd, &header[used], 1);
                if (r < 0)
                        return r;
                if (header[used] == '\n')
                        break;
                used++;
        }
        header[used] = '\0';
        if (strcmp(header, MPS_WIRE_BUSY) == 0)
                return -EBUSY; /* another control connection holds the daemon */

        char *end;
        errno = 0;
        long status = strtol(header, &end, 10);
        if (errno || end == header || *end != ' ' || status < 0 || status > 255)
                return -EPROTO;
        const char *length_text = end + 1;
        if (*length_text < '0' || *length_text > '9')
                return -EPROTO;
        unsigned long long length = strtoull(length_text, &end, 10);
        if (errno || *end != '\0' || length > MPS_WIRE_TEXT_MAX)
                return -EPROTO;

        *ret_status = (int)status;
        *ret_length = (size_t)length;
        return 0;
}

int mps_wire_request(int fd, const char *line, int *ret_status, char **ret_text)
{
        size_t line_length;
        char *request, *text;
        int status, r;
        size_t length;

        if (fd < 0 || !line || !ret_status || !ret_text)
                return -EINVAL;
        line_length = strlen(line);
        if (line_length >= MPS_WIRE_LINE_MAX || memchr(line, '\n', line_length))
                return -EINVAL;

        request = malloc(line_length + 1);
        if (!request)
                return -ENOMEM;
        memcpy(request, line, line_length);
        request[line_length] = '\n';
        r = send_all(fd, request, line_length + 1);
        free(request);
        if (r < 0)
                return r;

        r = read_header(fd, &status, &length);
        if (r < 0)
                return r;
        text = malloc(length + 1);
        if (!text)
                return -ENOMEM;
        r = read_exact(fd, text, length);
        if (r < 0) {
                free(text);
                return r;
        }
        text[length] = '\0';

        *ret_status = status;
        *ret_text = text;
        return 0;
}
