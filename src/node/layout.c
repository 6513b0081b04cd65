/* Where each target's MPS folders live, and their safe making and removal; see layout.h. The
 * runtime folder is the trusted root; everything below it is made and checked by safe_fs. */
#define _GNU_SOURCE
#include "node/layout.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/safe_fs.h"
#include "driver/mps_control.h"

/* The longest UUID a driver prints ("MIG-" or "GPU-" and 36 characters): the length the
 * runtime folder is checked against before any target is known. */
#define LAYOUT_UUID_TYPICAL "MIG-00000000-0000-0000-0000-000000000000"
#define LAYOUT_UUID_MAX     64

int layout_kind_parse(const char *text, enum layout_kind *ret_kind)
{
        if (strcmp(text, "default") == 0)
                *ret_kind = LAYOUT_DEFAULT;
        else if (strcmp(text, "seed") == 0)
                *ret_kind = LAYOUT_SEED;
        else
                return -EINVAL;
        return 0;
}

const char *layout_kind_name(enum layout_kind kind)
{
        return kind == LAYOUT_SEED ? "seed" : "default";
}

/* Copies `path` made absolute (from the current folder), with repeated and trailing '/' removed. */
static int normalize(const char *path, char *buffer, size_t size, struct error *err)
{
        char joined[PATH_MAX * 2];
        if (path[0] == '/') {
                (void)snprintf(joined, sizeof(joined), "%s", path);
        } else {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)))
                        return error_set(err, -errno, "cannot read the current folder for %s: %s",
                                         path, strerror(errno));
                (void)snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
        }
        size_t out = 0;
        for (size_t i = 0; joined[i]; i++) {
                if (joined[i] == '/' && out > 0 && buffer[out - 1] == '/')
                        continue;
                if (out + 1 >= size)
                        return error_set(err, -ENAMETOOLONG, "the runtime folder %s is too long",
                                         path);
                buffer[out++] = joined[i];
        }
        while (out > 1 && buffer[out - 1] == '/')
                out--;
        buffer[out] = '\0';
        return 0;
}

/* A UUID becomes a folder name: only letters, digits and '-' (old drivers' "MIG-GPU-.../1/0"
 * names hold '/', which would nest folders). */
static int check_uuid(const char *uuid, struct error *err)
{
        size_t len = strlen(uuid);
        if (len == 0 || len > LAYOUT_UUID_MAX)
                return error_set(err, -EINVAL,
                                 "\"%s\" is not a device UUID mpsmig can name a "
                                 "folder after",
                                 uuid);
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)uuid[i]) && uuid[i] != '-')
                        return error_set(err, -EINVAL,
                                         "the device UUID %s holds '%c', which cannot be part of "
                                         "a folder name (drivers before R470 name MIG devices "
                                         "this way: upgrade the driver)",
                                         uuid, uuid[i]);
        return 0;
}

static int paths_for(const struct layout *layout, const char *uuid, struct layout_paths *paths)
{
        int n1, n2, n3 = 0;
        if (layout->kind == LAYOUT_SEED) {
                paths->instance_dir[0] = '\0';
                n1 = snprintf(paths->pipe_dir, sizeof(paths->pipe_dir), "%s/%s%s", LAYOUT_SEED_DIR,
                              LAYOUT_SEED_PIPE_PREFIX, uuid);
                n2 = snprintf(paths->log_dir, sizeof(paths->log_dir), "%s/%s%s", LAYOUT_SEED_DIR,
                              LAYOUT_SEED_LOG_PREFIX, uuid);
        } else {
                n3 = snprintf(paths->instance_dir, sizeof(paths->instance_dir), "%s/%s",
                              layout->runtime_dir, uuid);
                n1 = snprintf(paths->pipe_dir, sizeof(paths->pipe_dir), "%s/%s/%s",
                              layout->runtime_dir, uuid, LAYOUT_PIPE_NAME);
                n2 = snprintf(paths->log_dir, sizeof(paths->log_dir), "%s/%s/%s",
                              layout->runtime_dir, uuid, LAYOUT_LOG_NAME);
        }
        if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof(paths->pipe_dir) ||
            (size_t)n2 >= sizeof(paths->log_dir) || (size_t)n3 >= sizeof(paths->instance_dir))
                return -ENAMETOOLONG;
        return 0;
}

static int check_pipe_length(const char *pipe_dir, const char *runtime_dir, struct error *err)
{
        size_t len = strlen(pipe_dir);
        if (len <= MPS_CONTROL_PIPE_DIR_MAX)
                return 0;
        return error_set(err, -ENAMETOOLONG,
                         "the pipe folder %s is %zu characters long, more than the %d that leave "
                         "room for the daemon's socket %s/control_privileged in a unix socket "
                         "path (108 bytes): choose a runtime folder at least %zu characters "
                         "shorter than %s (--runtime-dir or $%s)",
                         pipe_dir, len, MPS_CONTROL_PIPE_DIR_MAX, pipe_dir,
                         len - MPS_CONTROL_PIPE_DIR_MAX, runtime_dir, LAYOUT_RUNTIME_DIR_ENV);
}

/* Whether root manages this node's daemons in /run/mpsmig: then users find them there by
 * default (status, env, run), instead of in a private folder of their own that holds none. */
static bool system_runtime_dir_exists(void)
{
        struct stat st;
        return lstat(LAYOUT_RUNTIME_DIR_ROOT, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0;
}

int layout_init(enum layout_kind kind, const char *runtime_dir_option, struct layout *ret_layout,
                struct error *err)
{
        struct layout layout = {.kind = kind};
        char chosen[PATH_MAX];
        const char *from_env = getenv(LAYOUT_RUNTIME_DIR_ENV);
        if (runtime_dir_option && runtime_dir_option[0]) {
                (void)snprintf(chosen, sizeof(chosen), "%s", runtime_dir_option);
        } else if (from_env && from_env[0]) {
                (void)snprintf(chosen, sizeof(chosen), "%s", from_env);
        } else if (geteuid() == 0 || system_runtime_dir_exists()) {
                (void)snprintf(chosen, sizeof(chosen), "%s", LAYOUT_RUNTIME_DIR_ROOT);
        } else {
                const char *xdg = getenv("XDG_RUNTIME_DIR");
                if (!xdg || xdg[0] != '/')
                        return error_set(err, -ENOENT,
                                         "no runtime folder: XDG_RUNTIME_DIR is %s and mpsmig "
                                         "runs as a user; give one with --runtime-dir DIR or $%s",
                                         xdg ? "not absolute" : "not set", LAYOUT_RUNTIME_DIR_ENV);
                int n = snprintf(chosen, sizeof(chosen), "%s/%s", xdg, LAYOUT_RUNTIME_DIR_USER);
                if (n < 0 || (size_t)n >= sizeof(chosen))
                        return error_set(err, -ENAMETOOLONG, "XDG_RUNTIME_DIR is too long");
        }
        int r = normalize(chosen, layout.runtime_dir, sizeof(layout.runtime_dir), err);
        if (r < 0)
                return r;

        struct layout_paths paths;
        if (paths_for(&layout, LAYOUT_UUID_TYPICAL, &paths) < 0)
                return error_set(err, -ENAMETOOLONG, "the runtime folder %s is too long",
                                 layout.runtime_dir);
        size_t pipe_length = strlen(paths.pipe_dir);
        if (pipe_length > MPS_CONTROL_PIPE_DIR_MAX) {
                size_t root_length = strlen(layout.runtime_dir);
                return error_set(
                    err, -ENAMETOOLONG,
                    "the runtime folder %s is too long (%zu characters): its pipe "
                    "folders <runtime folder>/<UUID>/pipe would be %zu characters, "
                    "more than the %d that leave room for the daemon's socket "
                    "<pipe folder>/control_privileged in a unix socket path (108 "
                    "bytes); choose a runtime folder of at most %zu characters "
                    "(--runtime-dir or $%s)",
                    layout.runtime_dir, root_length, pipe_length, MPS_CONTROL_PIPE_DIR_MAX,
                    root_length - (pipe_length - MPS_CONTROL_PIPE_DIR_MAX), LAYOUT_RUNTIME_DIR_ENV);
        }
        *ret_layout = layout;
        return 0;
}

int layout_paths(const struct layout *layout, const char *uuid, struct layout_paths *ret_paths,
                 struct error *err)
{
        int r = check_uuid(uuid, err);
        if (r < 0)
                return r;
        struct layout_paths paths;
        if (paths_for(layout, uuid, &paths) < 0)
                return error_set(err, -ENAMETOOLONG, "the folders for %s under %s are too long",
                                 uuid, layout->runtime_dir);
        r = check_pipe_length(paths.pipe_dir, layout->runtime_dir, err);
        if (r < 0)
                return r;
        *ret_paths = paths;
        return 0;
}

int layout_open_runtime_dir(const struct layout *layout, bool create, int *ret_fd,
                            struct error *err)
{
        int r = safe_fs_open_root(layout->runtime_dir, create, LAYOUT_FOLDER_MODE, ret_fd, err);
        if (r < 0 && r != -ENOENT)
                return error_prefix(err, "runtime folder %s", layout->runtime_dir);
        return r;
}

/* The folder the target's folders are made in (the runtime folder, or /tmp for seed) and, for
 * the default layout, the target's own <UUID> folder inside it. */
static int open_base(const struct layout *layout, bool create, int *ret_fd, struct error *err)
{
        if (layout->kind == LAYOUT_SEED)
                return safe_fs_open_root(LAYOUT_SEED_DIR, false, 0, ret_fd, err);
        return layout_open_runtime_dir(layout, create, ret_fd, err);
}

static void folder_names(const struct layout *layout, const char *uuid, char *pipe, char *log,
                         size_t size)
{
        if (layout->kind == LAYOUT_SEED) {
                (void)snprintf(pipe, size, "%s%s", LAYOUT_SEED_PIPE_PREFIX, uuid);
                (void)snprintf(log, size, "%s%s", LAYOUT_SEED_LOG_PREFIX, uuid);
        } else {
                (void)snprintf(pipe, size, "%s", LAYOUT_PIPE_NAME);
                (void)snprintf(log, size, "%s", LAYOUT_LOG_NAME);
        }
}

int layout_make(const struct layout *layout, const char *uuid, int *ret_pipe_fd,
                struct layout_made *ret_made, struct error *err)
{
        struct layout_paths paths;
        int r = layout_paths(layout, uuid, &paths, err);
        if (r < 0)
                return r;
        struct layout_made made = {0};
        _cleanup_close_ int base = -1;
        r = open_base(layout, true, &base, err);
        if (r < 0)
                return r;
        const char *base_path = layout->kind == LAYOUT_SEED ? LAYOUT_SEED_DIR : layout->runtime_dir;
        if (layout->kind == LAYOUT_DEFAULT) {
                int instance = -1;
                r = safe_fs_make_folder(base, base_path, uuid, LAYOUT_FOLDER_MODE, &instance,
                                        &made.instance_dir, err);
                if (r < 0)
                        return r;
                (void)close(base);
                base = instance;
                base_path = paths.instance_dir;
        }
        char pipe_name[LAYOUT_UUID_MAX + 16], log_name[LAYOUT_UUID_MAX + 16];
        folder_names(layout, uuid, pipe_name, log_name, sizeof(pipe_name));
        uid_t owner = layout->handed ? layout->daemon_uid : geteuid();
        gid_t group = layout->handed ? layout->daemon_gid : (gid_t)-1;
        _cleanup_close_ int pipe_fd = -1;
        r = safe_fs_make_folder_for(base, base_path, pipe_name, LAYOUT_FOLDER_MODE, owner, group,
                                    &pipe_fd, &made.pipe_dir, err);
        if (r < 0)
                return r;
        r = safe_fs_make_folder_for(base, base_path, log_name, LAYOUT_FOLDER_MODE, owner, group,
                                    NULL, &made.log_dir, err);
        if (r < 0)
                return r;
        if (ret_made)
                *ret_made = made;
        *ret_pipe_fd = TAKE_FD(pipe_fd);
        return 0;
}

int layout_open_pipe(const struct layout *layout, const char *uuid, int *ret_pipe_fd,
                     struct error *err)
{
        struct layout_paths paths;
        int r = layout_paths(layout, uuid, &paths, err);
        if (r < 0)
                return r;
        _cleanup_close_ int base = -1;
        struct error ignored = {0};
        r = open_base(layout, false, &base, &ignored);
        if (r == -ENOENT)
                return -ENOENT;
        if (r < 0)
                return error_set(err, r, "%s", ignored.message);
        const char *base_path = layout->kind == LAYOUT_SEED ? LAYOUT_SEED_DIR : layout->runtime_dir;
        if (layout->kind == LAYOUT_DEFAULT) {
                int instance = -1;
                r = safe_fs_open_folder(base, base_path, uuid, &instance, err);
                if (r < 0)
                        return r == -ENOENT ? -ENOENT : r;
                (void)close(base);
                base = instance;
                base_path = paths.instance_dir;
        }
        char pipe_name[LAYOUT_UUID_MAX + 16], log_name[LAYOUT_UUID_MAX + 16];
        folder_names(layout, uuid, pipe_name, log_name, sizeof(pipe_name));
        r = safe_fs_open_folder(base, base_path, pipe_name, ret_pipe_fd, err);
        return r == -ENOENT ? -ENOENT : r;
}

int layout_read_pid(int pipe_fd, pid_t *ret_pid)
{
        char text[32];
        ssize_t n = safe_fs_read_file(pipe_fd, LAYOUT_PID_FILE, text, sizeof(text));
        if (n < 0)
                return (int)n;
        char *end = NULL;
        errno = 0;
        long value = strtol(text, &end, 10);
        while (end && (*end == '\n' || *end == ' '))
                end++;
        if (errno != 0 || end == text || !end || *end != '\0' || value <= 1 || value > INT_MAX)
                return -EBADMSG;
        *ret_pid = (pid_t)value;
        return 0;
}

int layout_clean_daemon_files(int pipe_fd, struct error *err)
{
        static const char *const names[] = {
            LAYOUT_PID_FILE, "log", "control", "control_privileged", "control_lock",
        };
        int removed = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                if (unlinkat(pipe_fd, names[i], 0) == 0)
                        removed++;
                else if (errno != ENOENT)
                        return error_set(err, -errno, "cannot remove the stale %s: %s", names[i],
                                         strerror(errno));
        }
        return removed;
}

/* Counts one safe_fs_remove_folder() result into `removal`. */
static int count_removal(int r, struct layout_removal *removal)
{
        if (r == SAFE_FS_REMOVED)
                removal->removed++;
        else if (r == SAFE_FS_NOT_MARKED)
                removal->left_unmarked++;
        return r < 0 ? r : 0;
}

/* What the control program leaves under this name, as a file type (docs/driver-facts.md: the
 * sockets `control` and `control_privileged`, the `log` fifo, regular files otherwise); 0 for a
 * name that is not one of `names`. */
static mode_t expected_type(const char *name, const char *const *names, size_t count)
{
        for (size_t i = 0; i < count; i++) {
                if (strcmp(name, names[i]) != 0)
                        continue;
                if (strcmp(name, "control") == 0 || strcmp(name, "control_privileged") == 0)
                        return S_IFSOCK;
                return strcmp(name, "log") == 0 ? S_IFIFO : S_IFREG;
        }
        return 0;
}

/* A seed folder the seed scripts made (no marker): removed entry by entry, by name, when it is
 * ours, not a link, and holds only `expected` files; otherwise left, `removal` saying why.
 * Returns a safe_fs_removal; never fails (what cannot be removed is kept and explained). */
static int remove_seed_folder(int base, const char *name, const char *const *expected,
                              size_t expected_count, struct layout_removal *removal)
{
        char *why = removal->kept_reason;
        size_t size = sizeof(removal->kept_reason);
        _cleanup_close_ int fd =
            openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                struct stat st;
                if (e == ENOENT)
                        return SAFE_FS_ABSENT;
                if (fstatat(base, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                        (void)snprintf(why, size, "kept %s/%s: it is a symbolic link",
                                       LAYOUT_SEED_DIR, name);
                else
                        (void)snprintf(why, size, "kept %s/%s: cannot open it: %s", LAYOUT_SEED_DIR,
                                       name, strerror(e));
                return SAFE_FS_NOT_MARKED;
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
                char owner[128] = "another user";
                if (st.st_uid != geteuid())
                        safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                (void)snprintf(why, size, "kept %s/%s: it belongs to %s", LAYOUT_SEED_DIR, name,
                               owner);
                return SAFE_FS_NOT_MARKED;
        }
        int listing = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        _cleanup_closedir_ DIR *dir = listing >= 0 ? fdopendir(listing) : NULL;
        if (!dir) {
                if (listing >= 0)
                        (void)close(listing);
                (void)snprintf(why, size, "kept %s/%s: cannot list it", LAYOUT_SEED_DIR, name);
                return SAFE_FS_NOT_MARKED;
        }
        struct dirent *entry;
        while ((entry = readdir(dir))) {
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                        continue;
                struct stat entry_st;
                mode_t type = expected_type(entry->d_name, expected, expected_count);
                if (type == 0 || fstatat(fd, entry->d_name, &entry_st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    (entry_st.st_mode & S_IFMT) != type || entry_st.st_uid != geteuid()) {
                        (void)snprintf(why, size,
                                       "kept %s/%.80s: it holds %.64s, which is not what the MPS "
                                       "control program leaves there",
                                       LAYOUT_SEED_DIR, name, entry->d_name);
                        return SAFE_FS_NOT_MARKED;
                }
        }
        for (size_t i = 0; i < expected_count; i++)
                if (unlinkat(fd, expected[i], 0) < 0 && errno != ENOENT) {
                        (void)snprintf(why, size, "kept %s/%.80s: cannot remove its %s: %s",
                                       LAYOUT_SEED_DIR, name, expected[i], strerror(errno));
                        return SAFE_FS_NOT_MARKED;
                }
        /* rmdir fails, and the folder is kept, if anything appeared since the check. */
        if (unlinkat(base, name, AT_REMOVEDIR) < 0) {
                (void)snprintf(why, size, "kept %s/%s: %s", LAYOUT_SEED_DIR, name, strerror(errno));
                return SAFE_FS_NOT_MARKED;
        }
        return SAFE_FS_REMOVED;
}

static int remove_seed_folders(int base, const char *pipe_name, const char *log_name,
                               struct layout_removal *removal, struct error *err)
{
        static const char *const pipe_files[] = {LAYOUT_SEED_PIPE_FILES};
        static const char *const log_files[] = {LAYOUT_SEED_LOG_FILES};
        const char *names[] = {pipe_name, log_name};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                int r = safe_fs_remove_folder(base, LAYOUT_SEED_DIR, names[i], err);
                if (r == SAFE_FS_NOT_MARKED)
                        r = i == 0 ? remove_seed_folder(base, names[i], pipe_files,
                                                        ELEMENTSOF(pipe_files), removal)
                                   : remove_seed_folder(base, names[i], log_files,
                                                        ELEMENTSOF(log_files), removal);
                r = count_removal(r, removal);
                if (r < 0)
                        return r;
        }
        return 0;
}

int layout_remove(const struct layout *layout, const char *uuid, struct layout_removal *ret_removal,
                  struct error *err)
{
        struct layout_paths paths;
        int r = layout_paths(layout, uuid, &paths, err);
        if (r < 0)
                return r;
        struct layout_removal removal = {0};
        _cleanup_close_ int base = -1;
        struct error ignored = {0};
        r = open_base(layout, false, &base, &ignored);
        if (r == -ENOENT) {
                *ret_removal = removal;
                return 0;
        }
        if (r < 0)
                return error_set(err, r, "%s", ignored.message);
        char pipe_name[LAYOUT_UUID_MAX + 16], log_name[LAYOUT_UUID_MAX + 16];
        folder_names(layout, uuid, pipe_name, log_name, sizeof(pipe_name));

        if (layout->kind == LAYOUT_SEED) {
                r = remove_seed_folders(base, pipe_name, log_name, &removal, err);
        } else {
                _cleanup_close_ int instance = -1;
                r = safe_fs_open_folder(base, layout->runtime_dir, uuid, &instance, err);
                if (r == -ENOENT) {
                        *ret_removal = removal;
                        return 0;
                }
                if (r == 0)
                        r = count_removal(
                            safe_fs_remove_folder(instance, paths.instance_dir, pipe_name, err),
                            &removal);
                if (r == 0)
                        r = count_removal(
                            safe_fs_remove_folder(instance, paths.instance_dir, log_name, err),
                            &removal);
                if (r == 0)
                        r = count_removal(
                            safe_fs_remove_folder(base, layout->runtime_dir, uuid, err), &removal);
        }
        if (r < 0)
                return r;
        *ret_removal = removal;
        return 0;
}
