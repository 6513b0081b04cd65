/* `mpsmig run` and `mpsmig env` below the command line: resolve the target, refuse when no daemon
 * would serve the program (the driver would silently run it without MPS), place it race-safely
 * under a short placement lock (never across a daemon query), and exec it as a client. See
 * run.h. */
#define _GNU_SOURCE
#include "ops/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/safe_fs.h"
#include "base/spawn.h"
#include "node/lock.h"
#include "node/target_name.h"
#include "ops/placement.h"

extern char **environ;

static int fail(enum run_failure *ret_failure, enum run_failure failure, int r)
{
        *ret_failure = failure;
        return r;
}

static enum run_failure from_ops_failure(enum ops_failure failure)
{
        switch (failure) {
        case OPS_FAILURE_USAGE:
                return RUN_FAILURE_USAGE;
        case OPS_FAILURE_DRIVER:
                return RUN_FAILURE_DRIVER;
        case OPS_FAILURE_NONE:
        case OPS_FAILURE_OTHER:
        default:
                return RUN_FAILURE_OTHER;
        }
}

/* Keeps the targets of `targets` that `profile` also names (target_name.h's profile matching). */
static int filter_by_profile(const struct node *node, const char *profile, const char *on,
                             struct target *targets, size_t *count, struct error *err)
{
        if (strncasecmp(profile, "MIG-", 4) == 0 || strncasecmp(profile, "GPU-", 4) == 0 ||
            strcasecmp(profile, "auto") == 0 || strspn(profile, "0123456789:") == strlen(profile))
                return error_set(err, -EINVAL,
                                 "--profile '%s': give a MIG profile name such as 1g.10gb",
                                 profile);
        _cleanup_free_ struct target *of_profile = NULL;
        size_t profile_count = 0;
        char *names[] = {(char *)profile};
        int r = target_resolve(node, names, 1, true, false, &of_profile, &profile_count, err);
        if (r < 0)
                return error_prefix(err, "--profile");
        size_t kept = 0;
        for (size_t i = 0; i < *count; i++)
                for (size_t j = 0; j < profile_count; j++)
                        if (targets[i].uuid == of_profile[j].uuid) {
                                targets[kept++] = targets[i];
                                break;
                        }
        if (kept == 0)
                return error_set(err, -ENOENT, "'%s' names no instance of profile '%s'", on,
                                 profile);
        *count = kept;
        return 0;
}

/* One named target whose daemon would not serve a client: why, and what to do (the front end
 * says it, from the hint). */
static int refuse(const struct status_result *result, struct error *err)
{
        char name[32];
        if (target_short_name(result->target, name, sizeof(name)) < 0)
                (void)snprintf(name, sizeof(name), "%s", result->target->uuid);
        const char *what = "the MPS daemon of";
        switch (result->state) {
        case DAEMON_NOT_RUNNING:
                (void)error_set(err, -ESRCH,
                                "%s %s (%s) is not running, so the program would run without MPS",
                                what, name, result->target->uuid);
                return error_hint_on(err, ERROR_HINT_START, name);
        case DAEMON_STALE:
                (void)error_set(err, -ESRCH,
                                "%s %s (%s) is gone: its pid file names process %d, which no "
                                "longer runs (killed?)",
                                what, name, result->target->uuid, (int)result->pid);
                return error_hint_on(err, ERROR_HINT_START_AGAIN, name);
        case DAEMON_NOT_ANSWERING:
                (void)error_set(err, -ETIMEDOUT,
                                "%s %s (%s, pid %d) does not answer (%s), so a client would hang",
                                what, name, result->target->uuid, (int)result->pid,
                                result->error.message[0] ? result->error.message : "no answer");
                return error_hint_on(err, ERROR_HINT_RESTART, name);
        case DAEMON_ERROR:
                return error_set(err, -EIO, "%s %s (%s) cannot be checked: %s", what, name,
                                 result->target->uuid, result->error.message);
        case DAEMON_RUNNING:
        default:
                return error_set(err, -EINVAL, "%s %s is running", what, name);
        }
}

/* Several candidates and none answers: name each with its state. */
static int refuse_all(const char *on, const struct status_result *results, size_t count,
                      struct error *err)
{
        (void)error_set(err, -ESRCH,
                        "no MPS daemon answers on any of the %zu targets '%s' names, so the "
                        "program would run without MPS (",
                        count, on);
        size_t len = strlen(err->message);
        for (size_t i = 0; i < count; i++) {
                char name[32];
                if (target_short_name(results[i].target, name, sizeof(name)) < 0)
                        continue;
                int n = snprintf(err->message + len, sizeof(err->message) - len, "%s%s %s",
                                 i ? ", " : "", name, daemon_state_string(results[i].state));
                if (n < 0 || (size_t)n >= sizeof(err->message) - len - 1)
                        break;
                len += (size_t)n;
        }
        (void)snprintf(err->message + len, sizeof(err->message) - len, ")");
        return error_hint(err, ERROR_HINT_START);
}

/* `env` names one target; a profile may name several. */
static int refuse_several(const char *on, const struct target *targets, size_t count,
                          struct error *err)
{
        (void)error_set(err, -EINVAL, "'%s' names %zu targets; name exactly one:", on, count);
        size_t len = strlen(err->message);
        for (size_t i = 0; i < count; i++) {
                char name[32];
                if (target_short_name(&targets[i], name, sizeof(name)) < 0)
                        continue;
                int n = snprintf(err->message + len, sizeof(err->message) - len, "%s %s %s",
                                 i ? "," : "", name, targets[i].uuid);
                if (n < 0 || (size_t)n >= sizeof(err->message) - len)
                        break;
                len += (size_t)n;
        }
        return -EINVAL;
}

/* The placement lock and the ledger folder, held only for the ledger's read, choice and write:
 * the daemons are asked before, without any lock, so that a hung daemon delays nobody but the
 * runs that ask it, and never a `stop --force` (which needs the node lock). The ledger folder is
 * `<runtime folder>/placements` when the runtime folder is ours; when it is another user's (a user
 * running on root's daemons), a private folder of our own (run_ledger_folder), so that no user
 * writes into, or locks, another user's folders; that user's ledger is then read as well. */
struct placement_lock {
        bool taken;    /* tried: the fds, or plan->ledger_error */
        int ledger_fd; /* the ledger folder we write; -1: none (plan->ledger_error says why) */
        int lock_fd;   /* the placement lock in it */
        int shared_fd; /* the runtime folder owner's ledger folder, read only; -1: none */
        char path[PATH_MAX + 32];
};
#define PLACEMENT_LOCK_NONE                                                                        \
        {                                                                                          \
                false, -1, -1, -1, ""                                                              \
        }

/* Makes (or opens) the folder `path` as a trusted root of ours and `placements` in it. */
static int open_private_ledger(const char *path, mode_t mode, int *ret_fd, struct error *err)
{
        _cleanup_close_ int root_fd = -1;
        int r = safe_fs_open_root(path, true, mode, &root_fd, err);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(root_fd, &st) < 0)
                return error_set(err, -errno, "cannot inspect %s: %s", path, strerror(errno));
        if (st.st_uid != geteuid()) {
                char owner[128];
                safe_fs_describe_owner(st.st_uid, owner, sizeof(owner));
                return error_set(err, -EPERM, "%s belongs to %s", path, owner);
        }
        return safe_fs_make_folder(root_fd, path, PLACEMENT_DIR_NAME, LAYOUT_FOLDER_MODE, ret_fd,
                                   NULL, err);
}

int run_ledger_folder(char *buffer, size_t size, int *ret_fd, struct error *err)
{
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        struct error xdg_error = {0};
        if (xdg && xdg[0] == '/') {
                (void)snprintf(buffer, size, "%s/%s", xdg, LAYOUT_RUNTIME_DIR_USER);
                if (open_private_ledger(buffer, LAYOUT_FOLDER_MODE, ret_fd, &xdg_error) == 0)
                        goto found;
        }
        /* No usable $XDG_RUNTIME_DIR (setpriv, su, cron): a folder of our uid in /tmp, made 0700;
         * one that another user made first is refused by its owner, never used. */
        (void)snprintf(buffer, size, "%s/mpsmig-%lu", LAYOUT_SEED_DIR, (unsigned long)geteuid());
        int r = open_private_ledger(buffer, 0700, ret_fd, err);
        if (r < 0) {
                if (xdg_error.message[0])
                        (void)error_prefix(err, "%s; and", xdg_error.message);
                return r;
        }
found:;
        size_t len = strlen(buffer);
        (void)snprintf(buffer + len, size - len, "/%s", PLACEMENT_DIR_NAME);
        return 0;
}

/* The ledger folder to write (and, when it is not the runtime folder's, that one to read). */
static int open_ledger(const struct layout *layout, struct placement_lock *lock, struct error *err)
{
        _cleanup_close_ int runtime_fd = -1;
        struct error ignored = {0};
        int r = layout_open_runtime_dir(layout, false, &runtime_fd, &ignored);
        if (r == -ENOENT) /* the seed layout needs none: make ours */
                r = layout_open_runtime_dir(layout, true, &runtime_fd, &ignored);
        struct stat st;
        if (r == 0 && fstat(runtime_fd, &st) == 0 && st.st_uid == geteuid()) {
                (void)snprintf(lock->path, sizeof(lock->path), "%s/%s", layout->runtime_dir,
                               PLACEMENT_DIR_NAME);
                return safe_fs_make_folder(runtime_fd, layout->runtime_dir, PLACEMENT_DIR_NAME,
                                           LAYOUT_FOLDER_MODE, &lock->ledger_fd, NULL, err);
        }
        if (r == 0 && safe_fs_open_folder(runtime_fd, layout->runtime_dir, PLACEMENT_DIR_NAME,
                                          &lock->shared_fd, &ignored) < 0)
                lock->shared_fd = -1;
        return run_ledger_folder(lock->path, sizeof(lock->path), &lock->ledger_fd, err);
}

static void placement_lock_release(struct placement_lock *lock)
{
        node_lock_release(lock->lock_fd);
        closep(&lock->ledger_fd);
        closep(&lock->shared_fd);
        *lock = (struct placement_lock)PLACEMENT_LOCK_NONE;
}

static void placement_lock_take(struct run_plan *plan, struct placement_lock *lock)
{
        if (lock->taken)
                return;
        lock->taken = true;
        int r = open_ledger(&plan->context.layout, lock, &plan->ledger_error);
        if (r >= 0)
                r = lock_file_acquire(lock->ledger_fd, lock->path, PLACEMENT_LOCK_NAME,
                                      "placement lock", RUN_LOCK_TIMEOUT_MS, &lock->lock_fd,
                                      &plan->ledger_error);
        if (r < 0) {
                closep(&lock->ledger_fd);
                closep(&lock->shared_fd);
        }
}

int run_release(const struct run_request *request, pid_t pid, struct error *err)
{
        struct layout layout;
        int r = layout_init(request->layout_kind, request->runtime_dir, &layout, err);
        if (r < 0)
                return r;
        struct placement_lock lock = PLACEMENT_LOCK_NONE;
        r = open_ledger(&layout, &lock, err);
        if (r >= 0)
                r = lock_file_acquire(lock.ledger_fd, lock.path, PLACEMENT_LOCK_NAME,
                                      "placement lock", RUN_LOCK_TIMEOUT_MS, &lock.lock_fd, err);
        if (r >= 0)
                r = placement_forget(lock.ledger_fd, pid, err);
        placement_lock_release(&lock);
        return r;
}

/* The programs the runtime folder's owner placed (its ledger, read only) count as that daemon's
 * clients: they may not have reached it yet. Kept here until the choice is made. */
struct shared_ledgers {
        pid_t **pids;
        size_t count;
};

static void shared_ledgers_done(struct shared_ledgers *shared)
{
        for (size_t i = 0; shared->pids && i < shared->count; i++)
                free(shared->pids[i]);
        free(shared->pids);
}

static int add_shared_ledgers(int shared_fd, struct placement_candidate *candidates, size_t count,
                              struct shared_ledgers *shared, struct error *err)
{
        if (shared_fd < 0)
                return 0;
        shared->pids = calloc(count, sizeof(*shared->pids));
        if (!shared->pids)
                return error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
                _cleanup_free_ struct placement_entry *entries = NULL;
                size_t entry_count = 0;
                struct error ignored = {0};
                if (placement_read(shared_fd, candidates[i].target->uuid, &entries, &entry_count,
                                   &ignored) < 0 ||
                    entry_count == 0)
                        continue;
                size_t total = candidates[i].client_count + entry_count;
                pid_t *pids = calloc(total, sizeof(*pids));
                if (!pids)
                        return error_set(err, -ENOMEM, "out of memory");
                if (candidates[i].client_count)
                        memcpy(pids, candidates[i].client_pids,
                               candidates[i].client_count * sizeof(*pids));
                for (size_t j = 0; j < entry_count; j++)
                        pids[candidates[i].client_count + j] = entries[j].pid;
                shared->pids[i] = pids;
                candidates[i].client_pids = pids;
                candidates[i].client_count = total;
        }
        return 0;
}

/* Chooses among `candidates` (or just records, for one) and adds the pid to the ledger. On any
 * trouble with the ledger, falls back to a choice from the daemons' client lists alone and says
 * why in plan->ledger_error. */
static int place(const struct run_request *request, struct run_plan *plan,
                 struct placement_lock *lock, struct placement_candidate *candidates, size_t count,
                 size_t *ret_index, struct error *err)
{
        int r = -ENOLCK;
        placement_lock_take(plan, lock);
        _cleanup_(shared_ledgers_done) struct shared_ledgers shared = {.count = count};
        if (lock->ledger_fd >= 0 && count > 1 &&
            add_shared_ledgers(lock->shared_fd, candidates, count, &shared, err) < 0)
                return -ENOMEM;
        if (lock->ledger_fd >= 0) {
                if (count == 1) {
                        r = placement_record(lock->ledger_fd, candidates[0].target,
                                             request->record_pid, &plan->ledger_error);
                        *ret_index = 0;
                } else {
                        r = placement_choose(lock->ledger_fd, candidates, count,
                                             request->record_pid, ret_index, &plan->ledger_error);
                }
        }
        if (r >= 0) {
                plan->recorded = true;
                return 0;
        }
        if (count == 1) {
                *ret_index = 0;
                return 0;
        }
        return placement_choose(-1, candidates, count, request->record_pid, ret_index, err);
}

/* The daemon's clients over all its servers, as one array (malloc'd, NULL when none). */
static int collect_clients(const struct status_result *result, pid_t **ret_pids, size_t *ret_count)
{
        size_t total = 0;
        for (size_t s = 0; s < result->server_count; s++)
                total += result->servers[s].client_count;
        pid_t *pids = NULL;
        if (total > 0) {
                pids = calloc(total, sizeof(*pids));
                if (!pids)
                        return -ENOMEM;
        }
        size_t n = 0;
        for (size_t s = 0; s < result->server_count; s++)
                for (size_t c = 0; c < result->servers[s].client_count; c++)
                        pids[n++] = result->servers[s].clients[c];
        *ret_pids = pids;
        *ret_count = n;
        return 0;
}

struct candidates {
        struct placement_candidate *items;
        pid_t **pids;         /* each item's client_pids, owned here */
        size_t *result_index; /* the status result each item came from */
        size_t count;
};

static void candidates_done(struct candidates *c, size_t capacity)
{
        for (size_t i = 0; c->pids && i < capacity; i++)
                free(c->pids[i]);
        free(c->pids);
        free(c->items);
        free(c->result_index);
}

static int choose_target(const struct run_request *request, struct run_plan *plan,
                         struct placement_lock *lock, const char *on,
                         const struct status_result *results, size_t count,
                         enum run_failure *ret_failure, struct error *err)
{
        struct candidates c = {
            .items = calloc(count, sizeof(*c.items)),
            .pids = calloc(count, sizeof(*c.pids)),
            .result_index = calloc(count, sizeof(*c.result_index)),
        };
        int r = 0;
        if (!c.items || !c.pids || !c.result_index) {
                r = fail(ret_failure, RUN_FAILURE_OTHER, error_set(err, -ENOMEM, "out of memory"));
                goto finish;
        }
        for (size_t i = 0; i < count; i++) {
                if (results[i].state != DAEMON_RUNNING)
                        continue;
                struct placement_candidate *item = &c.items[c.count];
                item->target = results[i].target;
                r = collect_clients(&results[i], &c.pids[c.count], &item->client_count);
                if (r < 0) {
                        r = fail(ret_failure, RUN_FAILURE_OTHER,
                                 error_set(err, r, "out of memory"));
                        goto finish;
                }
                item->client_pids = c.pids[c.count];
                item->load = item->client_count; /* placement_choose counts the ledger too */
                c.result_index[c.count++] = i;
        }
        if (count == 1 && c.count == 0) {
                r = fail(ret_failure, RUN_FAILURE_REFUSED, refuse(&results[0], err));
                goto finish;
        }
        if (c.count == 0) {
                r = fail(ret_failure, RUN_FAILURE_REFUSED, refuse_all(on, results, count, err));
                goto finish;
        }
        plan->candidate_count = c.count;

        size_t chosen = 0;
        if (request->record_pid > 0)
                r = place(request, plan, lock, c.items, c.count, &chosen, err);
        else if (c.count > 1)
                r = placement_choose(-1, c.items, c.count, 0, &chosen, err);
        if (r < 0) {
                r = fail(ret_failure, RUN_FAILURE_OTHER, r);
                goto finish;
        }
        const struct status_result *result = &results[c.result_index[chosen]];
        plan->target = result->target;
        plan->paths = result->paths;
        plan->daemon_pid = result->pid;
        plan->load = c.items[chosen].load;
finish:
        candidates_done(&c, count);
        return r;
}

int run_resolve(const struct node *node, const struct run_request *request,
                struct target **ret_targets, size_t *ret_count, struct error *err)
{
        const char *on = request->on ? request->on : "auto";
        char *names[] = {(char *)on};
        _cleanup_free_ struct target *targets = NULL;
        size_t count = 0;
        int r = target_resolve(node, names, 1, true, !request->single, &targets, &count, err);
        if (r >= 0 && request->profile)
                r = filter_by_profile(node, request->profile, on, targets, &count, err);
        if (r >= 0 && request->single && count != 1)
                r = refuse_several(on, targets, count, err);
        if (r >= 0 && count == 0)
                r = error_set(err, -ENOENT,
                              "there is no MIG device or GPU to run on ('%s' names nothing)", on);
        if (r < 0)
                return r;
        *ret_targets = TAKE_PTR(targets);
        *ret_count = count;
        return 0;
}

int run_prepare(const struct run_request *request, struct run_plan *ret_plan,
                enum run_failure *ret_failure, struct error *err)
{
        *ret_failure = RUN_FAILURE_NONE;
        struct run_plan plan = {.target = NULL};
        struct ops_options options = {
            .layout_kind = request->layout_kind,
            .runtime_dir = request->runtime_dir,
            .whole_gpus = true,
            .timeout_ms = RUN_QUERY_TIMEOUT_MS,
        };
        enum ops_failure ops_failure = OPS_FAILURE_NONE;
        int r = ops_context_open(&options, &plan.context, &ops_failure, err);
        if (r < 0)
                return fail(ret_failure, from_ops_failure(ops_failure), r);

        const char *on = request->on ? request->on : "auto";
        struct target *targets = NULL;
        size_t count = 0;
        r = run_resolve(plan.context.node, request, &targets, &count, err);
        free(plan.context.targets);
        plan.context.targets = targets;
        plan.context.target_count = r >= 0 ? count : 0;
        if (r < 0) {
                run_plan_done(&plan);
                return fail(ret_failure, RUN_FAILURE_USAGE, r);
        }

        struct status_result *results = calloc(count, sizeof(*results));
        if (!results) {
                run_plan_done(&plan);
                return fail(ret_failure, RUN_FAILURE_OTHER,
                            error_set(err, -ENOMEM, "out of memory"));
        }
        /* Asked without any lock: a hung daemon must delay only the runs that ask it. */
        struct placement_lock lock = PLACEMENT_LOCK_NONE;
        r = ops_status(&plan.context, results, err);
        if (r < 0)
                (void)fail(ret_failure, RUN_FAILURE_OTHER, r);
        else
                r = choose_target(request, &plan, &lock, on, results, count, ret_failure, err);
        placement_lock_release(&lock);
        if (r >= 0)
                r = target_short_name(plan.target, plan.short_name, sizeof(plan.short_name));
        if (r >= 0) {
                r = client_environment_build(plan.target, plan.paths.pipe_dir, plan.paths.log_dir,
                                             &request->limits, &plan.environment, err);
                if (r < 0)
                        *ret_failure = RUN_FAILURE_OTHER;
        }
        status_results_done(results, count);
        free(results);
        if (r < 0) {
                run_plan_done(&plan);
                return r;
        }
        *ret_plan = plan;
        return 0;
}

void run_plan_done(struct run_plan *plan)
{
        ops_context_done(&plan->context);
        memset(plan, 0, sizeof(*plan));
}

static int executable_file(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EACCES;
        if (access(path, X_OK) < 0)
                return -errno;
        return 0;
}

int run_find_program(const char *name, char **ret_path, struct error *err)
{
        if (name[0] == '\0')
                return error_set(err, -ENOENT, "an empty program name");
        if (strchr(name, '/')) {
                int r = executable_file(name);
                if (r < 0)
                        return error_set(err, r == -ENOENT ? -ENOENT : -EACCES,
                                         "cannot run '%s': %s", name, strerror(-r));
                char *copy = strdup(name);
                if (!copy)
                        return error_set(err, -ENOMEM, "out of memory");
                *ret_path = copy;
                return 0;
        }
        const char *path = getenv("PATH");
        if (!path)
                path = "/bin:/usr/bin";
        bool denied = false;
        for (const char *entry = path;;) {
                const char *colon = strchr(entry, ':');
                size_t len = colon ? (size_t)(colon - entry) : strlen(entry);
                char *candidate = NULL;
                if (asprintf(&candidate, "%.*s%s%s", (int)len, entry, len ? "/" : "", name) < 0)
                        return error_set(err, -ENOMEM, "out of memory");
                int r = executable_file(candidate);
                if (r == 0) {
                        *ret_path = candidate;
                        return 0;
                }
                free(candidate);
                denied = denied || r == -EACCES;
                if (!colon)
                        break;
                entry = colon + 1;
        }
        if (denied)
                return error_set(err, -EACCES, "cannot run '%s': permission denied", name);
        return error_set(err, -ENOENT, "cannot run '%s': not found in PATH", name);
}

int run_exec(const struct run_plan *plan, const char *path, char *const *argv, struct error *err)
{
        struct env_builder builder = ENV_BUILDER_INIT;
        int r = 0;
        for (char **entry = environ; entry && *entry && r >= 0; entry++)
                if ((*entry)[0] != '=' && strchr(*entry, '='))
                        r = env_builder_add(&builder, *entry);
        for (size_t i = 0; i < plan->environment.count && r >= 0; i++)
                r = env_builder_set(&builder, plan->environment.variables[i].name,
                                    plan->environment.variables[i].value);
        char *const *envp = r >= 0 ? env_builder_array(&builder) : NULL;
        if (!envp) {
                env_builder_done(&builder);
                return error_set(err, -ENOMEM, "out of memory");
        }
        (void)execve(path, argv, envp);
        r = -errno;
        env_builder_done(&builder);
        return error_set(err, r, "cannot run '%s': %s", path, strerror(-r));
}
