/* Folders mpsmig makes and trusts: a trusted root opened component by component from "/" without
 * following planted links, folders made under it with fixed modes and an owner mark, checked by
 * owner and mode whenever they already exist, and removed only when mpsmig made them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

/* The file written into every folder mpsmig makes; its presence (a regular file owned by us) is
 * what allows safe_fs_remove_folder() to remove that folder later. */
#define SAFE_FS_MARKER ".mpsmig"

/* Results of safe_fs_remove_folder() besides a negative errno. */
enum safe_fs_removal {
        SAFE_FS_ABSENT = 0,     /* nothing there */
        SAFE_FS_REMOVED = 1,    /* it was ours and it is gone */
        SAFE_FS_NOT_MARKED = 2, /* a folder mpsmig did not make: left in place, untouched */
};

/*
 * Opens the absolute folder `path` as a trusted root: every component is opened from "/" with
 * O_NOFOLLOW and must be a folder owned by root or by us and not writable by group or others
 * (unless sticky, like /tmp). A symbolic link is followed only where nobody else could have
 * planted it: the link owned by root, in a folder owned by root that only root can write
 * (/var/run -> /run). ".." is refused. With `create`, missing components are made with `mode`
 * (exactly: the umask does not apply) and are not marked. Returns an O_PATH folder fd
 * (usable as the dirfd of the *at calls) in *ret_fd.
 * Errors: -EINVAL (relative path, ".."), -ENOENT (missing, without `create`), -ENOTDIR, -ELOOP
 * (an untrusted link), -EPERM (wrong owner or mode), and what the system calls return.
 */
int safe_fs_open_root(const char *path, bool create, mode_t mode, int *ret_fd, struct error *err);

/*
 * Makes folder `name` (one component, no '/') inside `dirfd` with `mode` exactly and writes the
 * marker into it, or opens it if it already exists. Never follows a link: an existing `name`
 * that is a symbolic link, not a folder, owned by another user, or writable by group or others
 * is refused with a message naming it (`dir_path` is dirfd's path, for messages). The folder and
 * its marker appear together: a folder whose marker cannot be written is removed again, and an
 * existing empty folder of ours without a marker (what an mpsmig killed between the two left) is
 * marked and counts as made. Returns a readable folder fd in *ret_fd and whether this call made it
 * in *ret_created (either may be NULL; a NULL ret_fd closes it).
 */
int safe_fs_make_folder(int dirfd, const char *dir_path, const char *name, mode_t mode, int *ret_fd,
                        bool *ret_created, struct error *err);

/* safe_fs_make_folder(), the folder then given to `owner` and `group` ((gid_t)-1: unchanged) after
 * its marker is written (the marker stays ours): a folder handed to another user, the one the
 * daemons run as. Such a folder is trusted as ours while it stays in a folder that only root or
 * we can write and holds our marker (nobody else could have put it there), by every function
 * here; its entries may belong to its owner. An existing folder of ours, or one handed to another
 * user before, is handed to `owner` (a configuration that changed the user). */
int safe_fs_make_folder_for(int dirfd, const char *dir_path, const char *name, mode_t mode,
                            uid_t owner, gid_t group, int *ret_fd, bool *ret_created,
                            struct error *err);

/* Opens the existing folder `name` inside `dirfd` to read it, with the checks of
 * safe_fs_make_folder() (link, type, owner, mode) except that root may own it too (a user may
 * look at root's daemons; root's folders are as trusted as its own), and so may the user it was
 * handed to (safe_fs_make_folder_for). -ENOENT (with a message) when it does not exist. */
int safe_fs_open_folder(int dirfd, const char *dir_path, const char *name, int *ret_fd,
                        struct error *err);

/* Whether the folder `dirfd` holds our marker: a regular file owned by us. */
bool safe_fs_is_marked(int dirfd);

/* Reads the regular file `name` in `dirfd` (never through a link) into `buffer` (NUL-terminated,
 * at most size - 1 bytes; the rest is ignored). Returns the byte count, -ENOENT when absent,
 * -ELOOP for a link, -EINVAL for something that is not a regular file. */
ssize_t safe_fs_read_file(int dirfd, const char *name, char *buffer, size_t size);

/* Reads the whole regular file `name` in `dirfd` (never through a link, a fifo never waited on)
 * when it can be trusted: owned by root or by us and writable by nobody else. Returns 0 with a
 * malloc'd, NUL-terminated copy in *ret_text and its length in *ret_size; -ENOENT when absent,
 * -EPERM for a link, something not a regular file, or a file not trusted, -EFBIG past `max`. */
int safe_fs_read_trusted_file(int dirfd, const char *name, size_t max, char **ret_text,
                              size_t *ret_size);

/* Replaces the file `name` in `dirfd` with `data`, mode `mode` exactly: written to a temporary
 * beside it, then renamed over it, so that a reader sees the old file or the new one whole; a
 * link under the name is replaced, never followed. 0 or a negative errno; nothing is left behind
 * on failure. */
int safe_fs_replace_file(int dirfd, const char *name, const char *data, size_t size, mode_t mode);

/* Removes the entry `name` in `dirfd` if it is not a folder (a link is removed, never followed).
 * 0 when removed or absent; -EISDIR for a folder. */
int safe_fs_unlink(int dirfd, const char *name);

/*
 * Removes the folder `name` inside `dirfd` if mpsmig made it (it holds our marker): first checks
 * that every entry is a non-folder owned by us (or, in a folder handed to another user, by that
 * user), then removes them, the marker last, then the
 * folder. An empty folder of ours without a marker is removed too (see safe_fs_make_folder). Never
 * recurses, never follows a link. Returns a safe_fs_removal, or a negative errno with a message
 * saying what was left in place and why (-ELOOP: it is a link; -EPERM: it or an entry belongs to
 * another user; -ENOTEMPTY: it holds a folder).
 */
int safe_fs_remove_folder(int dirfd, const char *dir_path, const char *name, struct error *err);

/* "user nobody (uid 65534)", or "uid 1234" when the name is unknown: for messages. */
void safe_fs_describe_owner(uid_t uid, char *buffer, size_t size);
