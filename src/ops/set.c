/* `set`: new default limits on running daemons, all at once and without the node lock: each
 * daemon's servers and defaults read first, the new defaults set and read back, and the servers
 * that keep their old limits (MPS applies defaults to servers started later) named. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/parallel.h"
#include "ops/limits.h"
#include "ops/ops.h"

#define MIB (1024ULL * 1024ULL)

const char *set_outcome_string(enum set_outcome outcome)
{
        switch (outcome) {
        case SET_APPLIED:
                return "set";
        case SET_NOT_RUNNING:
                return "not running";
        case SET_MISMATCH:
                return "not taken";
        case SET_FAILED:
                break;
        }
        return "failed";
}

struct set_job {
        struct ops_context *context;
        const struct set_request *request;
        struct set_result *results;
        int timeout_ms;
};

static int note_servers(const struct mps_overview *overview, struct set_result *result)
{
        if (overview->server_count == 0)
                return 0;
        result->servers = calloc(overview->server_count, sizeof(*result->servers));
        if (!result->servers)
                return -ENOMEM;
        for (size_t i = 0; i < overview->server_count; i++) {
                result->servers[i].pid = overview->servers[i];
                ops_process_user(overview->servers[i], result->servers[i].user,
                                 sizeof(result->servers[i].user));
        }
        result->server_count = overview->server_count;
        return 0;
}

/* The request for one target: a share of memory made bytes. */
static int want_for(const struct set_request *request, const struct target *target,
                    struct mps_defaults *ret_want, struct error *err)
{
        struct mps_defaults want = request->want;
        if (request->pinned_percent > 0) {
                unsigned long long memory = target->mig_device ? target->mig_device->memory_bytes
                                            : target->gpu      ? target->gpu->memory_bytes
                                                               : 0;
                want.pinned_bytes = memory / MIB * request->pinned_percent / 100 * MIB;
                if (want.pinned_bytes == 0)
                        return error_set(err, -EINVAL,
                                         "--pinned-mem %u%%: the memory of %s is not known (NVML "
                                         "did not give it): give a size such as 4G",
                                         request->pinned_percent, target->uuid);
        }
        *ret_want = want;
        return 0;
}

static void set_one(void *shared, size_t index)
{
        struct set_job *job = shared;
        struct set_result *result = &job->results[index];
        struct ops_context *context = job->context;
        struct error *err = &result->error;
        result->target = &context->targets[index];
        result->outcome = SET_FAILED;
        if (layout_paths(&context->layout, result->target->uuid, &result->paths, err) < 0 ||
            want_for(job->request, result->target, &result->want, err) < 0)
                return;
        _cleanup_close_ int pipe_fd = -1;
        int r = layout_open_pipe(&context->layout, result->target->uuid, &pipe_fd, err);
        if (r < 0 && r != -ENOENT)
                return;
        error_clear(err);
        struct mps_daemon daemon;
        struct mps_endpoint endpoint = {
            .program = context->program,
            .device_uuid = result->target->uuid,
            .pipe_dir = result->paths.pipe_dir,
            .log_dir = result->paths.log_dir,
            .timeout_ms = job->timeout_ms,
        };
        struct mps_overview overview;
        if (!ops_find_daemon(context, result->paths.pipe_dir, pipe_fd, &daemon) ||
            mps_control_overview(&endpoint, &overview, err) < 0) {
                result->outcome = SET_NOT_RUNNING;
                (void)error_set(err, -ESRCH, "no MPS control daemon answers on %s",
                                result->paths.pipe_dir);
                return;
        }
        result->before_known = true;
        result->before = (struct mps_defaults_answer){
            .thread_percentage = overview.default_active_thread_percentage,
            .pinned = overview.default_pinned_limit,
            .client_priority = overview.default_client_priority,
        };
        r = note_servers(&overview, result);
        mps_overview_done(&overview);
        if (r < 0) {
                (void)error_set(err, r, "out of memory");
                return;
        }
        r = limits_apply(&endpoint, &result->want, &result->read, err);
        result->read_back = r == 0 || r == -EIO;
        result->outcome = r == 0 ? SET_APPLIED : r == -EIO ? SET_MISMATCH : SET_FAILED;
}

int ops_set(struct ops_context *context, const struct set_request *request,
            struct set_result *results, struct error *err)
{
        memset(results, 0, context->target_count * sizeof(*results));
        int r = ops_context_scan(context, err);
        if (r < 0)
                return r;
        struct set_job job = {
            .context = context,
            .request = request,
            .results = results,
            .timeout_ms = context->options.timeout_ms > 0 ? context->options.timeout_ms
                                                          : OPS_STATUS_TIMEOUT_MS_DEFAULT,
        };
        parallel_for(context->target_count, set_one, &job);
        return 0;
}

void set_results_done(struct set_result *results, size_t count)
{
        for (size_t i = 0; results && i < count; i++) {
                free(results[i].servers);
                results[i].servers = NULL;
                results[i].server_count = 0;
        }
}
