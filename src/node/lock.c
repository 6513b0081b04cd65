/* The node lock and the placement lock; see lock.h. flock has no timed wait, so the wait retries
 * a non-blocking flock with a growing pause (base/flock_wait) against a CLOCK_MONOTONIC deadline: a
 * blocking flock could only be bounded by a signal, which would reach other threads of the
 * caller. Who holds a busy lock comes from the kernel's lock table (/proc/locks), not from the
 * pid a former holder wrote, which may be stale. */
#define _GNU_SOURCE
#include "node/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "base/safe_fs.h"

#define HOLDERS_MAX 16

/* The pid the holder wrote, if it still names a live process; 0 otherwise. */
static pid_t read_holder(int fd)
{
        char text[32];
        ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
        if (n <= 0)
                return 0;
        text[n] = '\0';
        long pid = strtol(text, NULL, 10);
        if (pid <= 0 || pid > INT_MAX)
                return 0;
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
                return 0;
        return (pid_t)pid;
}

static int write_holder(int fd)
{
        char text[32];
        int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n)
                return -errno;
        return 0;
}

int lock_holder_uid(pid_t pid, uid_t *ret_uid)
{
        char path[64], line[256];
        (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        _cleanup_fclose_ FILE *file = fopen(path, "re");
        if (!file)
                return -errno;
        while (fgets(line, sizeof(line), file)) {
                unsigned long real, effective;
                if (sscanf(line, "Uid: %lu %lu", &real, &effective) == 2) {
                        *ret_uid = (uid_t)effective;
                        return 0;
                }
        }
        return -EBADMSG;
}

int lock_holders(const struct stat *st, pid_t *ret_pids, size_t max, size_t *ret_count)
{
        _cleanup_fclose_ FILE *file = fopen("/proc/locks", "re");
        if (!file)
                return -errno;
        char line[512];
        size_t count = 0;
        while (fgets(line, sizeof(line), file)) {
                /* "1: FLOCK  ADVISORY  WRITE 4242 08:02:1234 0 EOF"; "-> " marks a waiter */
                char *p = strchr(line, ':');
                if (!p)
                        continue;
                p++;
                while (*p == ' ')
                        p++;
                if (strncmp(p, "->", 2) == 0)
                        continue;
                char type[16], kind[16], access[16];
                long pid;
                unsigned int major_dev, minor_dev;
                unsigned long long inode;
                if (sscanf(p, "%15s %15s %15s %ld %x:%x:%llu", type, kind, access, &pid, &major_dev,
                           &minor_dev, &inode) != 7)
                        continue;
                if (inode != (unsigned long long)st->st_ino || major_dev != major(st->st_dev) ||
                    minor_dev != minor(st->st_dev))
                        continue;
                if (count < max)
                        ret_pids[count] = pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
                count++;
        }
        *ret_count = count < max ? count : max;
        return 0;
}

/* Says who holds the busy lock `fd`, only as far as it is known: the kernel's lock table names
 * the process that took the lock (0 when it is not visible from here); the pid a holder wrote
 * into the file confirms that it is an mpsmig. */
static void describe_holder(int fd, char *buffer, size_t size)
{
        struct stat st;
        pid_t pids[HOLDERS_MAX];
        size_t count = 0;
        (void)snprintf(buffer, size, "another process");
        if (fstat(fd, &st) < 0 || lock_holders(&st, pids, HOLDERS_MAX, &count) < 0 || count == 0 ||
            pids[0] <= 0 || (kill(pids[0], 0) < 0 && errno == ESRCH))
                return;
        uid_t uid;
        char owner[128] = "";
        if (lock_holder_uid(pids[0], &uid) == 0 && uid != geteuid())
                safe_fs_describe_owner(uid, owner, sizeof(owner));
        bool mpsmig = read_holder(fd) == pids[0];
        (void)snprintf(buffer, size, "%s (pid %d%s%s)", mpsmig ? "another mpsmig" : "process",
                       (int)pids[0], owner[0] ? ", " : "", owner);
}

/* Whether the busy lock `fd` is held only by processes of other users: with a lock file of ours
 * that is mode 0600, only a file opened while it was readable by others (an older mpsmig made it
 * 0644) can be, and such a holder would stall every start and stop for as long as it liked. */
static bool held_by_others_only(const struct stat *st)
{
        pid_t pids[HOLDERS_MAX];
        size_t count = 0;
        if (lock_holders(st, pids, HOLDERS_MAX, &count) < 0 || count == 0)
                return false;
        for (size_t i = 0; i < count; i++) {
                uid_t uid;
                if (pids[i] <= 0 || lock_holder_uid(pids[i], &uid) < 0 || uid == geteuid())
                        return false;
        }
        return true;
}

/* A holder of the lock file `st` that may be ours (its uid is ours, or it cannot be told), or 0. */
static pid_t held_by_us(const struct stat *st)
{
        pid_t pids[HOLDERS_MAX];
        size_t count = 0;
        if (lock_holders(st, pids, HOLDERS_MAX, &count) < 0)
                return 0;
        for (size_t i = 0; i < count; i++) {
                uid_t uid;
                if (pids[i] <= 0 || lock_holder_uid(pids[i], &uid) < 0 || uid == geteuid())
                        return pids[i] > 0 ? pids[i] : -1;
        }
        return 0;
}

static int open_lock_file(int dir_fd, const char *dir_path, const char *name, const char *what,
                          int *ret_fd, struct stat *ret_st, struct error *err)
{
        int fd =
            openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
                   LOCK_FILE_MODE);
        if (fd < 0) {
                int e = errno;
                if (e == ELOOP)
                        return error_set(err, -ELOOP,
                                         "the %s %s/%s is a symbolic link: remove it and try again",
                                         what, dir_path, name);
                if (e == EACCES || e == EPERM) {
                        struct stat dir_st;
                        char owner[128] = "another user";
                        if (fstat(dir_fd, &dir_st) == 0 && dir_st.st_uid != geteuid())
                                safe_fs_describe_owner(dir_st.st_uid, owner, sizeof(owner));
                        (void)error_set(err, -EACCES,
                                        "cannot open the %s %s/%s: %s: the folder %s belongs "
                                        "to %s",
                                        what, dir_path, name, strerror(e), dir_path, owner);
                        return error_hint(err, ERROR_HINT_RUNTIME_DIR);
                }
                return error_set(err, -e, "cannot open the %s %s/%s: %s", what, dir_path, name,
                                 strerror(e));
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                (void)close(fd);
                return error_set(err, -e, "cannot inspect the %s %s/%s: %s", what, dir_path, name,
                                 strerror(e));
        }
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
                char owner[128] = "";
                if (S_ISREG(st.st_mode))
                        safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                (void)close(fd);
                return error_set(err, -EPERM, "the %s %s/%s is %s%s: remove it and try again", what,
                                 dir_path, name, owner[0] ? "owned by " : "not a regular file",
                                 owner);
        }
        /* Only we may open it: any process that can open a file can flock it, and hold it. A
         * file made by an older mpsmig (0644) is tightened here. */
        if ((st.st_mode & 07777) != LOCK_FILE_MODE && fchmod(fd, LOCK_FILE_MODE) < 0) {
                int e = errno;
                (void)close(fd);
                return error_set(err, -e, "cannot make the %s %s/%s private: %s", what, dir_path,
                                 name, strerror(e));
        }
        *ret_fd = fd;
        *ret_st = st;
        return 0;
}

/* Whether `name` in `dir_fd` is still the file `st` (the lock was not replaced meanwhile). */
static bool still_named(int dir_fd, const char *name, const struct stat *st)
{
        struct stat now;
        return fstatat(dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == st->st_ino &&
               now.st_dev == st->st_dev;
}

/*
 * The lock file is held by other users only: replaces it with a fresh one of ours that we hold,
 * then waits until no process of ours holds the old one (one may have taken it in the moment the
 * other user let go, before the rename). Every holder checks, once it has the lock, that the name
 * still leads to its file, so nobody takes the old file after this.
 */
static int replace_lock_file(int dir_fd, const char *dir_path, const char *name, const char *what,
                             const struct stat *old, long long deadline, int *ret_fd,
                             struct error *err)
{
        char temporary[NAME_MAX + 1];
        (void)snprintf(temporary, sizeof(temporary), ".%s.%ld", name, (long)getpid());
        (void)unlinkat(dir_fd, temporary, 0);
        _cleanup_close_ int fd =
            openat(dir_fd, temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                   LOCK_FILE_MODE);
        if (fd < 0)
                return error_set(err, -errno, "cannot make a new %s in %s: %s", what, dir_path,
                                 strerror(errno));
        if (fchmod(fd, LOCK_FILE_MODE) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 ||
            renameat(dir_fd, temporary, dir_fd, name) < 0) {
                int e = errno;
                (void)unlinkat(dir_fd, temporary, 0);
                return error_set(err, -e, "cannot replace the %s %s/%s: %s", what, dir_path, name,
                                 strerror(e));
        }
        long pause_ns = PAUSE_START_NS;
        pid_t ours;
        while ((ours = held_by_us(old)) != 0) {
                if (monotonic_now_ms() >= deadline)
                        return error_set(err, -ETIMEDOUT,
                                         "the replaced %s %s/%s is still held by process %d", what,
                                         dir_path, name, (int)ours);
                backoff_pause(&pause_ns, deadline);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int lock_file_acquire(int dir_fd, const char *dir_path, const char *name, const char *what,
                      int timeout_ms, int *ret_fd, struct error *err)
{
        long long deadline = monotonic_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
        long pause_ns = PAUSE_START_NS;
        _cleanup_close_ int fd = -1;
        struct stat st;
        for (;;) {
                if (fd < 0) {
                        int r = open_lock_file(dir_fd, dir_path, name, what, &fd, &st, err);
                        if (r < 0)
                                return r;
                }
                if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                        if (still_named(dir_fd, name, &st))
                                break;
                        closep(&fd); /* replaced meanwhile: the new file is the lock */
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return error_set(err, -errno, "cannot lock %s/%s: %s", dir_path, name,
                                         strerror(errno));
                if (held_by_others_only(&st)) {
                        int replaced = -1;
                        int r = replace_lock_file(dir_fd, dir_path, name, what, &st, deadline,
                                                  &replaced, err);
                        if (r < 0)
                                return r;
                        closep(&fd);
                        fd = replaced;
                        break;
                }
                if (deadline - monotonic_now_ms() <= 0) {
                        char who[256];
                        describe_holder(fd, who, sizeof(who));
                        return error_set(err, -ETIMEDOUT,
                                         "%s holds the %s %s/%s: waited %d ms for it to finish; "
                                         "try again when it is done",
                                         who, what, dir_path, name, timeout_ms);
                }
                backoff_pause(&pause_ns, deadline);
        }
        int r = write_holder(fd);
        if (r < 0)
                return error_set(err, r, "cannot write into the %s %s/%s: %s%s", what, dir_path,
                                 name, strerror(-r),
                                 r == -ENOSPC || r == -EDQUOT
                                     ? ": free space on its file system, or choose another "
                                       "folder with --runtime-dir"
                                     : "");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int node_lock_acquire(int runtime_fd, const char *runtime_path, int timeout_ms, int *ret_fd,
                      struct error *err)
{
        return lock_file_acquire(runtime_fd, runtime_path, NODE_LOCK_NAME, "node lock", timeout_ms,
                                 ret_fd, err);
}

void node_lock_release(int fd)
{
        if (fd >= 0)
                (void)close(fd);
}
