/* The placement ledger and the choice of `mpsmig run --on auto`: one small text file per target
 * lists the programs runs placed there ("PID START_TIME" lines), so that a run placed a moment
 * ago counts before its program has reached the daemon. See placement.h. */
#include "ops/placement.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fd_io.h"
#include "base/safe_fs.h"

/* A ledger is a few lines; anything bigger was not written by us. */
#define LEDGER_MAX_BYTES (1024 * 1024)

int process_start_time(pid_t pid, unsigned long long *ret_start_time)
{
        if (pid <= 0)
                return -ESRCH;
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        char text[1024];
        ssize_t n = read(fd, text, sizeof(text) - 1);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        text[n] = '\0';

        /* The command name (field 2) is in parentheses and may hold spaces and ')': the fields
         * we want come after the last ')'. */
        char *p = strrchr(text, ')');
        if (!p || p[1] != ' ')
                return -EBADMSG;
        p += 2;
        if (*p == 'Z' || *p == 'X')
                return -ESRCH;
        /* p is at field 3 (state); field 22 (starttime) is 19 spaces further. */
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                if (!p)
                        return -EBADMSG;
                p++;
        }
        char *end;
        errno = 0;
        unsigned long long start_time = strtoull(p, &end, 10);
        if (errno != 0 || end == p)
                return -EBADMSG;
        *ret_start_time = start_time;
        return 0;
}

static bool entry_alive(const struct placement_entry *entry)
{
        unsigned long long start_time;
        return process_start_time(entry->pid, &start_time) == 0 && start_time == entry->start_time;
}

static bool pid_alive(pid_t pid)
{
        unsigned long long start_time;
        return process_start_time(pid, &start_time) == 0;
}

/* The ledger's file name: the UUID, with the '/' of old-style MIG UUIDs
 * ("MIG-GPU-<uuid>/1/0") turned into '_' so that it stays one name in one folder. */
static int ledger_name(const char *uuid, char *buffer, size_t size)
{
        size_t len = strlen(uuid);
        if (len == 0 || len >= size || uuid[0] == '.')
                return -EINVAL;
        for (size_t i = 0; i <= len; i++)
                buffer[i] = uuid[i] == '/' ? '_' : uuid[i];
        return 0;
}

/* Reads and parses a ledger (a missing one is empty). Lines that are not "PID START" are dropped:
 * they can only come from a writer that died mid-line before renames made writes atomic. */
static int ledger_load(int dir, const char *name, struct placement_entry **ret_entries,
                       size_t *ret_count, struct error *err)
{
        /* O_NONBLOCK: a fifo planted under the name (in another user's ledger, which we only
         * read) must not hang the open; fstat refuses it below. */
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret_entries = NULL;
                        *ret_count = 0;
                        return 0;
                }
                return error_set(err, -errno, "cannot open the placement ledger %s: %s", name,
                                 strerror(errno));
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "cannot stat the placement ledger %s: %s", name,
                                 strerror(errno));
        if (!S_ISREG(st.st_mode) || st.st_size > LEDGER_MAX_BYTES)
                return error_set(err, -EBADMSG,
                                 "the placement ledger %s is not a small regular file; remove it",
                                 name);
        _cleanup_free_ char *text = malloc((size_t)st.st_size + 1);
        if (!text)
                return error_set(err, -ENOMEM, "out of memory");
        ssize_t read_size = fd_read_fully(fd, text, (size_t)st.st_size);
        if (read_size < 0)
                return error_set(err, (int)read_size, "cannot read the placement ledger %s: %s",
                                 name, strerror((int)-read_size));
        size_t size = (size_t)read_size;
        text[size] = '\0';

        size_t lines = 0;
        for (size_t i = 0; i < size; i++)
                lines += text[i] == '\n';
        _cleanup_free_ struct placement_entry *entries = calloc(lines + 1, sizeof(*entries));
        if (!entries)
                return error_set(err, -ENOMEM, "out of memory");
        size_t count = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                long long pid;
                unsigned long long start_time;
                char extra;
                if (sscanf(line, "%lld %llu %c", &pid, &start_time, &extra) != 2 || pid <= 0 ||
                    pid > INT32_MAX)
                        continue;
                entries[count++] = (struct placement_entry){(pid_t)pid, start_time};
        }
        *ret_entries = count ? TAKE_PTR(entries) : NULL;
        *ret_count = count;
        return 0;
}

/* Replaces the ledger with `entries` through a temporary file and a rename, so that a reader (or
 * a writer killed midway) never sees half a file. An empty ledger is removed. */
static int ledger_store(int dir, const char *name, const struct placement_entry *entries,
                        size_t count, struct error *err)
{
        if (count == 0) {
                if (unlinkat(dir, name, 0) < 0 && errno != ENOENT)
                        return error_set(err, -errno, "cannot remove the placement ledger %s: %s",
                                         name, strerror(errno));
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *out = open_memstream(&text, &size);
        if (!out)
                return error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++)
                (void)fprintf(out, "%d %llu\n", (int)entries[i].pid, entries[i].start_time);
        if (fclose(TAKE_PTR(out)) != 0)
                return error_set(err, -ENOMEM, "out of memory");
        int r = safe_fs_replace_file(dir, name, text, size, 0644);
        if (r < 0)
                return error_set(err, r, "cannot write the placement ledger %s: %s", name,
                                 strerror(-r));
        return 0;
}

/* Keeps the entries whose process still runs; returns how many were dropped. */
static size_t prune(struct placement_entry *entries, size_t *count)
{
        size_t kept = 0;
        for (size_t i = 0; i < *count; i++)
                if (entry_alive(&entries[i]))
                        entries[kept++] = entries[i];
        size_t dropped = *count - kept;
        *count = kept;
        return dropped;
}

int placement_read(int placements_dir, const char *uuid, struct placement_entry **ret_entries,
                   size_t *ret_count, struct error *err)
{
        char name[NODE_UUID_MAX];
        if (ledger_name(uuid, name, sizeof(name)) < 0)
                return error_set(err, -EINVAL, "'%s' cannot name a placement ledger", uuid);
        struct placement_entry *entries = NULL;
        size_t count = 0;
        int r = ledger_load(placements_dir, name, &entries, &count, err);
        if (r < 0)
                return r;
        (void)prune(entries, &count);
        if (count == 0) {
                free(entries);
                entries = NULL;
        }
        *ret_entries = entries;
        *ret_count = count;
        return 0;
}

/* Adds `pid` to the (already loaded and pruned) entries and stores them. */
static int ledger_append_store(int dir, const char *name, struct placement_entry *entries,
                               size_t count, pid_t pid, struct error *err)
{
        unsigned long long start_time;
        int r = process_start_time(pid, &start_time);
        if (r < 0)
                return error_set(err, r, "cannot read the start time of process %d: %s", (int)pid,
                                 strerror(-r));
        _cleanup_free_ struct placement_entry *grown = calloc(count + 1, sizeof(*grown));
        if (!grown)
                return error_set(err, -ENOMEM, "out of memory");
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
                if (entries[i].pid != pid)
                        grown[n++] = entries[i];
        grown[n++] = (struct placement_entry){pid, start_time};
        return ledger_store(dir, name, grown, n, err);
}

int placement_record(int placements_dir, const struct target *target, pid_t pid, struct error *err)
{
        char name[NODE_UUID_MAX];
        if (ledger_name(target->uuid, name, sizeof(name)) < 0)
                return error_set(err, -EINVAL, "'%s' cannot name a placement ledger", target->uuid);
        _cleanup_free_ struct placement_entry *entries = NULL;
        size_t count = 0;
        int r = ledger_load(placements_dir, name, &entries, &count, err);
        if (r < 0)
                return r;
        (void)prune(entries, &count);
        return ledger_append_store(placements_dir, name, entries, count, pid, err);
}

/* A ledger's name: a UUID (GPU-..., MIG-...), never the lock or a writer's temporary. */
static bool ledger_file_name(const char *name)
{
        return strncmp(name, "GPU-", 4) == 0 || strncmp(name, "MIG-", 4) == 0;
}

int placement_forget(int placements_dir, pid_t pid, struct error *err)
{
        int fd = openat(placements_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(err, -errno, "cannot open the placement ledger folder: %s",
                                 strerror(errno));
        _cleanup_closedir_ DIR *dir = fdopendir(fd);
        if (!dir) {
                int r = -errno;
                (void)close(fd);
                return error_set(err, r, "cannot read the placement ledger folder: %s",
                                 strerror(-r));
        }
        int forgotten = 0;
        struct dirent *entry;
        while ((errno = 0, entry = readdir(dir))) {
                if (!ledger_file_name(entry->d_name))
                        continue;
                _cleanup_free_ struct placement_entry *entries = NULL;
                size_t count = 0;
                int r = ledger_load(placements_dir, entry->d_name, &entries, &count, err);
                if (r < 0)
                        return r;
                size_t kept = 0;
                for (size_t i = 0; i < count; i++)
                        if (entries[i].pid != pid)
                                entries[kept++] = entries[i];
                if (kept == count)
                        continue;
                forgotten += (int)(count - kept);
                (void)prune(entries, &kept);
                r = ledger_store(placements_dir, entry->d_name, entries, kept, err);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return error_set(err, -errno, "cannot read the placement ledger folder: %s",
                                 strerror(errno));
        return forgotten;
}

static unsigned long long target_memory(const struct target *target)
{
        return target->mig_device ? target->mig_device->memory_bytes : target->gpu->memory_bytes;
}

/* Live daemon clients, plus live ledger entries the daemon does not list yet. */
static size_t count_load(const struct placement_candidate *candidate,
                         const struct placement_entry *entries, size_t count)
{
        size_t load = 0;
        for (size_t i = 0; i < candidate->client_count; i++) {
                bool repeated = false;
                for (size_t j = 0; j < i && !repeated; j++)
                        repeated = candidate->client_pids[j] == candidate->client_pids[i];
                if (!repeated && pid_alive(candidate->client_pids[i]))
                        load++;
        }
        for (size_t i = 0; i < count; i++) {
                bool listed = false;
                for (size_t j = 0; j < candidate->client_count && !listed; j++)
                        listed = candidate->client_pids[j] == entries[i].pid;
                if (!listed)
                        load++;
        }
        return load;
}

struct ledger {
        char name[NODE_UUID_MAX];
        struct placement_entry *entries;
        size_t count;
};

static void ledgers_free(struct ledger *ledgers, size_t count)
{
        for (size_t i = 0; ledgers && i < count; i++)
                free(ledgers[i].entries);
        free(ledgers);
}

int placement_choose(int placements_dir, struct placement_candidate *candidates, size_t count,
                     pid_t pid, size_t *ret_index, struct error *err)
{
        if (count == 0)
                return error_set(err, -ENOENT, "there is no target to place the program on");
        struct ledger *ledgers = calloc(count, sizeof(*ledgers));
        if (!ledgers)
                return error_set(err, -ENOMEM, "out of memory");
        int r = 0;
        size_t best = 0;
        for (size_t i = 0; i < count; i++) {
                struct ledger *ledger = &ledgers[i];
                if (ledger_name(candidates[i].target->uuid, ledger->name, sizeof(ledger->name)) <
                    0) {
                        r = error_set(err, -EINVAL, "'%s' cannot name a placement ledger",
                                      candidates[i].target->uuid);
                        goto finish;
                }
                if (placements_dir >= 0)
                        r = ledger_load(placements_dir, ledger->name, &ledger->entries,
                                        &ledger->count, err);
                if (r < 0)
                        goto finish;
                if (prune(ledger->entries, &ledger->count) > 0) {
                        r = ledger_store(placements_dir, ledger->name, ledger->entries,
                                         ledger->count, err);
                        if (r < 0)
                                goto finish;
                }
                candidates[i].load = count_load(&candidates[i], ledger->entries, ledger->count);

                const struct placement_candidate *a = &candidates[i], *b = &candidates[best];
                if (a->load < b->load ||
                    (a->load == b->load && target_memory(a->target) > target_memory(b->target)))
                        best = i;
        }
        if (placements_dir >= 0) {
                r = ledger_append_store(placements_dir, ledgers[best].name, ledgers[best].entries,
                                        ledgers[best].count, pid, err);
                if (r < 0)
                        goto finish;
        }
        *ret_index = best;
finish:
        ledgers_free(ledgers, count);
        return r;
}
