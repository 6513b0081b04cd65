/* systemd's notify protocol, written directly: one datagram per state change to the unix socket
 * $NOTIFY_SOCKET names (a path, or '@' for the abstract namespace), as sd_notify(3) sends it.
 * Eight lines of protocol do not need libsystemd (docs/agent.md says why). */
#pragma once

#include <stdbool.h>

struct notifier {
        int fd; /* -1: not run by systemd (no $NOTIFY_SOCKET), nothing is sent */
        char path[108];
        unsigned path_length; /* bytes of sun_path used (an abstract name has no NUL) */
};

/* Reads $NOTIFY_SOCKET and opens a datagram socket for it. No variable is not an error (the
 * notifier then sends nothing); a malformed one is -EINVAL. */
int notifier_open(struct notifier *notifier);

/* Sends the lines of `state` ("READY=1\nSTATUS=56 of 56 answering") as one datagram. 0, or a
 * negative errno; a notifier without a socket sends nothing and returns 0. */
int notifier_send(const struct notifier *notifier, const char *state);

void notifier_close(struct notifier *notifier);
