/* Control daemons found through the pipe folders of the known layouts; see daemon_folder.h. The
 * folders may be another user's: nothing here writes, and nothing read is trusted beyond "a live
 * control daemon is there" (the pid is checked to be one through /proc). */
#define _GNU_SOURCE
#include "node/daemon_folder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "node/layout.h"

#define CONTROL_SOCKET_NAME "control"

/* Whether something listens on the folder's control socket. */
static bool socket_answers(const char *pipe_dir)
{
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int n = snprintf(address.sun_path, sizeof(address.sun_path), "%s/%s", pipe_dir,
                         CONTROL_SOCKET_NAME);
        if (n < 0 || (size_t)n >= sizeof(address.sun_path))
                return false;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return false;
        if (connect(fd, (const struct sockaddr *)&address, sizeof(address)) == 0)
                return true;
        /* a full backlog is a listener too */
        return errno == EAGAIN || errno == EINPROGRESS;
}

bool daemon_folder_has_socket(const char *pipe_dir)
{
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", pipe_dir, CONTROL_SOCKET_NAME);
        struct stat st;
        return n > 0 && (size_t)n < sizeof(path) && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int daemon_folder_live(const char *pipe_dir, pid_t *ret_pid)
{
        if (ret_pid)
                *ret_pid = 0;
        _cleanup_close_ int fd = open(pipe_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        pid_t pid = 0;
        struct mps_daemon daemon;
        if (layout_read_pid(fd, &pid) == 0 && daemon_inspect(pid, &daemon) == 0) {
                if (ret_pid)
                        *ret_pid = pid;
                return 1;
        }
        return socket_answers(pipe_dir) ? 1 : 0;
}

/* The known pipe folders of `uuid`, at most `max`. */
static size_t known_folders(const char *uuid, const char *runtime_dir, char (*folders)[PATH_MAX],
                            size_t max)
{
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        char xdg_runtime[PATH_MAX] = "";
        if (xdg && xdg[0] == '/')
                (void)snprintf(xdg_runtime, sizeof(xdg_runtime), "%s/%s", xdg,
                               LAYOUT_RUNTIME_DIR_USER);
        const char *roots[] = {LAYOUT_RUNTIME_DIR_ROOT, getenv(LAYOUT_RUNTIME_DIR_ENV), xdg_runtime,
                               runtime_dir};
        size_t count = 0;
        struct layout seed = {.kind = LAYOUT_SEED};
        struct layout_paths paths;
        if (count < max && layout_paths(&seed, uuid, &paths, NULL) == 0)
                (void)snprintf(folders[count++], PATH_MAX, "%s", paths.pipe_dir);
        for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && count < max; i++) {
                struct layout layout;
                if (!roots[i] || !roots[i][0] ||
                    layout_init(LAYOUT_DEFAULT, roots[i], &layout, NULL) < 0 ||
                    layout_paths(&layout, uuid, &paths, NULL) < 0)
                        continue;
                bool repeated = false;
                for (size_t j = 0; j < count && !repeated; j++)
                        repeated = strcmp(folders[j], paths.pipe_dir) == 0;
                if (!repeated)
                        (void)snprintf(folders[count++], PATH_MAX, "%s", paths.pipe_dir);
        }
        return count;
}

static bool same_folder(const char *a, const char *b)
{
        struct stat sa, sb;
        if (strcmp(a, b) == 0)
                return true;
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
               sa.st_ino == sb.st_ino;
}

int daemon_folder_find_other(const char *uuid, const char *runtime_dir, const char *own_pipe_dir,
                             struct daemon_folder_hit *ret_hit)
{
        char folders[5][PATH_MAX];
        size_t count = known_folders(uuid, runtime_dir, folders, 5);
        for (size_t i = 0; i < count; i++) {
                if (same_folder(folders[i], own_pipe_dir))
                        continue;
                pid_t pid = 0;
                struct stat st;
                if (daemon_folder_live(folders[i], &pid) == 1 && stat(folders[i], &st) == 0) {
                        ret_hit->pid = pid;
                        ret_hit->owner = st.st_uid;
                        (void)snprintf(ret_hit->pipe_dir, sizeof(ret_hit->pipe_dir), "%s",
                                       folders[i]);
                        return 1;
                }
        }
        return 0;
}

bool daemon_folder_accounts_for(const struct mps_daemon *daemon, const char *runtime_dir,
                                const char *const *uuids, size_t count)
{
        for (size_t u = 0; u < count; u++) {
                char folders[5][PATH_MAX];
                size_t n = known_folders(uuids[u], runtime_dir, folders, 5);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_close_ int fd =
                            open(folders[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        pid_t pid = 0;
                        if (fd >= 0 && layout_read_pid(fd, &pid) == 0 && pid == daemon->pid)
                                return true;
                }
        }
        return false;
}
