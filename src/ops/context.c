/* What start, stop and status share: the node, its targets, the layout and the control program
 * found once per invocation, and the /proc scan of running daemons. */
#define _GNU_SOURCE
#include "ops/ops.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/flock_wait.h"
#include "driver/mps_control.h"
#include "driver/nvml.h"
#include "node/lock.h"
#include "node/target_name.h"

void ops_user_name(uid_t uid, char *buffer, size_t size)
{
        struct passwd entry;
        struct passwd *found = NULL;
        char text[1024];
        if (getpwuid_r(uid, &entry, text, sizeof(text), &found) == 0 && found)
                (void)snprintf(buffer, size, "%s", found->pw_name);
        else
                (void)snprintf(buffer, size, "%u", (unsigned)uid);
}

void ops_process_user(pid_t pid, char *buffer, size_t size)
{
        uid_t uid;
        if (process_uid(pid, &uid) < 0)
                (void)snprintf(buffer, size, "?");
        else
                ops_user_name(uid, buffer, size);
}

long long ops_now_ms(void)
{
        return monotonic_now_ms();
}

static int fail(enum ops_failure *ret_failure, enum ops_failure failure, int r)
{
        *ret_failure = failure;
        return r;
}

int ops_context_prepare(const struct ops_options *options, struct ops_context *ret_context,
                        struct error *err)
{
        struct ops_context context = {.options = *options};
        int r = layout_init(options->layout_kind, options->runtime_dir, &context.layout, err);
        if (r < 0)
                return r;
        const struct config *config = options->config;
        if (config && config->user.set && config->user.id != geteuid()) {
                context.daemon_user = true;
                context.daemon_credentials = (struct spawn_credentials){
                    .uid = (uid_t)config->user.id,
                    .gid = (gid_t)config->group.id,
                };
                context.layout.handed = true;
                context.layout.daemon_uid = context.daemon_credentials.uid;
                context.layout.daemon_gid = context.daemon_credentials.gid;
        }
        *ret_context = context;
        return 0;
}

int ops_read_node(struct node **ret_node, enum ops_failure *ret_failure, struct error *err)
{
        struct nvml *nvml = NULL;
        *ret_failure = OPS_FAILURE_NONE;
        int r = nvml_open(&nvml, err);
        if (r < 0)
                return fail(ret_failure, OPS_FAILURE_DRIVER, r);
        /* A lost GPU stays in the node, marked: every verb serves the healthy GPUs (a lost one
         * is never a target) and says what is lost. */
        r = node_discover_with_lost(nvml, ret_node, err);
        nvml_close(nvml);
        if (r < 0)
                return fail(ret_failure, OPS_FAILURE_OTHER, r);
        return 0;
}

int ops_context_resolve(struct ops_context *context, struct node *node, struct error *err)
{
        node_free(context->node);
        free(context->targets);
        context->targets = NULL;
        context->target_count = 0;
        context->node = node;
        if (context->options.orphans)
                return ops_resolve_with_orphans(context, err);
        int r = target_resolve(node, context->options.names, context->options.name_count,
                               context->options.whole_gpus, false, &context->targets,
                               &context->target_count, err);
        if (r < 0)
                return r;
        return ops_context_select(context, err);
}

int ops_context_select(struct ops_context *context, struct error *err)
{
        const struct ops_options *options = &context->options;
        if (!options->config || options->name_count > 0)
                return 0;
        return config_select(options->config, context->node, options->config_strict,
                             context->targets, &context->target_count, err);
}

int ops_context_limits(struct ops_context *context, struct error *err)
{
        free(context->limits);
        context->limits = calloc(context->target_count + 1, sizeof(*context->limits));
        if (!context->limits)
                return error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < context->target_count; i++)
                context->limits[i] = (struct target_limits){.priority = -1};
        const struct config *config = context->options.config;
        if (!config)
                return 0;
        int r = config_check_node(config, context->node, NULL, err);
        for (size_t i = 0; r == 0 && i < context->target_count; i++)
                r = config_limits_for(config, &context->targets[i], &context->limits[i], err);
        return r;
}

int ops_context_open(const struct ops_options *options, struct ops_context *ret_context,
                     enum ops_failure *ret_failure, struct error *err)
{
        _cleanup_(ops_context_done) struct ops_context context = {0};
        *ret_failure = OPS_FAILURE_NONE;
        int r = ops_context_prepare(options, &context, err);
        if (r < 0)
                return fail(ret_failure, OPS_FAILURE_USAGE, r);
        struct node *node = NULL;
        r = ops_read_node(&node, ret_failure, err);
        if (r < 0)
                return r;
        r = ops_context_resolve(&context, node, err);
        if (r < 0)
                return fail(ret_failure, OPS_FAILURE_USAGE, r);
        r = mps_control_find(&context.program, err);
        if (r < 0)
                return fail(ret_failure, OPS_FAILURE_DRIVER, r);
        *ret_context = context;
        memset(&context, 0, sizeof(context));
        return 0;
}

void ops_context_done(struct ops_context *context)
{
        free(context->limits);
        free(context->daemons);
        free(context->orphan_uuids);
        free(context->program);
        free(context->targets);
        node_free(context->node);
        memset(context, 0, sizeof(*context));
}

/* A daemon without CUDA_VISIBLE_DEVICES serves the devices its driver shows it, which only it can
 * tell: asked once per scan (such daemons are rare). What one that does not answer serves stays
 * unknown (daemon_serves_unknown), and the verbs say so. */
static void ask_node_wide(const struct ops_context *context, struct mps_daemon *daemon)
{
        if (!context->program || !daemon->environ_known || daemon->has_visible_devices)
                return;
        struct mps_endpoint endpoint = {
            .program = context->program,
            .pipe_dir = daemon->pipe_dir,
            .timeout_ms = OPS_NODE_WIDE_QUERY_MS,
        };
        struct error ignored = {0};
        int r = mps_control_device_query(&endpoint, daemon->served_devices,
                                         sizeof(daemon->served_devices), &ignored);
        /* Gone since the scan (it quit, or was ended): it serves nothing now. */
        if (r == MPS_ANSWER_NO_DAEMON)
                daemon->served_devices[0] = '\0';
        daemon->served_known = r == 0 || r == MPS_ANSWER_NO_DAEMON;
}

int ops_context_scan(struct ops_context *context, struct error *err)
{
        struct mps_daemon *daemons = NULL;
        size_t count = 0;
        int r = daemon_scan(&daemons, &count, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < count; i++)
                ask_node_wide(context, &daemons[i]);
        free(context->daemons);
        context->daemons = daemons;
        context->daemon_count = count;
        return 0;
}

int ops_context_lock(struct ops_context *context, int *ret_runtime_fd, int *ret_lock_fd,
                     struct error *err)
{
        _cleanup_close_ int runtime_fd = -1;
        int r = layout_open_runtime_dir(&context->layout, true, &runtime_fd, err);
        /* another user's folder (root's /run/mpsmig to a user): a folder of one's own helps */
        if (r == -EACCES || r == -EPERM)
                (void)error_hint(err, ERROR_HINT_RUNTIME_DIR);
        if (r < 0)
                return r;
        int lock_timeout = context->options.lock_timeout_ms > 0 ? context->options.lock_timeout_ms
                                                                : NODE_LOCK_TIMEOUT_MS_DEFAULT;
        _cleanup_close_ int lock_fd = -1;
        r = node_lock_acquire(runtime_fd, context->layout.runtime_dir, lock_timeout, &lock_fd, err);
        if (r < 0)
                return r;
        r = ops_context_scan(context, err);
        if (r < 0)
                return r;
        *ret_runtime_fd = TAKE_FD(runtime_fd);
        *ret_lock_fd = TAKE_FD(lock_fd);
        return 0;
}

const struct mps_daemon *ops_daemon_on(const struct ops_context *context, const char *pipe_dir)
{
        for (size_t i = 0; i < context->daemon_count; i++)
                if (daemon_uses_pipe_dir(&context->daemons[i], pipe_dir))
                        return &context->daemons[i];
        return NULL;
}

bool ops_find_daemon(const struct ops_context *context, const char *pipe_dir, int pipe_fd,
                     struct mps_daemon *ret_daemon)
{
        const struct mps_daemon *found = ops_daemon_on(context, pipe_dir);
        if (found) {
                *ret_daemon = *found;
                return true;
        }
        pid_t pid;
        struct mps_daemon daemon;
        if (pipe_fd < 0 || layout_read_pid(pipe_fd, &pid) < 0 || daemon_inspect(pid, &daemon) < 0 ||
            daemon.environ_known)
                return false;
        *ret_daemon = daemon;
        return true;
}
