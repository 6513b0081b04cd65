/* The notify protocol of systemd in a few lines: a datagram of "KEY=VALUE" lines to the socket
 * $NOTIFY_SOCKET names; see notify.h. */
#define _GNU_SOURCE
#include "agent/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notifier_open(struct notifier *notifier)
{
        *notifier = (struct notifier){.fd = -1};
        const char *name = getenv("NOTIFY_SOCKET");
        if (!name || !name[0])
                return 0;
        size_t length = strlen(name);
        if ((name[0] != '/' && name[0] != '@') || length >= sizeof(notifier->path))
                return -EINVAL;
        memcpy(notifier->path, name, length);
        /* '@' is the abstract namespace: a leading NUL, and no terminating one. */
        if (name[0] == '@')
                notifier->path[0] = '\0';
        notifier->path_length = (unsigned)length + (name[0] == '/');
        notifier->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        return notifier->fd < 0 ? -errno : 0;
}

int notifier_send(const struct notifier *notifier, const char *state)
{
        if (notifier->fd < 0)
                return 0;
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        memcpy(address.sun_path, notifier->path, notifier->path_length);
        socklen_t length =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + notifier->path_length);
        ssize_t n;
        do
                n = sendto(notifier->fd, state, strlen(state), MSG_NOSIGNAL,
                           (const struct sockaddr *)&address, length);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : 0;
}

void notifier_close(struct notifier *notifier)
{
        if (notifier->fd >= 0)
                (void)close(notifier->fd);
        notifier->fd = -1;
}
