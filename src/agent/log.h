/* The agent's log: one line per event on stderr, prefixed with its syslog priority ("<4>") as
 * journald and sd-daemon(3) read it, so that the unit needs no syslog and priorities survive. */
#pragma once

#include <syslog.h>

/* Writes "<PRIORITY>message\n" on stderr in one write (lines of several writers never mix). */
void agent_log(int priority, const char *format, ...) __attribute__((format(printf, 2, 3)));
