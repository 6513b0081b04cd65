/* A test's end of systemd's notify socket: binds a unix datagram socket at PATH and prints each
 * datagram it receives on one line of stdout (its own newlines shown as '|'), flushed at once,
 * until SIGTERM or SIGINT. Usage: notify_listen PATH */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc != 2) {
                fprintf(stderr, "Usage: notify_listen PATH\n");
                return 2;
        }
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        if (strlen(argv[1]) >= sizeof(address.sun_path)) {
                fprintf(stderr, "notify_listen: %s is too long for a socket\n", argv[1]);
                return 2;
        }
        strcpy(address.sun_path, argv[1]);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
                fprintf(stderr, "notify_listen: cannot bind %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        char buffer[4096];
        for (;;) {
                ssize_t n = recv(fd, buffer, sizeof(buffer) - 1, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return 1;
                for (ssize_t i = 0; i < n; i++)
                        if (buffer[i] == '\n')
                                buffer[i] = '|';
                buffer[n] = '\0';
                printf("%s\n", buffer);
                (void)fflush(stdout);
        }
}
