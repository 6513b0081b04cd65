/* The doctor's checks of one target that need no client: the compute mode, the daemon's state,
 * another daemon on the same device, the folders and the parents a non-root server or client
 * must traverse, a stale seed folder beside the layout's, the daemon's open-file limit, and the
 * errors and pinned-limit keys in its logs since it started. */
#define _GNU_SOURCE
#include "ops/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fd_io.h"
#include "driver/mps_log.h"
#include "node/daemon_scan.h"
#include "node/target_name.h"

static void target_name(const struct doctor_job *job, char *buffer, size_t size)
{
        if (target_short_name(job->out->target, buffer, size) < 0)
                (void)snprintf(buffer, size, "%s", job->out->target->uuid);
}

static void user_name(uid_t uid, char *buffer, size_t size)
{
        struct passwd entry, *found = NULL;
        char text[1024];
        if (getpwuid_r(uid, &entry, text, sizeof(text), &found) == 0 && found)
                (void)snprintf(buffer, size, "%s", found->pw_name);
        else
                (void)snprintf(buffer, size, "%u", (unsigned)uid);
}

static void check_compute_mode(struct doctor_job *job)
{
        const struct target *target = job->out->target;
        struct doctor_findings *f = &job->out->findings;
        if (target->kind != TARGET_WHOLE_GPU) {
                if (target->kind == TARGET_MIG_DEVICE)
                        doctor_add(f, "compute-mode", DOCTOR_OK, NULL,
                                   "a MIG device: compute modes do not apply (EXCLUSIVE_PROCESS "
                                   "is not available on MIG)");
                return;
        }
        const struct gpu *gpu = target->gpu;
        char action[200];
        (void)snprintf(action, sizeof(action),
                       "NVIDIA advises EXCLUSIVE_PROCESS for MPS on a whole GPU: `nvidia-smi -i %u "
                       "-c EXCLUSIVE_PROCESS` as root, before the daemon starts",
                       gpu->index);
        switch (gpu->compute_mode) {
        case COMPUTE_MODE_EXCLUSIVE_PROCESS:
                doctor_add(f, "compute-mode", DOCTOR_OK, NULL,
                           "GPU %u is in compute mode Exclusive_Process: only the MPS server "
                           "holds a context, a program that bypasses MPS is refused",
                           gpu->index);
                break;
        case COMPUTE_MODE_PROHIBITED:
                doctor_add(f, "compute-mode", DOCTOR_ERROR, action,
                           "GPU %u is in compute mode Prohibited: no process, MPS server "
                           "included, can use it",
                           gpu->index);
                break;
        default:
                doctor_add(f, "compute-mode", DOCTOR_WARNING, action,
                           "GPU %u is in compute mode %s: a program that bypasses MPS shares the "
                           "GPU with the MPS server by time-slicing instead of being refused",
                           gpu->index, compute_mode_string(gpu->compute_mode));
                break;
        }
}

static void check_daemon(struct doctor_job *job)
{
        const struct status_result *status = job->status;
        struct doctor_findings *f = &job->out->findings;
        char name[64], action[256], user[64] = "?";
        target_name(job, name, sizeof(name));
        if (job->daemon_uid_known)
                user_name(job->daemon_uid, user, sizeof(user));
        switch (status->state) {
        case DAEMON_RUNNING:
                doctor_add(f, "daemon", DOCTOR_OK, NULL,
                           "MPS control daemon pid %d (user %s) runs and answers, up %.0f s: %zu "
                           "server%s, %zu client%s",
                           (int)status->pid, user, status->uptime_seconds, status->server_count,
                           status->server_count == 1 ? "" : "s", status->client_count,
                           status->client_count == 1 ? "" : "s");
                break;
        case DAEMON_NOT_RUNNING:
                (void)snprintf(action, sizeof(action), "`mpsmig start %s`", name);
                doctor_add(f, "daemon", DOCTOR_ERROR, action,
                           "no MPS control daemon runs on %s: clients given its variables run "
                           "without MPS",
                           job->out->paths.pipe_dir);
                break;
        case DAEMON_STALE:
                (void)snprintf(action, sizeof(action),
                               "`mpsmig start %s` starts a new daemon over it; `mpsmig stop %s` "
                               "cleans it up",
                               name, name);
                doctor_add(f, "daemon", DOCTOR_ERROR, action,
                           "stale folder: the daemon died (its pid file names pid %d, which is "
                           "gone) and left %s behind; clients that use it run without MPS",
                           (int)status->pid, job->out->paths.pipe_dir);
                break;
        case DAEMON_NOT_ANSWERING:
                (void)snprintf(action, sizeof(action),
                               "`mpsmig stop --force %s`, then `mpsmig start %s`", name, name);
                doctor_add(f, "daemon", DOCTOR_ERROR, action,
                           "the MPS control daemon pid %d is alive but does not answer: %s",
                           (int)status->pid, status->error.message);
                break;
        case DAEMON_GPU_LOST:
                doctor_add(f, "daemon", DOCTOR_ERROR, "reset the GPU or reboot the node",
                           "the GPU is lost: %s", status->error.message);
                break;
        case DAEMON_ERROR:
                doctor_add(f, "daemon", DOCTOR_ERROR, NULL, "%s", status->error.message);
                break;
        }
        if (status->orphaned) {
                (void)snprintf(action, sizeof(action), "`mpsmig stop %s`", job->out->target->uuid);
                doctor_add(f, "daemon", DOCTOR_ERROR, action,
                           "NVML no longer lists this device (a MIG instance destroyed, or its "
                           "GPU lost) but its folders remain");
        }
}

static void check_other_daemons(struct doctor_job *job)
{
        const struct status_result *status = job->status;
        struct doctor_findings *f = &job->out->findings;
        for (size_t i = 0; i < status->other_count; i++) {
                const struct mps_daemon *other = &status->others[i];
                char user[64], action[PATH_MAX + 200];
                user_name(other->uid, user, sizeof(user));
                (void)snprintf(action, sizeof(action),
                               "stop one of the two (as user %s: `echo quit | "
                               "CUDA_MPS_PIPE_DIRECTORY=%s nvidia-cuda-mps-control`)",
                               user, other->pipe_dir);
                doctor_add(f, "second-daemon", DOCTOR_ERROR, action,
                           "a second MPS control daemon (pid %d, user %s, pipe folder %s) serves "
                           "this device: clients of the two daemons time-slice instead of "
                           "sharing the SMs",
                           (int)other->pid, user, other->pipe_dir);
        }
        size_t unknown = 0;
        for (size_t i = 0; i < job->context->daemon_count; i++)
                if (daemon_serves_unknown(&job->context->daemons[i]) &&
                    !daemon_uses_pipe_dir(&job->context->daemons[i], job->out->paths.pipe_dir))
                        unknown++;
        if (unknown)
                doctor_add(f, "second-daemon", DOCTOR_WARNING,
                           "run doctor as root, or ask their owners what they serve",
                           "%zu MPS control daemon%s of the node cannot be told what %s serve%s "
                           "(another user's, without CUDA_VISIBLE_DEVICES): one may serve this "
                           "device too",
                           unknown, unknown == 1 ? "" : "s", unknown == 1 ? "it" : "they",
                           unknown == 1 ? "s" : "");
        else if (status->other_count == 0)
                doctor_add(f, "second-daemon", DOCTOR_OK, NULL,
                           "no other MPS control daemon serves this device");
}

/* Whether user `uid` (with its groups) may search a folder of this owner and mode. */
static bool may_traverse(uid_t uid, const struct stat *st)
{
        if (uid == 0 || (st->st_mode & S_IXOTH))
                return true;
        if (st->st_uid == uid)
                return st->st_mode & S_IXUSR;
        if (!(st->st_mode & S_IXGRP))
                return false;
        struct passwd entry, *found = NULL;
        char text[1024];
        if (getpwuid_r(uid, &entry, text, sizeof(text), &found) != 0 || !found)
                return false;
        gid_t groups[256];
        int count = (int)ELEMENTSOF(groups);
        if (getgrouplist(found->pw_name, found->pw_gid, groups, &count) < 0)
                return false;
        for (int i = 0; i < count; i++)
                if (groups[i] == st->st_gid)
                        return true;
        return false;
}

/* The first parent of `dir` (from / down, the folder itself included) that `uid` cannot
 * traverse, or that other users cannot when `others` is set. false when none. */
static bool blocking_parent(const char *dir, uid_t uid, bool others, char *ret_path,
                            size_t ret_size, struct stat *ret_st)
{
        char path[PATH_MAX];
        (void)snprintf(path, sizeof(path), "%s", dir);
        for (char *slash = path;; slash = strchr(slash + 1, '/')) {
                char saved = slash ? *slash : '\0';
                if (slash && slash != path)
                        *slash = '\0';
                const char *current = slash == path ? "/" : path;
                struct stat st;
                bool blocked = false;
                if (stat(current, &st) == 0 && S_ISDIR(st.st_mode))
                        blocked = !may_traverse(uid, &st) || (others && !(st.st_mode & S_IXOTH));
                if (blocked) {
                        (void)snprintf(ret_path, ret_size, "%s", current);
                        *ret_st = st;
                        return true;
                }
                if (slash && slash != path)
                        *slash = saved;
                if (!slash)
                        return false;
        }
}

/* Owner and mode of one of the target's folders. Returns false when it found a problem. */
static bool check_folder(struct doctor_job *job, const char *what, const char *dir, uid_t uid)
{
        struct doctor_findings *f = &job->out->findings;
        struct stat st;
        char owner[64], expected[64];
        if (lstat(dir, &st) < 0)
                return true; /* not made yet: nothing to judge */
        if (S_ISLNK(st.st_mode)) {
                doctor_add(f, "folders", DOCTOR_WARNING,
                           "point the variables at the real folder, or remove the link",
                           "the %s folder %s is a symbolic link: the daemon follows it, and "
                           "whoever can change the link decides where clients connect",
                           what, dir);
                return false;
        }
        user_name(st.st_uid, owner, sizeof(owner));
        user_name(uid, expected, sizeof(expected));
        if (st.st_uid != uid && st.st_uid != 0) {
                doctor_add(f, "folders", DOCTOR_ERROR,
                           "stop the daemon, remove the folder and start again as one user",
                           "the %s folder %s belongs to user %s, not to the daemon's user %s", what,
                           dir, owner, expected);
                return false;
        }
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
                doctor_add(f, "folders", DOCTOR_WARNING, "chmod go-w on it",
                           "the %s folder %s (mode %04o) is writable by other users: they can "
                           "replace the daemon's sockets and logs",
                           what, dir, (unsigned)(st.st_mode & 07777));
                return false;
        }
        return true;
}

static void check_folders(struct doctor_job *job)
{
        struct doctor_findings *f = &job->out->findings;
        const struct layout_paths *paths = &job->out->paths;
        uid_t uid = job->daemon_uid_known ? job->daemon_uid : geteuid();
        char user[64];
        user_name(uid, user, sizeof(user));
        bool ok = check_folder(job, "pipe", paths->pipe_dir, uid);
        ok &= check_folder(job, "log", paths->log_dir, uid);

        char blocked[PATH_MAX], owner[64];
        struct stat st;
        /* A daemon of root serves every user (mpsmig's /run/mpsmig is 0755 for them); a user's
         * own daemon in a private folder serves only that user. */
        bool for_everyone = uid == 0;
        if (blocking_parent(paths->pipe_dir, uid, for_everyone, blocked, sizeof(blocked), &st)) {
                char action[PATH_MAX + 64];
                user_name(st.st_uid, owner, sizeof(owner));
                (void)snprintf(action, sizeof(action), "`chmod o+x %s` (or a %s folder)", blocked,
                               for_everyone ? "less private" : "readable");
                if (!may_traverse(uid, &st))
                        doctor_add(f, "folders", DOCTOR_ERROR, action,
                                   "the daemon's user %s cannot traverse %s (mode %04o, owner "
                                   "%s) to its pipe folder %s: its server cannot reach it",
                                   user, blocked, (unsigned)(st.st_mode & 07777), owner,
                                   paths->pipe_dir);
                else
                        doctor_add(f, "folders", DOCTOR_ERROR, action,
                                   "parent folder %s (mode %04o, owner %s) blocks every user but "
                                   "%s from the pipe folder %s: their clients cannot reach the "
                                   "daemon and run without MPS, and servers of non-root users "
                                   "cannot start",
                                   blocked, (unsigned)(st.st_mode & 07777), owner, owner,
                                   paths->pipe_dir);
                ok = false;
        }
        if (ok)
                doctor_add(f, "folders", DOCTOR_OK, NULL,
                           "pipe and log folders belong to %s and are not writable by others; "
                           "every parent of %s lets %s through",
                           user, paths->pipe_dir, for_everyone ? "every user" : user);
}

/* The seed scripts' folder of the same device, beside the default layout's: a dead daemon's
 * leftovers there send the seed's applications past MPS. */
static void check_seed_folder(struct doctor_job *job)
{
        if (job->context->layout.kind != LAYOUT_DEFAULT)
                return;
        char seed[PATH_MAX];
        (void)snprintf(seed, sizeof(seed), "%s/%s%s", LAYOUT_SEED_DIR, LAYOUT_SEED_PIPE_PREFIX,
                       job->out->target->uuid);
        struct stat st;
        if (lstat(seed, &st) == 0 && S_ISDIR(st.st_mode))
                doctor_check_pipe_folder(job->context, &job->out->findings, "stale", seed,
                                         "the seed scripts' folder");
}

/* "Max open files            1024                 1048576              files" */
static void check_nofile(struct doctor_job *job)
{
        if (job->status->state != DAEMON_RUNNING && job->status->state != DAEMON_NOT_ANSWERING)
                return;
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/limits", (int)job->status->pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[256];
        unsigned long long soft = 0;
        bool found = false;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "Max open files %llu", &soft) == 1) {
                        found = true;
                        break;
                }
        if (!found)
                return;
        if (soft < DOCTOR_NOFILE_MIN)
                doctor_add(&job->out->findings, "ulimit", DOCTOR_WARNING,
                           "restart the daemon with `ulimit -n 16384` (LimitNOFILE=16384 in "
                           "mpsmig.service)",
                           "the daemon (pid %d) and the MPS servers it starts may open %llu "
                           "files: servers fail with SHM errors below %d",
                           (int)job->status->pid, soft, DOCTOR_NOFILE_MIN);
        else
                doctor_add(&job->out->findings, "ulimit", DOCTOR_OK, NULL,
                           "the daemon's open-file limit is %llu", soft);
}

/* The end of a log, at most DOCTOR_LOG_MAX bytes. -errno when it cannot be read. */
static int read_log(const char *path, char **ret_text, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return -EINVAL;
        off_t start = st.st_size > DOCTOR_LOG_MAX ? st.st_size - DOCTOR_LOG_MAX : 0;
        size_t size = (size_t)(st.st_size - start);
        if (lseek(fd, start, SEEK_SET) < 0)
                return -errno;
        char *text = malloc(size + 1);
        if (!text)
                return -ENOMEM;
        ssize_t n = fd_read_fully(fd, text, size);
        if (n < 0) {
                free(text);
                return (int)n;
        }
        text[n] = '\0';
        *ret_text = text;
        *ret_size = (size_t)n;
        return 0;
}

/* The stamp of a log line written when the daemon started, a second early. */
static void since_stamp(double uptime_seconds, char *buffer, size_t size)
{
        struct timespec now;
        (void)clock_gettime(CLOCK_REALTIME, &now);
        time_t start = now.tv_sec - (time_t)uptime_seconds - 1;
        struct tm local;
        (void)localtime_r(&start, &local);
        (void)strftime(buffer, size, "%Y-%m-%d %H:%M:%S.000", &local);
}

/* Whether summary->pinned[i] is the last limit set under its key (a later one replaces it). */
static bool last_for_key(const struct mps_log_summary *summary, size_t i)
{
        for (size_t k = i + 1; k < summary->pinned_count; k++)
                if (!summary->pinned[k].per_server &&
                    strcmp(summary->pinned[k].key, summary->pinned[i].key) == 0)
                        return false;
        return true;
}

/* "0", "0G", "0M": the value that clears a limit. */
static bool is_zero(const char *value)
{
        return value[0] == '0' && (value[1] == '\0' || !(value[1] >= '0' && value[1] <= '9'));
}

static void check_logs(struct doctor_job *job)
{
        if (job->status->state != DAEMON_RUNNING)
                return;
        struct doctor_findings *f = &job->out->findings;
        char since[32], path[PATH_MAX + 16];
        since_stamp(job->status->uptime_seconds, since, sizeof(since));
        static const char *const logs[] = {"control.log", "server.log"};
        size_t errors = 0;
        for (size_t l = 0; l < ELEMENTSOF(logs); l++) {
                (void)snprintf(path, sizeof(path), "%s/%s", job->out->paths.log_dir, logs[l]);
                _cleanup_free_ char *text = NULL;
                size_t size = 0;
                int r = read_log(path, &text, &size);
                if (r == -ENOENT)
                        continue;
                if (r < 0) {
                        doctor_add(f, "logs", DOCTOR_WARNING,
                                   "run doctor as root or as the daemon's user",
                                   "cannot read %s: %s", path, strerror(-r));
                        continue;
                }
                struct mps_log_summary summary;
                mps_log_scan(text, size, since, &summary);
                if (summary.error_count) {
                        errors += summary.error_count;
                        doctor_add(f, "logs", DOCTOR_WARNING, "read the log around these lines",
                                   "%zu error line%s in %s since the daemon started; first: "
                                   "%s%s%s",
                                   summary.error_count, summary.error_count == 1 ? "" : "s", path,
                                   summary.first_error, summary.error_count > 1 ? "; last: " : "",
                                   summary.error_count > 1 ? summary.last_error : "");
                }
                for (size_t i = 0; i < summary.pinned_count; i++) {
                        const struct mps_log_pinned *p = &summary.pinned[i];
                        if (p->per_server || strcmp(p->key, "0") == 0 ||
                            strcmp(p->key, job->out->target->uuid) == 0 ||
                            !last_for_key(&summary, i) || is_zero(p->value))
                                continue;
                        char action[200];
                        (void)snprintf(action, sizeof(action),
                                       "set it under key 0: `set_default_device_pinned_mem_limit "
                                       "0 %s`",
                                       p->value);
                        doctor_add(f, "pinned-limit", DOCTOR_ERROR, action,
                                   "a pinned memory limit of %s was set under the wrong key %s: "
                                   "this daemon serves one device, which it knows as 0 or %s, so "
                                   "its clients get no such limit",
                                   p->value, p->key, job->out->target->uuid);
                }
        }
        if (errors == 0)
                doctor_add(f, "logs", DOCTOR_OK, NULL,
                           "no error lines in %s/{control,server}.log since the daemon started",
                           job->out->paths.log_dir);
}

void doctor_check_target(struct doctor_job *job)
{
        check_compute_mode(job);
        check_daemon(job);
        if (job->out->target->kind == TARGET_LOST_GPU)
                return;
        check_other_daemons(job);
        check_folders(job);
        check_seed_folder(job);
        check_nofile(job);
        check_logs(job);
}
