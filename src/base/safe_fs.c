/* Folders mpsmig makes and trusts; see safe_fs.h. Every path is walked with openat() and
 * O_NOFOLLOW from a folder already checked, so no component can be swapped for a link between
 * the check and the use, and every existing folder relied on is checked by fstat(). */
#define _GNU_SOURCE
#include "base/safe_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fd_io.h"

#define LINK_HOPS_MAX 40 /* as the kernel's own limit on links in one lookup */

void safe_fs_describe_owner(uid_t uid, char *buffer, size_t size)
{
        struct passwd entry;
        struct passwd *found = NULL;
        char text[1024];
        if (getpwuid_r(uid, &entry, text, sizeof(text), &found) == 0 && found)
                (void)snprintf(buffer, size, "user %s (uid %u)", found->pw_name, (unsigned)uid);
        else
                (void)snprintf(buffer, size, "uid %u", (unsigned)uid);
}

static bool writable_by_others(mode_t mode)
{
        return (mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* A folder on the way to the root: ours or root's, and nobody else can swap its entries (a
 * sticky folder like /tmp lets others add entries but not replace ours). */
static int check_trusted_folder(int fd, const char *path, struct error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "cannot inspect %s: %s", path, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return error_set(err, -ENOTDIR, "%s is not a folder", path);
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
                char owner[128];
                safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                return error_set(
                    err, -EPERM,
                    "%s belongs to %s, not to root or you: refusing to trust it, since "
                    "its owner could redirect mpsmig's folders; use a folder of your own",
                    path, owner);
        }
        if (writable_by_others(st.st_mode) && !(st.st_mode & S_ISVTX))
                return error_set(
                    err, -EPERM,
                    "%s is writable by other users (mode %04o) and not sticky: refusing "
                    "to trust it; fix its mode or use another folder",
                    path, (unsigned)(st.st_mode & 07777));
        return 0;
}

/* A link nobody but root could have made: owned by root, in a folder only root can write. */
static bool link_is_trusted(int parent_fd, const struct stat *link)
{
        struct stat parent;
        if (link->st_uid != 0 || fstat(parent_fd, &parent) < 0)
                return false;
        return parent.st_uid == 0 && !writable_by_others(parent.st_mode);
}

/* Removes the last component of the walked path shown in messages ("/a/b" -> "/a"). */
static void shown_parent(char *shown)
{
        char *slash = strrchr(shown, '/');
        if (slash && slash != shown)
                *slash = '\0';
        else
                strcpy(shown, "/");
}

static void shown_append(char *shown, size_t size, const char *name)
{
        size_t len = strlen(shown);
        (void)snprintf(shown + len, size - len, "%s%s", len > 0 && shown[len - 1] == '/' ? "" : "/",
                       name);
}

/* Gives a root component this call just made its exact mode, whatever the umask. */
static int set_made_mode(int fd, mode_t mode, const char *shown, struct error *err)
{
        if (fchmod(fd, mode) < 0)
                return error_set(err, -errno, "cannot set the mode of %s: %s", shown,
                                 strerror(errno));
        return 0;
}

int safe_fs_open_root(const char *path, bool create, mode_t mode, int *ret_fd, struct error *err)
{
        if (!path || path[0] != '/')
                return error_set(err, -EINVAL, "%s is not an absolute path",
                                 path ? path : "(null)");
        _cleanup_free_ char *todo = strdup(path);
        if (!todo)
                return error_set(err, -ENOMEM, "out of memory");
        char shown[PATH_MAX] = "/";
        _cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, -errno, "cannot open /: %s", strerror(errno));
        int r = check_trusted_folder(fd, "/", err);
        if (r < 0)
                return r;

        const char *cursor = todo;
        unsigned hops = 0;
        for (;;) {
                while (*cursor == '/')
                        cursor++;
                if (!*cursor)
                        break;
                const char *end = strchrnul(cursor, '/');
                size_t len = (size_t)(end - cursor);
                char name[NAME_MAX + 1];
                if (len > NAME_MAX)
                        return error_set(err, -ENAMETOOLONG,
                                         "%s has a component longer than %d "
                                         "characters",
                                         path, NAME_MAX);
                memcpy(name, cursor, len);
                name[len] = '\0';
                cursor = end;
                if (strcmp(name, ".") == 0)
                        continue;
                if (strcmp(name, "..") == 0)
                        return error_set(err, -EINVAL,
                                         "%s contains \"..\": give the folder "
                                         "without it",
                                         path);
                shown_append(shown, sizeof(shown), name);

                int next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT && create) {
                        bool made = mkdirat(fd, name, mode) == 0;
                        if (!made && errno != EEXIST)
                                return error_set(err, -errno, "cannot make folder %s: %s", shown,
                                                 strerror(errno));
                        next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (next >= 0 && made) {
                                r = set_made_mode(next, mode, shown, err);
                                if (r < 0) {
                                        (void)close(next);
                                        return r;
                                }
                        }
                }
                if (next < 0) {
                        int e = errno;
                        struct stat link;
                        if ((e == ENOTDIR || e == ELOOP) &&
                            fstatat(fd, name, &link, AT_SYMLINK_NOFOLLOW) == 0 &&
                            S_ISLNK(link.st_mode)) {
                                char target[PATH_MAX];
                                ssize_t n = readlinkat(fd, name, target, sizeof(target) - 1);
                                if (n < 0)
                                        return error_set(err, -errno, "cannot read link %s: %s",
                                                         shown, strerror(errno));
                                target[n] = '\0';
                                if (!link_is_trusted(fd, &link))
                                        return error_set(err, -ELOOP,
                                                         "%s is a symbolic link (to %s) that "
                                                         "another user could have planted: "
                                                         "refusing to follow it; give the real "
                                                         "folder instead",
                                                         shown, target);
                                if (++hops > LINK_HOPS_MAX)
                                        return error_set(err, -ELOOP, "too many links in %s", path);
                                /* Continue the walk through the link: its target, then the rest. */
                                char *rest = NULL;
                                if (asprintf(&rest, "%s/%s", target, cursor) < 0)
                                        return error_set(err, -ENOMEM, "out of memory");
                                free(todo);
                                todo = rest;
                                cursor = todo;
                                shown_parent(shown);
                                if (target[0] == '/') {
                                        int top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                                        if (top < 0)
                                                return error_set(err, -errno, "cannot open /: %s",
                                                                 strerror(errno));
                                        (void)close(fd);
                                        fd = top;
                                        strcpy(shown, "/");
                                }
                                continue;
                        }
                        if (e == ENOENT)
                                return error_set(err, -ENOENT, "%s does not exist", shown);
                        if (e == ENOTDIR)
                                return error_set(err, -ENOTDIR, "%s is not a folder", shown);
                        return error_set(err, -e, "cannot open %s: %s", shown, strerror(e));
                }
                (void)close(fd);
                fd = next;
                r = check_trusted_folder(fd, shown, err);
                if (r < 0)
                        return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int check_name(const char *name, struct error *err)
{
        if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return error_set(err, -EINVAL, "\"%s\" cannot name a folder", name);
        return 0;
}

/* Opens `name` inside dirfd as a folder without following a link, and explains a refusal. */
static int open_folder_nofollow(int dirfd, const char *dir_path, const char *name, int *ret_fd,
                                struct error *err)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        int e = errno;
        struct stat st;
        if (e == ENOENT)
                return error_set(err, -ENOENT, "%s/%s does not exist", dir_path, name);
        if ((e == ENOTDIR || e == ELOOP) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                        target[n < 0 ? 0 : n] = '\0';
                        return error_set(err, -ELOOP,
                                         "%s/%s is a symbolic link (to %s): mpsmig never follows "
                                         "links in its folders; remove the link and try again",
                                         dir_path, name, n < 0 ? "?" : target);
                }
                return error_set(err, -ENOTDIR, "%s/%s is not a folder: remove it and try again",
                                 dir_path, name);
        }
        return error_set(err, -e, "cannot open %s/%s: %s", dir_path, name, strerror(e));
}

/* Whether the folder `fd` in `dirfd` is one mpsmig made and handed to another user (the daemons'
 * user, `user =` of the configuration): `dirfd` belongs to root or us and nobody else may write
 * there, so only root or we could have put the folder there, and it holds a marker of root's or
 * ours. Such a folder may belong to anyone. */
static bool only_root_or_we_write(int dirfd)
{
        struct stat parent;
        return fstat(dirfd, &parent) == 0 && (parent.st_uid == 0 || parent.st_uid == geteuid()) &&
               !writable_by_others(parent.st_mode);
}

static bool handed_folder(int dirfd, int fd)
{
        struct stat marker;
        return only_root_or_we_write(dirfd) &&
               fstatat(fd, SAFE_FS_MARKER, &marker, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISREG(marker.st_mode) && (marker.st_uid == 0 || marker.st_uid == geteuid());
}

/* A folder mpsmig relies on: ours (or, only to read it, root's; or one handed to another user),
 * and nobody else can change what it holds. */
static int check_own_folder(int dirfd, int fd, const char *dir_path, const char *name,
                            bool root_allowed, struct error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "cannot inspect %s/%s: %s", dir_path, name,
                                 strerror(errno));
        if (st.st_uid != geteuid() && !(root_allowed && st.st_uid == 0) &&
            !handed_folder(dirfd, fd)) {
                char owner[128], self[128];
                safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                safe_fs_describe_owner(geteuid(), self, sizeof(self));
                return error_set(err, -EPERM,
                                 "%s/%s belongs to %s, not to %s: refusing to use it, since its "
                                 "owner could redirect the daemon's files; remove it and try again",
                                 dir_path, name, owner, self);
        }
        if (writable_by_others(st.st_mode))
                return error_set(err, -EPERM,
                                 "%s/%s is writable by other users (mode %04o): refusing to use "
                                 "it; remove it and try again",
                                 dir_path, name, (unsigned)(st.st_mode & 07777));
        return 0;
}

static int write_marker(int fd)
{
        _cleanup_close_ int marker =
            openat(fd, SAFE_FS_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (marker < 0)
                return -errno;
        char text[160];
        int n = snprintf(text, sizeof(text),
                         "made by mpsmig (pid %ld, uid %u); `mpsmig stop` removes this folder\n",
                         (long)getpid(), (unsigned)geteuid());
        /* A full disk says ENOSPC, not a bare I/O error. */
        return fd_write_fully(marker, text, (size_t)n);
}

/* Whether the folder holds nothing at all (no marker either). */
static bool folder_is_empty(int fd)
{
        int listing = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (listing < 0)
                return false;
        _cleanup_closedir_ DIR *dir = fdopendir(listing);
        if (!dir) {
                (void)close(listing);
                return false;
        }
        struct dirent *entry;
        while ((entry = readdir(dir)))
                if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
                        return false;
        return true;
}

/* Gives a folder this call made its mode and marker, or takes it away again: a folder never
 * stays without its marker because a step after mkdir failed (no fd left, a full disk), for an
 * unmarked folder is someone else's to every later stop. */
static int finish_made_folder(int dirfd, const char *dir_path, const char *name, int fd,
                              mode_t mode, struct error *err)
{
        int r = fchmod(fd, mode) < 0 ? -errno : write_marker(fd);
        if (r == 0)
                return 0;
        (void)unlinkat(fd, SAFE_FS_MARKER, 0);
        (void)unlinkat(dirfd, name, AT_REMOVEDIR);
        return error_set(err, r, "cannot mark %s/%s as made by mpsmig: %s", dir_path, name,
                         strerror(-r));
}

int safe_fs_make_folder_for(int dirfd, const char *dir_path, const char *name, mode_t mode,
                            uid_t owner, gid_t group, int *ret_fd, bool *ret_created,
                            struct error *err)
{
        int r = check_name(name, err);
        if (r < 0)
                return r;
        /* Handed to another user, a folder is trusted only where nobody else could swap it. */
        if (owner != geteuid() && !only_root_or_we_write(dirfd))
                return error_set(err, -EPERM,
                                 "cannot give %s/%s to uid %u: others may write in %s, so the "
                                 "folder could not be trusted afterwards",
                                 dir_path, name, (unsigned)owner, dir_path);
        bool created = false;
        if (mkdirat(dirfd, name, mode) == 0)
                created = true;
        else if (errno != EEXIST)
                return error_set(err, -errno, "cannot make folder %s/%s: %s", dir_path, name,
                                 strerror(errno));

        _cleanup_close_ int fd = -1;
        r = open_folder_nofollow(dirfd, dir_path, name, &fd, err);
        if (r < 0)
                return r;
        r = check_own_folder(dirfd, fd, dir_path, name, false, err);
        if (r < 0)
                return r;
        /* An empty folder of ours without a marker is one an mpsmig killed between mkdir and
         * the marker left behind (nobody else's work is in it): ours to finish. */
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "cannot inspect %s/%s: %s", dir_path, name,
                                 strerror(errno));
        if (!created && st.st_uid == geteuid() && !safe_fs_is_marked(fd) && folder_is_empty(fd))
                created = true;
        if (created) {
                r = finish_made_folder(dirfd, dir_path, name, fd, mode, err);
                if (r < 0)
                        return r;
        }
        /* Handed over (or back) once marked, so that the marker stays ours. */
        bool hand = owner != st.st_uid || (group != (gid_t)-1 && group != st.st_gid);
        if (hand && (created || handed_folder(dirfd, fd) || safe_fs_is_marked(fd)) &&
            fchown(fd, owner, group) < 0) {
                r = -errno;
                if (created) {
                        (void)unlinkat(fd, SAFE_FS_MARKER, 0);
                        (void)unlinkat(dirfd, name, AT_REMOVEDIR);
                }
                return error_set(err, r, "cannot give %s/%s to uid %u: %s", dir_path, name,
                                 (unsigned)owner, strerror(-r));
        }
        if (ret_created)
                *ret_created = created;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

int safe_fs_make_folder(int dirfd, const char *dir_path, const char *name, mode_t mode, int *ret_fd,
                        bool *ret_created, struct error *err)
{
        return safe_fs_make_folder_for(dirfd, dir_path, name, mode, geteuid(), (gid_t)-1, ret_fd,
                                       ret_created, err);
}

int safe_fs_open_folder(int dirfd, const char *dir_path, const char *name, int *ret_fd,
                        struct error *err)
{
        int r = check_name(name, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = -1;
        r = open_folder_nofollow(dirfd, dir_path, name, &fd, err);
        if (r < 0)
                return r;
        r = check_own_folder(dirfd, fd, dir_path, name, true, err);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

bool safe_fs_is_marked(int dirfd)
{
        struct stat st;
        if (fstatat(dirfd, SAFE_FS_MARKER, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return S_ISREG(st.st_mode) && st.st_uid == geteuid();
}

ssize_t safe_fs_read_file(int dirfd, const char *name, char *buffer, size_t size)
{
        if (size == 0)
                return -EINVAL;
        /* O_NONBLOCK: a fifo planted under the name must not hang the open. */
        _cleanup_close_ int fd =
            openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOTDIR ? -ELOOP : -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        ssize_t total = fd_read_fully(fd, buffer, size - 1);
        if (total < 0)
                return total;
        buffer[total] = '\0';
        return total;
}

int safe_fs_read_trusted_file(int dirfd, const char *name, size_t max, char **ret_text,
                              size_t *ret_size)
{
        _cleanup_close_ int fd =
            openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ELOOP || errno == ENOTDIR || errno == ENXIO ? -EPERM : -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
            (st.st_mode & (S_IWGRP | S_IWOTH)))
                return -EPERM;
        if ((unsigned long long)st.st_size > max)
                return -EFBIG;
        _cleanup_free_ char *text = malloc((size_t)st.st_size + 1);
        if (!text)
                return -ENOMEM;
        ssize_t total = fd_read_fully(fd, text, (size_t)st.st_size);
        if (total < 0)
                return (int)total;
        text[total] = '\0';
        *ret_text = TAKE_PTR(text);
        *ret_size = (size_t)total;
        return 0;
}

int safe_fs_replace_file(int dirfd, const char *name, const char *data, size_t size, mode_t mode)
{
        char temporary[NAME_MAX + 1];
        if (snprintf(temporary, sizeof(temporary), ".%s.%d.new", name, (int)getpid()) >=
            (int)sizeof(temporary))
                return -ENAMETOOLONG;
        /* A temporary of this name is only ever a dead writer's with our pid. */
        (void)unlinkat(dirfd, temporary, 0);
        _cleanup_close_ int fd =
            openat(dirfd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        int r = fchmod(fd, mode) < 0 ? -errno : fd_write_fully(fd, data, size);
        if (close(TAKE_FD(fd)) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, temporary, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(dirfd, temporary, 0);
        return r;
}

int safe_fs_unlink(int dirfd, const char *name)
{
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        return -errno;
}

/* The first pass of a removal: every entry must be a non-folder owned by us or by the user the
 * folder was handed to (`folder_owner`: what a daemon of that user wrote). */
static int check_removable_entries(DIR *dir, const char *dir_path, const char *name,
                                   uid_t folder_owner, struct error *err)
{
        struct dirent *entry;
        while ((errno = 0, entry = readdir(dir))) {
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return error_set(err, -errno, "cannot inspect %s/%s/%s: %s", dir_path, name,
                                         entry->d_name, strerror(errno));
                }
                if (S_ISDIR(st.st_mode))
                        return error_set(err, -ENOTEMPTY,
                                         "left %s/%s in place: it holds the folder %s, which "
                                         "mpsmig did not make",
                                         dir_path, name, entry->d_name);
                if (st.st_uid != geteuid() && st.st_uid != folder_owner) {
                        char owner[128];
                        safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                        return error_set(err, -EPERM,
                                         "left %s/%s in place: its entry %s belongs "
                                         "to %s",
                                         dir_path, name, entry->d_name, owner);
                }
        }
        if (errno != 0)
                return error_set(err, -errno, "cannot list %s/%s: %s", dir_path, name,
                                 strerror(errno));
        return 0;
}

int safe_fs_remove_folder(int dirfd, const char *dir_path, const char *name, struct error *err)
{
        int r = check_name(name, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd =
            openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                struct stat st;
                if (e == ENOENT)
                        return SAFE_FS_ABSENT;
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                        return error_set(err, -ELOOP,
                                         "left %s/%s in place: it is a symbolic "
                                         "link, which mpsmig did not make",
                                         dir_path, name);
                return error_set(err, -e, "cannot open %s/%s: %s", dir_path, name, strerror(e));
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "cannot inspect %s/%s: %s", dir_path, name,
                                 strerror(errno));
        if (!safe_fs_is_marked(fd)) {
                /* Empty and ours: what an mpsmig killed between mkdir and the marker left. */
                if (st.st_uid != geteuid() || !folder_is_empty(fd))
                        return SAFE_FS_NOT_MARKED;
                if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        return SAFE_FS_NOT_MARKED;
                return SAFE_FS_REMOVED;
        }
        if (st.st_uid != geteuid() && !handed_folder(dirfd, fd)) {
                char owner[128];
                safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                return error_set(err, -EPERM, "left %s/%s in place: it belongs to %s", dir_path,
                                 name, owner);
        }

        int listing = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (listing < 0)
                return error_set(err, -errno, "cannot list %s/%s: %s", dir_path, name,
                                 strerror(errno));
        _cleanup_closedir_ DIR *dir = fdopendir(listing);
        if (!dir) {
                (void)close(listing);
                return error_set(err, -errno, "cannot list %s/%s: %s", dir_path, name,
                                 strerror(errno));
        }
        r = check_removable_entries(dir, dir_path, name, st.st_uid, err);
        if (r < 0)
                return r;

        rewinddir(dir);
        struct dirent *entry;
        while ((entry = readdir(dir))) {
                if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0 ||
                    strcmp(entry->d_name, SAFE_FS_MARKER) == 0)
                        continue;
                r = safe_fs_unlink(fd, entry->d_name);
                if (r < 0)
                        return error_set(err, r, "cannot remove %s/%s/%s: %s", dir_path, name,
                                         entry->d_name, strerror(-r));
        }
        r = safe_fs_unlink(fd, SAFE_FS_MARKER);
        if (r < 0)
                return error_set(err, r, "cannot remove %s/%s/%s: %s", dir_path, name,
                                 SAFE_FS_MARKER, strerror(-r));
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return error_set(err, -errno, "cannot remove folder %s/%s: %s", dir_path, name,
                                 strerror(errno));
        return SAFE_FS_REMOVED;
}
