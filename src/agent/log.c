/* One log line per event on stderr with its syslog priority prefix; see log.h. */
#include "agent/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fd_io.h"

void agent_log(int priority, const char *format, ...)
{
        char line[2048];
        int n = snprintf(line, sizeof(line), "<%d>", priority & LOG_PRIMASK);
        va_list ap;
        va_start(ap, format);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, format, ap);
        va_end(ap);
        size_t used = (size_t)n + (m < 0 ? 0 : (size_t)m);
        if (used > sizeof(line) - 2)
                used = sizeof(line) - 2;
        /* A message holds no newline of its own: one event, one line. */
        for (size_t i = (size_t)n; i < used; i++)
                if (line[i] == '\n' || line[i] == '\r')
                        line[i] = ' ';
        line[used++] = '\n';
        (void)fd_write_fully(STDERR_FILENO, line, used);
}
