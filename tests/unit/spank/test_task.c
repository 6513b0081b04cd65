/* The Slurm plugin's work in slurmstepd, in-process so that the sanitizers see it: a SPANK of the
 * test's own (the few spank_* and slurm_* functions the plugin takes from its host) hands the
 * plugin a task, over simgpu's a30-seed (a private copy) with two daemons started by mpsmig. A
 * task with options gets its instance's variables and a ledger entry that its exit removes; one
 * without is left alone; a daemon that is not running, a target that names nothing and a bad
 * plugstack.conf argument refuse the task with one sentence through slurm_error; the options are
 * registered, and their callback checks values as srun does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cleanup.h"
#include "base/spawn.h"
#include "spank/options.h"
#include "spank/task.h"

extern char **environ;

/* ---- the host's side of SPANK, as slurmstepd would answer for one task ---- */

#define FAKE_ENV_MAX 16

struct spank_handle {
        const char *instance, *threads, *pinned_mem; /* the job's options; NULL: not given */
        bool getopt_fails;                           /* SPANK cannot say */
        uint32_t task_id;
        pid_t task_pid;
        char *names[FAKE_ENV_MAX], *values[FAKE_ENV_MAX];
        size_t env_count;
        struct spank_option *registered[8];
        size_t registered_count;
};

static char last_error[4096];
static unsigned error_count;

spank_err_t spank_option_getopt(spank_t spank, struct spank_option *option, char **ret_value)
{
        const char *value = NULL;
        if (spank->getopt_fails)
                return ESPANK_NOT_AVAIL;
        if (strcmp(option->name, "mps-instance") == 0)
                value = spank->instance;
        else if (strcmp(option->name, "mps-threads") == 0)
                value = spank->threads;
        else if (strcmp(option->name, "mps-pinned-mem") == 0)
                value = spank->pinned_mem;
        else
                return ESPANK_BAD_ARG;
        if (!value)
                return ESPANK_ERROR;
        *ret_value = (char *)value;
        return ESPANK_SUCCESS;
}

spank_err_t spank_option_register(spank_t spank, struct spank_option *option)
{
        if (spank->registered_count == 8)
                return ESPANK_NOSPACE;
        spank->registered[spank->registered_count++] = option;
        return ESPANK_SUCCESS;
}

spank_err_t spank_get_item(spank_t spank, spank_item_t item, ...)
{
        va_list arguments;
        va_start(arguments, item);
        spank_err_t r = ESPANK_SUCCESS;
        if (item == S_TASK_GLOBAL_ID)
                *va_arg(arguments, uint32_t *) = spank->task_id;
        else if (item == S_TASK_PID)
                *va_arg(arguments, pid_t *) = spank->task_pid;
        else
                r = ESPANK_BAD_ARG;
        va_end(arguments);
        return r;
}

spank_err_t spank_setenv(spank_t spank, const char *name, const char *value, int overwrite)
{
        if (spank->env_count == FAKE_ENV_MAX)
                return ESPANK_NOSPACE;
        spank->names[spank->env_count] = strdup(name);
        spank->values[spank->env_count++] = strdup(value);
        return ESPANK_SUCCESS;
}

const char *spank_strerror(spank_err_t error)
{
        return "a SPANK error";
}

void slurm_error(const char *format, ...)
{
        va_list arguments;
        va_start(arguments, format);
        (void)vsnprintf(last_error, sizeof(last_error), format, arguments);
        va_end(arguments);
        error_count++;
}

void slurm_info(const char *format, ...)
{
}

void slurm_verbose(const char *format, ...)
{
}

static const char *env_of(const struct spank_handle *spank, const char *name)
{
        for (size_t i = 0; i < spank->env_count; i++)
                if (strcmp(spank->names[i], name) == 0)
                        return spank->values[i];
        return NULL;
}

static void handle_done(struct spank_handle *spank)
{
        for (size_t i = 0; i < spank->env_count; i++) {
                free(spank->names[i]);
                free(spank->values[i]);
        }
        spank->env_count = 0;
}

/* ---- the node: a private a30-seed with daemons on 0:1:0 and 0:2:0 ---- */

static char dir[256], runtime[300], mpsmig[1024], host[256];
static char plugin_argument[320];
static char *plugin_arguments[] = {plugin_argument, NULL};
static char uuid_010[64], uuid_020[64], uuid_011[64];

/* mpsmig VERB over the private node; its exit status, or -1 when it could not run. */
static int run_mpsmig(const char *verb)
{
        char *argv[] = {mpsmig, (char *)verb, "--runtime-dir", runtime, NULL};
        struct spawn_options options = {
            .path = mpsmig, .argv = argv, .envp = environ, .timeout_ms = 30000};
        struct spawn_result result;
        struct error err = {0};
        if (spawn_run(&options, &result, &err) < 0)
                return -1;
        int status = result.exited ? result.exit_status : -1;
        if (status != 0)
                print_message("mpsmig %s: %s%s", verb, result.out, result.err);
        spawn_result_done(&result);
        return status;
}

/* 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *text)
{
        for (int i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? text[i] != '-' : !strchr("0123456789abcdef", text[i]) || !text[i])
                        return false;
        }
        return true;
}

/* Copies a30-seed with the UUIDs' last 12 digits made this test's own, so that tests running at
 * the same time never serve one simulated device twice; notes three of the MIG UUIDs. */
static int private_topology(const char *source, const char *path)
{
        char seed[1024];
        (void)snprintf(seed, sizeof(seed), "%s/simgpu/topologies/a30-seed.json", source);
        FILE *in = fopen(seed, "re");
        if (!in)
                return -1;
        _cleanup_free_ char *text = calloc(1, 64 * 1024);
        size_t size = text ? fread(text, 1, 64 * 1024 - 1, in) : 0;
        (void)fclose(in);
        if (size == 0)
                return -1;
        char suffix[16];
        (void)snprintf(suffix, sizeof(suffix), "%012llx",
                       ((unsigned long long)getpid() << 24 ^ (unsigned long long)time(NULL)) &
                           0xffffffffffffULL);
        for (char *p = text; *p; p++)
                if ((strncmp(p, "GPU-", 4) == 0 || strncmp(p, "MIG-", 4) == 0) && is_uuid(p + 4))
                        memcpy(p + 4 + 24, suffix, 12);
        const char *prefixes[] = {"MIG-22f0c05f", "MIG-27be287f", "MIG-d74dcafc"};
        char *uuids[] = {uuid_010, uuid_020, uuid_011};
        for (int i = 0; i < 3; i++) {
                const char *found = strstr(text, prefixes[i]);
                if (!found)
                        return -1;
                memcpy(uuids[i], found, 40);
        }
        FILE *out = fopen(path, "we");
        if (!out)
                return -1;
        (void)fwrite(text, 1, size, out);
        return fclose(out);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static int setup_node(void **state)
{
        const char *build = getenv("MPSMIG_BUILD"), *source = getenv("MPSMIG_SOURCE");
        if (!build || !source)
                return -1;
        (void)snprintf(dir, sizeof(dir), "/tmp/mpsmig-spank-task.XXXXXX");
        if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
                return -1;
        char path[1024];
        (void)snprintf(path, sizeof(path), "%s/node.json", dir);
        if (private_topology(source, path) < 0)
                return -1;
        (void)setenv("SIMGPU_TOPOLOGY", path, 1);
        (void)snprintf(path, sizeof(path), "%s/simgpu/lib/libnvidia-ml.so.1", build);
        (void)setenv("MPSMIG_NVML_LIBRARY", path, 1);
        (void)snprintf(path, sizeof(path), "%s/simgpu/bin/nvidia-cuda-mps-control", build);
        (void)setenv("MPSMIG_MPS_CONTROL", path, 1);
        /* the daemons end with this test however it ends (docs/simgpu-mps.md) */
        (void)snprintf(path, sizeof(path), "%d", (int)getpid());
        (void)setenv("SIMGPU_MPS_EXIT_WITH_PID", path, 1);
        (void)unsetenv("MPSMIG_RUNTIME_DIR"); /* the plugin's argument names it */
        (void)snprintf(runtime, sizeof(runtime), "%s/run", dir);
        (void)snprintf(plugin_argument, sizeof(plugin_argument), "runtime_dir=%s", runtime);
        (void)snprintf(mpsmig, sizeof(mpsmig), "%s/mpsmig", build);
        if (gethostname(host, sizeof(host) - 1) < 0)
                return -1;
        char *argv[] = {mpsmig, "start", "--runtime-dir", runtime, "0:1:0", "0:2:0", NULL};
        struct spawn_options options = {
            .path = mpsmig, .argv = argv, .envp = environ, .timeout_ms = 30000};
        struct spawn_result result;
        struct error err = {0};
        if (spawn_run(&options, &result, &err) < 0)
                return -1;
        int status = result.exited ? result.exit_status : -1;
        spawn_result_done(&result);
        return status == 0 ? 0 : -1;
}

static int teardown_node(void **state)
{
        int r = run_mpsmig("stop");
        (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return r == 0 ? 0 : -1;
}

static int place(struct spank_handle *spank)
{
        last_error[0] = '\0';
        return mpsmig_spank_task_place(spank, 1, plugin_arguments);
}

static bool ledger_names(const char *uuid, pid_t pid)
{
        char path[512], text[256] = "";
        (void)snprintf(path, sizeof(path), "%s/placements/%s", runtime, uuid);
        FILE *in = fopen(path, "re");
        if (!in)
                return false;
        size_t size = fread(text, 1, sizeof(text) - 1, in);
        (void)fclose(in);
        text[size] = '\0';
        char line[32];
        (void)snprintf(line, sizeof(line), "%d ", (int)pid);
        return strncmp(text, line, strlen(line)) == 0 || strstr(text, line) != NULL;
}

static void test_without_options(void **state)
{
        struct spank_handle spank = {.task_id = 0, .task_pid = getpid()};
        assert_int_equal(place(&spank), 0);
        assert_int_equal(spank.env_count, 0);
        assert_int_equal(mpsmig_spank_task_release(&spank, 1, plugin_arguments), 0);
}

static void test_place_and_release(void **state)
{
        struct spank_handle spank = {
            .instance = "0:2:0", .threads = "50", .task_id = 5, .task_pid = getpid()};
        assert_int_equal(place(&spank), 0);
        assert_string_equal(last_error, "");
        char pipe[512], log[512];
        (void)snprintf(pipe, sizeof(pipe), "%s/%s/pipe", runtime, uuid_020);
        (void)snprintf(log, sizeof(log), "%s/%s/log", runtime, uuid_020);
        assert_int_equal(spank.env_count, 4);
        assert_string_equal(env_of(&spank, "CUDA_VISIBLE_DEVICES"), uuid_020);
        assert_string_equal(env_of(&spank, "CUDA_MPS_PIPE_DIRECTORY"), pipe);
        assert_string_equal(env_of(&spank, "CUDA_MPS_LOG_DIRECTORY"), log);
        assert_string_equal(env_of(&spank, "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"), "50");
        handle_done(&spank);
        /* recorded for later placements, as `mpsmig run --on 0:2:0` records itself */
        assert_true(ledger_names(uuid_020, getpid()));

        /* its exit takes it out */
        assert_int_equal(mpsmig_spank_task_release(&spank, 1, plugin_arguments), 0);
        assert_false(ledger_names(uuid_020, getpid()));

        /* a limit alone means auto: one of the two running daemons */
        struct spank_handle limits = {.pinned_mem = "2G", .task_pid = getpid()};
        assert_int_equal(place(&limits), 0);
        const char *device = env_of(&limits, "CUDA_VISIBLE_DEVICES");
        assert_non_null(device);
        assert_true(strcmp(device, uuid_010) == 0 || strcmp(device, uuid_020) == 0);
        assert_string_equal(env_of(&limits, "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"), "0=2G");
        assert_true(ledger_names(device, getpid()));
        assert_int_equal(mpsmig_spank_task_release(&limits, 1, plugin_arguments), 0);
        assert_false(ledger_names(device, getpid()));
        handle_done(&limits);
}

static void test_refusals(void **state)
{
        char expected[1024];
        struct spank_handle stopped = {.instance = "0:1:1", .task_id = 3, .task_pid = getpid()};
        unsigned errors = error_count;
        assert_int_equal(place(&stopped), -1);
        assert_int_equal(error_count, errors + 1);
        (void)snprintf(expected, sizeof(expected),
                       "mpsmig: task 3 on node %s: the MPS daemon of 0:1:1 (%s) is not running, so "
                       "the program would run without MPS; start it with `mpsmig start "
                       "--runtime-dir %s 0:1:1`",
                       host, uuid_011, runtime);
        assert_string_equal(last_error, expected);
        assert_int_equal(stopped.env_count, 0);

        struct spank_handle nothing = {.instance = "9:9:9", .task_id = 1, .task_pid = getpid()};
        assert_int_equal(place(&nothing), -1);
        assert_non_null(strstr(last_error, "no MIG device 9:9:9 (GPU:GI:CI)"));
        assert_int_equal(nothing.env_count, 0);

        /* values come from srun: they are checked again */
        struct spank_handle threads = {.instance = "auto", .threads = "0", .task_pid = getpid()};
        assert_int_equal(place(&threads), -1);
        assert_non_null(strstr(last_error, "--mps-threads '0': give a whole percentage"));

        char *bad[] = {"runtime-dir=/run/mpsmig"};
        struct spank_handle any = {.instance = "auto", .task_id = 2, .task_pid = getpid()};
        assert_int_equal(mpsmig_spank_task_place(&any, 1, bad), -1);
        (void)snprintf(expected, sizeof(expected),
                       "mpsmig: task 2 on node %s: plugstack.conf: unknown argument "
                       "'runtime-dir=/run/mpsmig'; known: runtime_dir=/absolute/folder, "
                       "layout=default or layout=seed",
                       host);
        assert_string_equal(last_error, expected);
        assert_int_equal(mpsmig_spank_check_arguments(1, bad), -1);
        assert_string_equal(last_error, "mpsmig: plugstack.conf: unknown argument "
                                        "'runtime-dir=/run/mpsmig'; known: "
                                        "runtime_dir=/absolute/folder, layout=default or "
                                        "layout=seed");
        assert_int_equal(mpsmig_spank_check_arguments(1, plugin_arguments), 0);

        /* SPANK cannot give the options: one sentence, the task refused */
        struct spank_handle unreadable = {.getopt_fails = true, .task_id = 4};
        errors = error_count;
        assert_int_equal(place(&unreadable), -1);
        assert_int_equal(error_count, errors + 1);
        (void)snprintf(expected, sizeof(expected),
                       "mpsmig: task 4 on node %s: cannot read the job's --mps-instance: a SPANK "
                       "error",
                       host);
        assert_string_equal(last_error, expected);
        assert_int_equal(mpsmig_spank_check_arguments(0, NULL), 0);
}

static void test_options(void **state)
{
        struct spank_handle spank = {0};
        assert_int_equal(mpsmig_spank_options_register(&spank), 0);
        assert_int_equal(spank.registered_count, 3);
        assert_string_equal(spank.registered[0]->name, "mps-instance");
        assert_string_equal(spank.registered[1]->name, "mps-threads");
        assert_string_equal(spank.registered[2]->name, "mps-pinned-mem");
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(spank.registered[i]->has_arg, 1);

        /* the callback srun calls as it reads the command line */
        struct spank_option *threads = spank.registered[1];
        assert_int_equal(threads->cb(threads->val, "50", 0), 0);
        last_error[0] = '\0';
        assert_int_equal(threads->cb(threads->val, "abc", 0), -1);
        assert_string_equal(last_error,
                            "mpsmig: --mps-threads 'abc': give a whole percentage from 1 to 100");
        struct spank_option *pinned = spank.registered[2];
        assert_int_equal(pinned->cb(pinned->val, "2", 1), -1);
        assert_string_equal(last_error,
                            "mpsmig: --mps-pinned-mem '2': the unit is missing: give 2G or 2048M");
        struct spank_option *instance = spank.registered[0];
        assert_int_equal(instance->cb(instance->val, "1g.10gb", 0), 0);
        assert_int_equal(instance->cb(instance->val, "", 0), -1);

        /* a full registry is refused with a message */
        struct spank_handle full = {.registered_count = 8};
        assert_int_equal(mpsmig_spank_options_register(&full), -1);
        assert_string_equal(last_error, "mpsmig: cannot register --mps-instance: a SPANK error");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_options),
            cmocka_unit_test(test_without_options),
            cmocka_unit_test(test_place_and_release),
            cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, setup_node, teardown_node);
}
