/* Drives nvidia-cuda-mps-control: finds it, runs it with an explicit environment for one device and
 * pipe folder, starts daemons with `-d` and sends commands on stdin in client mode, turning answers
 * into values through mps_answer. See mps_control.h and docs/mps-control-client.md. */
#define _GNU_SOURCE
#include "driver/mps_control.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/flock_wait.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Variables copied from our environment to every control-program child when set there. */
static const char *const passed_variables[] = {"PATH", "LD_LIBRARY_PATH", "HOME", "LANG"};
static const char *const passed_prefixes[] = {"SIMGPU_", "ASAN_", "UBSAN_", "LSAN_"};

static bool is_executable_file(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
               faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

int mps_control_find(char **ret_program, struct error *err)
{
        const char *override = getenv(MPS_CONTROL_ENV_OVERRIDE);
        if (override && override[0]) {
                if (override[0] != '/')
                        return error_set(err, -EINVAL,
                                         "%s=%s is not an absolute path: give the full path of "
                                         "%s",
                                         MPS_CONTROL_ENV_OVERRIDE, override, MPS_CONTROL_PROGRAM);
                if (!is_executable_file(override))
                        return error_set(err, -EACCES,
                                         "%s=%s is not an executable file: give the full path "
                                         "of %s",
                                         MPS_CONTROL_ENV_OVERRIDE, override, MPS_CONTROL_PROGRAM);
                char *copy = strdup(override);
                if (!copy)
                        return error_set(err, -ENOMEM, "out of memory");
                *ret_program = copy;
                return 0;
        }

        const char *path = getenv("PATH");
        if (!path || !path[0])
                path = DEFAULT_PATH;
        for (const char *p = path; *p;) {
                size_t len = strcspn(p, ":");
                /* Relative entries (and the empty one, meaning ".") would run whatever the
                 * current folder holds under the driver's name: skipped, as openssh does. */
                if (len > 0 && p[0] == '/') {
                        _cleanup_free_ char *candidate = NULL;
                        if (asprintf(&candidate, "%.*s/%s", (int)len, p, MPS_CONTROL_PROGRAM) < 0)
                                return error_set(err, -ENOMEM, "out of memory");
                        if (is_executable_file(candidate)) {
                                *ret_program = TAKE_PTR(candidate);
                                return 0;
                        }
                }
                p += len;
                if (*p == ':')
                        p++;
        }
        return error_set(err, -ENOENT,
                         "cannot find %s in the absolute folders of PATH: install the NVIDIA "
                         "driver's MPS tools or set %s to its absolute path",
                         MPS_CONTROL_PROGRAM, MPS_CONTROL_ENV_OVERRIDE);
}

int mps_control_environment(const struct mps_endpoint *ep, struct env_builder *b)
{
        int r = 0;
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(passed_variables); i++)
                r = env_builder_pass(b, passed_variables[i]);
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(passed_prefixes); i++)
                r = env_builder_pass_prefix(b, passed_prefixes[i]);
        if (r == 0 && ep->device_uuid)
                r = env_builder_set(b, "CUDA_VISIBLE_DEVICES", ep->device_uuid);
        if (r == 0 && ep->pipe_dir)
                r = env_builder_set(b, "CUDA_MPS_PIPE_DIRECTORY", ep->pipe_dir);
        if (r == 0 && ep->log_dir)
                r = env_builder_set(b, "CUDA_MPS_LOG_DIRECTORY", ep->log_dir);
        if (r == 0 && !env_builder_array(b))
                r = -ENOMEM;
        return r;
}

static int endpoint_timeout(const struct mps_endpoint *ep)
{
        return ep->timeout_ms > 0 ? ep->timeout_ms : MPS_CONTROL_TIMEOUT_MS_DEFAULT;
}

static int check_endpoint(const struct mps_endpoint *ep, struct error *err)
{
        if (!ep || !ep->program || ep->program[0] != '/' || !ep->pipe_dir || !ep->pipe_dir[0])
                return error_set(err, -EINVAL,
                                 "the MPS control program needs an absolute program path and a "
                                 "pipe folder");
        return 0;
}

/* The argv and environment of one run of the control program, with `arguments` (NULL-terminated;
 * NULL: none). */
struct invocation {
        struct env_builder env;
        char *argv[4];
};

static int invocation_init(const struct mps_endpoint *ep, const char *const *arguments,
                           struct invocation *inv, struct error *err)
{
        *inv = (struct invocation){.env = ENV_BUILDER_INIT, .argv = {(char *)ep->program, NULL}};
        for (size_t i = 0; arguments && arguments[i] && i + 2 < ELEMENTSOF(inv->argv); i++)
                inv->argv[i + 1] = (char *)arguments[i];
        int r = mps_control_environment(ep, &inv->env);
        if (r == 0 && !env_builder_array(&inv->env))
                r = -ENOMEM;
        if (r < 0) {
                env_builder_done(&inv->env);
                return error_set(err, r, "cannot build the MPS control program's environment: %s",
                                 strerror(-r));
        }
        return 0;
}

/* Runs the control program with `arguments` (NULL-terminated; NULL: none) and `input` on stdin,
 * as `credentials`' user when given. Leaves timeouts and signals to the caller: 0 whenever it
 * ran. */
static int invoke(const struct mps_endpoint *ep, const char *const *arguments,
                  const struct spawn_credentials *credentials, const char *input, int timeout_ms,
                  struct spawn_result *ret_result, struct error *err)
{
        int r = check_endpoint(ep, err);
        if (r < 0)
                return r;
        struct invocation inv;
        r = invocation_init(ep, arguments, &inv, err);
        if (r < 0)
                return r;
        struct spawn_options options = {
            .path = ep->program,
            .argv = inv.argv,
            .envp = env_builder_array(&inv.env),
            .stdin_data = input,
            .stdin_size = input ? strlen(input) : 0,
            .timeout_ms = timeout_ms,
            .credentials = credentials,
        };
        r = spawn_run(&options, ret_result, err);
        env_builder_done(&inv.env);
        return r;
}

static bool mentions(const char *text, size_t size, const char *needle)
{
        return memmem(text, size, needle, strlen(needle)) != NULL;
}

/* The first line of what the program said, stderr first, for a message. */
static const char *first_words(const struct spawn_result *res, char *buf, size_t size)
{
        const char *text = res->err_size ? res->err : res->out;
        size_t len = strcspn(text, "\n");
        if (len > 120)
                len = 120;
        (void)snprintf(buf, size, "%.*s", (int)len, text);
        return buf;
}

int mps_control_start(const struct mps_endpoint *ep, struct error *err)
{
        int r = check_endpoint(ep, err);
        if (r < 0)
                return r;
        if (strlen(ep->pipe_dir) > MPS_CONTROL_PIPE_DIR_MAX)
                return error_set(err, -ENAMETOOLONG,
                                 "the MPS pipe folder %s is longer than %d characters: its "
                                 "sockets would not fit a unix socket address",
                                 ep->pipe_dir, MPS_CONTROL_PIPE_DIR_MAX);
        int timeout = endpoint_timeout(ep);
        struct spawn_result res = {0};
        static const char *const daemon[] = {"-d", NULL}, *const shared[] = {"-d", "-M", NULL};
        r = invoke(ep, ep->multiuser ? shared : daemon, ep->daemon_credentials, NULL, timeout, &res,
                   err);
        if (r < 0)
                return error_prefix(err, "cannot start an MPS control daemon on %s", ep->pipe_dir);
        char how[160];
        if (res.timed_out || !res.exited)
                r = error_set(err, res.timed_out ? -ETIMEDOUT : -EIO,
                              "cannot start an MPS control daemon on %s: %s -d %s", ep->pipe_dir,
                              ep->program, spawn_result_describe(&res, timeout, how, sizeof(how)));
        else if (res.exit_status != 0)
                r = mps_answer_start_failure(res.exit_status, res.out, res.out_size, res.err,
                                             res.err_size, ep->device_uuid, ep->pipe_dir, err);
        spawn_result_done(&res);
        return r;
}

/* Whether the daemon turned this client away because it was serving another one. */
static bool refused_busy(const struct spawn_result *res)
{
        return res->exited && res->exit_status != 0 &&
               (mentions(res->err, res->err_size, MPS_TEXT_BUSY) ||
                mentions(res->out, res->out_size, MPS_TEXT_BUSY));
}

/* The daemon's turn: an flock on its pipe folder, which every mpsmig of every user takes around
 * each control client it runs, so that they queue instead of being turned away. A folder opened
 * for reading can be locked without write access to it. The lock only orders the polite: a
 * holder that never lets go (another user, or a queue stuck behind a hung daemon) costs at most
 * the turn's wait, after which the client runs without its turn and the retry below absorbs the
 * refusals. -1 when the folder cannot be opened (the program then says what is wrong with it) or
 * the turn did not come. */
static int take_turn(const char *pipe_dir, long long deadline_ms)
{
        _cleanup_close_ int fd = open(pipe_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || flock_wait(fd, LOCK_EX, deadline_ms) < 0)
                return -1;
        return TAKE_FD(fd);
}

/* A pause of about `base_ms`, spread over [base/2, base] so that clients turned away together
 * do not come back together. */
static void pause_ms(unsigned base_ms, long long deadline_ms)
{
        struct timespec now;
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        unsigned spread = base_ms / 2 + 1;
        long long ms = base_ms - spread + 1 + (unsigned)(now.tv_nsec ^ getpid()) % spread;
        long long left = deadline_ms - monotonic_now_ms();
        if (ms > left)
                ms = left;
        if (ms <= 0)
                return;
        struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
        (void)nanosleep(&pause, NULL);
}

/* Runs commands in client mode in the daemon's turn, again after a pause while the daemon says
 * it is busy, all within timeout_ms; 0 with the result when the program exited by itself
 * (whatever its status) and did not say that no daemon runs. */
static int busy_error(const struct mps_endpoint *ep, int timeout_ms, int attempts, bool had_turn,
                      struct error *err)
{
        return error_set(err, -EBUSY,
                         "the MPS control daemon on %s was busy with other control clients for %d "
                         "ms (%d attempts%s; it serves one at a time)",
                         ep->pipe_dir, timeout_ms, attempts,
                         had_turn ? "" : ", without a turn: others held it");
}

static int query(const struct mps_endpoint *ep, const char *commands, int timeout_ms,
                 struct spawn_result *ret_result, struct error *err)
{
        int turn_wait = ep->turn_wait_ms > 0 ? ep->turn_wait_ms : MPS_CONTROL_TURN_WAIT_MS_DEFAULT;
        _cleanup_close_ int turn = take_turn(ep->pipe_dir, monotonic_now_ms() + turn_wait);
        long long deadline = monotonic_now_ms() + timeout_ms;
        struct spawn_result res = {0};
        unsigned backoff_ms = MPS_CONTROL_BUSY_PAUSE_MIN_MS;
        int attempts = 0, r;
        for (;;) {
                long long left = deadline - monotonic_now_ms();
                if (left <= 0)
                        return busy_error(ep, timeout_ms, attempts, turn >= 0, err);
                attempts++;
                r = invoke(ep, NULL, NULL, commands, (int)left, &res, err);
                if (r < 0)
                        return error_prefix(err, "cannot ask the MPS control daemon on %s",
                                            ep->pipe_dir);
                if (!refused_busy(&res))
                        break;
                spawn_result_done(&res);
                pause_ms(backoff_ms, deadline);
                if (backoff_ms < MPS_CONTROL_BUSY_PAUSE_MAX_MS)
                        backoff_ms *= 2;
        }
        /* Turned away until the deadline cut the last try short: busy, not hung. */
        if (res.timed_out && attempts > 1)
                r = busy_error(ep, timeout_ms, attempts, turn >= 0, err);
        else
                r = mps_control_query_outcome(ep, &res, timeout_ms, err);
        if (r < 0) {
                spawn_result_done(&res);
                return r;
        }
        *ret_result = res;
        return 0;
}

int mps_control_query_outcome(const struct mps_endpoint *ep, const struct spawn_result *res,
                              int timeout_ms, struct error *err)
{
        char how[160];
        if (refused_busy(res))
                return error_set(err, -EBUSY,
                                 "the MPS control daemon on %s is busy with another control "
                                 "client (it serves one at a time)",
                                 ep->pipe_dir);
        if (res->timed_out || !res->exited)
                return error_set(err, res->timed_out ? -ETIMEDOUT : -EIO,
                                 "cannot ask the MPS control daemon on %s: %s %s", ep->pipe_dir,
                                 ep->program,
                                 spawn_result_describe(res, timeout_ms, how, sizeof(how)));
        if (mentions(res->out, res->out_size, MPS_TEXT_NO_DAEMON) ||
            mentions(res->err, res->err_size, MPS_TEXT_NO_DAEMON))
                return error_set(err, MPS_ANSWER_NO_DAEMON, "no MPS control daemon runs on %s",
                                 ep->pipe_dir);
        return 0;
}

int mps_control_query_start(const struct mps_endpoint *ep, const char *commands, int timeout_ms,
                            struct spawn_child *ret_child, struct error *err)
{
        int r = check_endpoint(ep, err);
        if (r < 0)
                return r;
        struct invocation inv;
        r = invocation_init(ep, NULL, &inv, err);
        if (r < 0)
                return r;
        struct spawn_options options = {
            .path = ep->program,
            .argv = inv.argv,
            .envp = env_builder_array(&inv.env),
            .stdin_data = commands,
            .stdin_size = strlen(commands),
            .timeout_ms = timeout_ms > 0 ? timeout_ms : endpoint_timeout(ep),
        };
        r = spawn_start(&options, ret_child, err);
        env_builder_done(&inv.env);
        if (r < 0)
                return error_prefix(err, "cannot ask the MPS control daemon on %s", ep->pipe_dir);
        return 0;
}

int mps_control_foreground_start(const struct mps_endpoint *ep, struct spawn_child *ret_child,
                                 struct error *err)
{
        int r = check_endpoint(ep, err);
        if (r < 0)
                return r;
        if (strlen(ep->pipe_dir) > MPS_CONTROL_PIPE_DIR_MAX)
                return error_set(err, -ENAMETOOLONG,
                                 "the MPS pipe folder %s is longer than %d characters: its "
                                 "sockets would not fit a unix socket address",
                                 ep->pipe_dir, MPS_CONTROL_PIPE_DIR_MAX);
        static const char *const alone[] = {"-f", NULL}, *const shared[] = {"-f", "-M", NULL};
        struct invocation inv;
        r = invocation_init(ep, ep->multiuser ? shared : alone, &inv, err);
        if (r < 0)
                return r;
        struct spawn_options options = {
            .path = ep->program,
            .argv = inv.argv,
            .envp = env_builder_array(&inv.env),
            .output_max = MPS_CONTROL_FOREGROUND_OUTPUT_MAX,
            .own_process_group = true,
            .credentials = ep->daemon_credentials,
        };
        r = spawn_start(&options, ret_child, err);
        env_builder_done(&inv.env);
        if (r < 0)
                return error_prefix(err, "cannot start an MPS control daemon on %s", ep->pipe_dir);
        return 0;
}

int mps_control_run(const struct mps_endpoint *ep, const char *commands, int timeout_ms,
                    char **ret_output, size_t *ret_size, int *ret_status, struct error *err)
{
        int r = check_endpoint(ep, err);
        if (r < 0)
                return r;
        struct spawn_result res;
        r = query(ep, commands, timeout_ms > 0 ? timeout_ms : endpoint_timeout(ep), &res, err);
        if (r < 0)
                return r;
        *ret_output = TAKE_PTR(res.out);
        *ret_size = res.out_size;
        *ret_status = res.exit_status;
        spawn_result_done(&res);
        return 0;
}

/* query() for the typed wrappers: a non-zero exit status is an error too. */
static int query_ok(const struct mps_endpoint *ep, const char *commands, int extra_ms,
                    const char *what, struct spawn_result *ret_result, struct error *err)
{
        int r = check_endpoint(ep, err);
        if (r < 0)
                return r;
        struct spawn_result res;
        r = query(ep, commands, endpoint_timeout(ep) + extra_ms, &res, err);
        if (r < 0)
                return r;
        if (res.exit_status != 0) {
                char words[160];
                r = error_set(err, -EIO,
                              "the MPS control program exited with status %d on '%s' for %s: "
                              "\"%s\"",
                              res.exit_status, what, ep->pipe_dir,
                              first_words(&res, words, sizeof(words)));
                spawn_result_done(&res);
                return r;
        }
        *ret_result = res;
        return 0;
}

/* Parser errors get the daemon's pipe folder in front. */
static int on_daemon(const struct mps_endpoint *ep, int r, struct error *err)
{
        if (r < 0)
                (void)error_prefix(err, "MPS control daemon on %s", ep->pipe_dir);
        return r;
}

int mps_control_overview(const struct mps_endpoint *ep, struct mps_overview *ret_overview,
                         struct error *err)
{
        struct spawn_result res;
        int r =
            query_ok(ep, MPS_OVERVIEW_COMMANDS, 0, "get_server_list, ps, get_default_*", &res, err);
        if (r < 0)
                return r;
        r = on_daemon(ep, mps_answer_overview(res.out, res.out_size, ret_overview, err), err);
        spawn_result_done(&res);
        return r;
}

int mps_control_client_list(const struct mps_endpoint *ep, pid_t server, pid_t **ret_pids,
                            size_t *ret_count, struct error *err)
{
        if (server <= 0)
                return error_set(err, -EINVAL, "invalid MPS server pid %d", (int)server);
        char command[64];
        (void)snprintf(command, sizeof(command), "get_client_list %d\n", (int)server);
        struct spawn_result res;
        int r = query_ok(ep, command, 0, "get_client_list", &res, err);
        if (r < 0)
                return r;
        r = on_daemon(
            ep,
            mps_answer_pid_list("get_client_list", res.out, res.out_size, ret_pids, ret_count, err),
            err);
        spawn_result_done(&res);
        return r;
}

int mps_control_device_query(const struct mps_endpoint *ep, char *buffer, size_t buffer_size,
                             struct error *err)
{
        struct spawn_result res;
        int r = query_ok(ep, "device_query\n", 0, "device_query", &res, err);
        if (r < 0)
                return r;
        r = on_daemon(ep, mps_answer_device_query(res.out, res.out_size, buffer, buffer_size, err),
                      err);
        spawn_result_done(&res);
        return r;
}

int mps_control_server_status(const struct mps_endpoint *ep, pid_t server,
                              enum mps_server_status *ret_status, struct error *err)
{
        if (server <= 0)
                return error_set(err, -EINVAL, "invalid MPS server pid %d", (int)server);
        char command[64];
        (void)snprintf(command, sizeof(command), "get_server_status %d\n", (int)server);
        struct spawn_result res;
        int r = query_ok(ep, command, 0, "get_server_status", &res, err);
        if (r < 0)
                return r;
        r = on_daemon(ep, mps_answer_server_status(res.out, res.out_size, ret_status, err), err);
        spawn_result_done(&res);
        return r;
}

/* Runs one command that answers nothing when it works. */
static int command_without_answer(const struct mps_endpoint *ep, const char *command,
                                  const char *name, int extra_ms, struct error *err)
{
        struct spawn_result res;
        int r = query_ok(ep, command, extra_ms, name, &res, err);
        if (r < 0)
                return r;
        r = on_daemon(ep, mps_answer_empty(name, res.out, res.out_size, err), err);
        spawn_result_done(&res);
        return r;
}

int mps_control_quit(const struct mps_endpoint *ep, unsigned timeout_seconds, struct error *err)
{
        if (timeout_seconds > 3600)
                return error_set(err, -EINVAL, "quit -t %u: at most 3600 seconds", timeout_seconds);
        char command[32] = "quit\n";
        if (timeout_seconds > 0)
                (void)snprintf(command, sizeof(command), "quit -t %u\n", timeout_seconds);
        return command_without_answer(ep, command, "quit", (int)timeout_seconds * 1000, err);
}

int mps_control_shutdown_server(const struct mps_endpoint *ep, pid_t server, struct error *err)
{
        if (server <= 0)
                return error_set(err, -EINVAL, "invalid MPS server pid %d", (int)server);
        char command[64];
        (void)snprintf(command, sizeof(command), "shutdown_server %d\n", (int)server);
        return command_without_answer(ep, command, "shutdown_server", 0, err);
}

int mps_defaults_commands(const struct mps_defaults *want, char *commands, size_t size,
                          struct error *err)
{
        const unsigned long long mib = 1ULL << 20;
        if (want->thread_percentage > 100)
                return error_set(err, -EINVAL,
                                 "active thread percentage %u is out of range: give 1 to 100",
                                 want->thread_percentage);
        if (want->pinned_bytes % mib != 0)
                return error_set(err, -EINVAL,
                                 "pinned memory limit of %llu bytes: give a whole number of MiB "
                                 "above 0",
                                 want->pinned_bytes);
        if (want->client_priority < -1 || want->client_priority > 1)
                return error_set(err, -EINVAL,
                                 "client priority %d is out of range: give 0 (normal) or 1 "
                                 "(below normal)",
                                 want->client_priority);
        char thread[64] = "", pinned[96] = "", priority[64] = "";
        if (want->thread_percentage > 0)
                (void)snprintf(thread, sizeof(thread), "set_default_active_thread_percentage %u\n",
                               want->thread_percentage);
        if (want->pinned_bytes > 0) {
                char value[32];
                mps_pinned_limit_format(want->pinned_bytes, value, sizeof(value));
                (void)snprintf(pinned, sizeof(pinned), "set_default_device_pinned_mem_limit 0 %s\n",
                               value);
        }
        if (want->client_priority >= 0)
                (void)snprintf(priority, sizeof(priority), "set_default_client_priority %d\n",
                               want->client_priority);
        int n =
            snprintf(commands, size, "%s%s%s%s", thread, pinned, priority, MPS_DEFAULTS_COMMANDS);
        if (n < 0 || (size_t)n >= size)
                return error_set(err, -ENAMETOOLONG, "the set_default_* commands do not fit");
        return 0;
}

int mps_control_set_defaults(const struct mps_endpoint *ep, const struct mps_defaults *want,
                             struct mps_defaults_answer *ret_read, struct error *err)
{
        char commands[512];
        int r = mps_defaults_commands(want, commands, sizeof(commands), err);
        if (r < 0)
                return r;
        struct spawn_result res;
        r = query_ok(ep, commands, 0, "set_default_*", &res, err);
        if (r < 0)
                return r;
        r = on_daemon(
            ep,
            mps_answer_defaults(res.out, res.out_size, want->thread_percentage > 0, ret_read, err),
            err);
        spawn_result_done(&res);
        return r;
}

int mps_control_start_server(const struct mps_endpoint *ep, unsigned uid, struct error *err)
{
        if (uid == (unsigned)-1)
                return error_set(err, -EINVAL, "invalid user id %u for start_server", uid);
        char command[64];
        (void)snprintf(command, sizeof(command), "start_server -uid %u\n", uid);
        return command_without_answer(ep, command, "start_server", 0, err);
}

int mps_control_ps(const struct mps_endpoint *ep, struct mps_ps *ret_ps, struct error *err)
{
        struct spawn_result res;
        int r = query_ok(ep, "ps\n", 0, "ps", &res, err);
        if (r < 0)
                return r;
        r = on_daemon(ep, mps_answer_ps(res.out, res.out_size, ret_ps, err), err);
        spawn_result_done(&res);
        return r;
}

/* A device key goes into a command line: nothing but letters, digits and '-' may pass. */
static bool is_device_key(const char *device)
{
        if (!device || !device[0] || strlen(device) > 96)
                return false;
        for (const char *p = device; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z') || *p == '-'))
                        return false;
        return true;
}

int mps_control_pinned_limit(const struct mps_endpoint *ep, const char *device,
                             struct mps_pinned_limit *ret_limit, struct error *err)
{
        static const char name[] = "get_default_device_pinned_mem_limit";
        if (!is_device_key(device))
                return error_set(err, -EINVAL, "invalid device key \"%s\" for %s",
                                 device ? device : "", name);
        char command[160];
        (void)snprintf(command, sizeof(command), "%s %s\n", name, device);
        struct spawn_result res;
        int r = query_ok(ep, command, 0, name, &res, err);
        if (r < 0)
                return r;
        r = on_daemon(ep, mps_answer_pinned_limit(name, res.out, res.out_size, ret_limit, err),
                      err);
        spawn_result_done(&res);
        return r;
}
