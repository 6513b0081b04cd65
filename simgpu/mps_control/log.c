/* The log folder and its files: control.log as the real daemon writes it (`[YYYY-MM-DD
 * HH:MM:SS.mmm Control   PID] text`, one write per line; a foreground daemon also prints each
 * line on stdout) and server.log. Also the clock and answer-building helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mps_control.h"

int64_t mps_now_ms(void)
{
        struct timespec now;

        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void write_all(int fd, const char *data, size_t size)
{
        while (size > 0) {
                ssize_t written = write(fd, data, size);
                if (written < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* a log that cannot be written is lost, as the real one is */
                }
                data += written;
                size -= (size_t)written;
        }
}

__attribute__((format(printf, 3, 0))) /* Formats one line: the timestamp, `who` ("Control" or
                                         "Server") and the pid, then the text. */
__attribute__((format(printf, 5, 0))) static size_t
format_line(char *line, size_t size, const char *who, pid_t pid, const char *format, va_list args)
{
        struct timespec now;
        struct tm local;
        size_t used;
        int length;

        (void)clock_gettime(CLOCK_REALTIME, &now);
        (void)localtime_r(&now.tv_sec, &local);
        used = strftime(line, size, "[%Y-%m-%d %H:%M:%S", &local);
        length = snprintf(line + used, size - used, ".%03ld %s %5d] ", now.tv_nsec / 1000000, who,
                          (int)pid);
        if (length < 0)
                return 0;
        used += (size_t)length;
        length = vsnprintf(line + used, size - used, format, args);
        if (length < 0)
                return 0;
        used += (size_t)length;
        if (used > size - 2)
                used = size - 2;
        line[used++] = '\n';
        return used;
}

__attribute__((format(printf, 3, 0))) static void log_line(struct mps_daemon *daemon, pid_t pid,
                                                           const char *format, va_list args)
{
        char line[MPS_LINE_MAX + 256];
        size_t used = format_line(line, sizeof(line), "Control", pid, format, args);

        if (used == 0)
                return;
        if (daemon->control_log_fd >= 0)
                write_all(daemon->control_log_fd, line, used);
        if (daemon->foreground)
                write_all(STDOUT_FILENO, line, used);
}

void mps_log(struct mps_daemon *daemon, const char *format, ...)
{
        va_list args;

        va_start(args, format);
        log_line(daemon, daemon->pid, format, args);
        va_end(args);
}

void mps_log_as(struct mps_daemon *daemon, pid_t pid, const char *format, ...)
{
        va_list args;

        va_start(args, format);
        log_line(daemon, pid, format, args);
        va_end(args);
}

void mps_server_log(struct mps_daemon *daemon, pid_t server_pid, const char *format, ...)
{
        char line[MPS_LINE_MAX + 256];
        va_list args;
        size_t used;

        if (daemon->server_log_fd < 0)
                return;
        va_start(args, format);
        used = format_line(line, sizeof(line), "Server", server_pid, format, args);
        va_end(args);
        if (used > 0)
                write_all(daemon->server_log_fd, line, used);
}

void mps_log_warn_unavailable(const struct mps_daemon *daemon)
{
        fprintf(stderr,
                "Warning: Failed writing log files to directory [%s]. No logs will be "
                "available.\n",
                daemon->log_dir);
}

void mps_log_open(struct mps_daemon *daemon)
{
        char path[PATH_MAX];
        struct stat st;

        if (stat(daemon->log_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                /* chmod too: the umask must not narrow or widen the real daemon's 0700. */
                if (mkdir(daemon->log_dir, 0700) < 0 || chmod(daemon->log_dir, 0700) < 0) {
                        mps_log_warn_unavailable(daemon);
                        return;
                }
        }
        snprintf(path, sizeof(path), "%s/control.log", daemon->log_dir);
        daemon->control_log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        snprintf(path, sizeof(path), "%s/server.log", daemon->log_dir);
        daemon->server_log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (daemon->control_log_fd < 0 || daemon->server_log_fd < 0)
                mps_log_warn_unavailable(daemon);
}

void mps_answer_printf(struct mps_answer *answer, const char *format, ...)
{
        size_t room = sizeof(answer->text) - answer->used;
        va_list args;
        int length;

        if (answer->truncated)
                return;
        va_start(args, format);
        length = vsnprintf(answer->text + answer->used, room, format, args);
        va_end(args);
        if (length < 0 || (size_t)length >= room) {
                answer->truncated = true;
                answer->text[answer->used] = '\0';
                return;
        }
        answer->used += (size_t)length;
}
