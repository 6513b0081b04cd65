/* `-d` and `-f`: the checks the real control program makes before it runs (pipe folder, log
 * folder, CUDA_VISIBLE_DEVICES, the control_lock, the socket path length), the injected faults,
 * then the files of a running daemon and, for -d, a forked session leader that tells its parent
 * when it answers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/base/cleanup.h"
#include "mps_control.h"
#include "mps_wire.h"

#define READY_GRACE_MS  10000  /* how long -d waits for its daemon beyond the start latency */
#define REAP_TIMEOUT_MS 2000   /* a failed daemon exits right after it reports */
#define LATENCY_MAX_MS  600000 /* bound on the simulated latencies */
#define CUDA_NO_DEVICE  100    /* cuInit's CUDA_ERROR_NO_DEVICE, the real -d's exit status */

static struct mps_daemon the_daemon;

static const char *env_or(const char *name, const char *fallback)
{
        const char *value = getenv(name);

        return value && *value ? value : fallback;
}

static unsigned env_milliseconds(const char *name, unsigned fallback)
{
        const char *value = getenv(name);
        char *end;
        unsigned long parsed;

        if (!value || !*value)
                return fallback;
        errno = 0;
        parsed = strtoul(value, &end, 10);
        if (errno || *end || value[0] == '-')
                return fallback;
        return parsed > LATENCY_MAX_MS ? LATENCY_MAX_MS : (unsigned)parsed;
}

/* A process id from the environment, 0 when unset or not a plain positive number. */
static pid_t env_pid(const char *name)
{
        const char *value = getenv(name);
        char *end;
        long parsed;

        if (!value || *value < '1' || *value > '9')
                return 0;
        errno = 0;
        parsed = strtol(value, &end, 10);
        return errno || *end || parsed > 0x7fffffffL ? 0 : (pid_t)parsed;
}

/* Whether a fault variable ("*" or a comma list of UUIDs) names one of the UUIDs in the
 * daemon's CUDA_VISIBLE_DEVICES. */
static bool fault_matches(const char *name)
{
        const char *value = getenv(name), *visible = getenv("CUDA_VISIBLE_DEVICES");
        char wanted[1024], seen[1024];

        if (!value || !*value)
                return false;
        if (strcmp(value, "*") == 0)
                return true;
        if (!visible || strlen(value) >= sizeof(wanted) || strlen(visible) >= sizeof(seen))
                return false;
        strcpy(wanted, value);
        for (char *save_w = NULL, *w = strtok_r(wanted, ", ", &save_w); w;
             w = strtok_r(NULL, ", ", &save_w)) {
                strcpy(seen, visible);
                for (char *save_s = NULL, *s = strtok_r(seen, ", ", &save_s); s;
                     s = strtok_r(NULL, ", ", &save_s))
                        if (strcmp(w, s) == 0)
                                return true;
        }
        return false;
}

static void add_gpu(struct mps_daemon *daemon, const struct sim_gpu *gpu)
{
        struct mps_device *device = &daemon->devices[daemon->device_count++];
        const char *pci = gpu->pci_bus_id, *colon = strchr(pci, ':');

        snprintf(device->uuid, sizeof(device->uuid), "%s", gpu->uuid);
        snprintf(device->name, sizeof(device->name), "%s", gpu->name);
        snprintf(device->pci_short, sizeof(device->pci_short), "%s", colon ? colon + 1 : pci);
        snprintf(device->pci_bus_id, sizeof(device->pci_bus_id), "%s", pci);
}

static void add_mig(struct mps_daemon *daemon, const struct sim_gpu *gpu,
                    const struct sim_mig_device *mig)
{
        struct mps_device *device;

        add_gpu(daemon, gpu);
        device = &daemon->devices[daemon->device_count - 1];
        snprintf(device->uuid, sizeof(device->uuid), "%s", mig->uuid);
        snprintf(device->name, sizeof(device->name), "%s MIG %s", gpu->name, mig->profile);
}

/* The devices CUDA would show this process, as cuInit reads CUDA_VISIBLE_DEVICES: items are
 * UUIDs or GPU indices, and the list stops at the first item that names nothing. */
static void find_visible_devices(struct mps_daemon *daemon, const struct sim_topology *topology)
{
        const char *visible = getenv("CUDA_VISIBLE_DEVICES");
        char items[4096];

        daemon->device_count = 0;
        if (!topology->driver_loaded)
                return;
        if (!visible) {
                for (size_t g = 0; g < topology->gpu_count; g++) {
                        const struct sim_gpu *gpu = &topology->gpus[g];
                        if (gpu->lost)
                                continue;
                        if (gpu->mig_current == 1) {
                                for (size_t m = 0; m < gpu->mig_device_count &&
                                                   daemon->device_count < MPS_MAX_DEVICES;
                                     m++)
                                        add_mig(daemon, gpu, &gpu->mig_devices[m]);
                        } else if (daemon->device_count < MPS_MAX_DEVICES) {
                                add_gpu(daemon, gpu);
                        }
                }
                return;
        }
        if (strlen(visible) >= sizeof(items))
                return;
        strcpy(items, visible);
        for (char *save = NULL, *item = strtok_r(items, ",", &save); item;
             item = strtok_r(NULL, ",", &save)) {
                const struct sim_gpu *gpu = NULL;
                const struct sim_mig_device *mig = NULL;
                char *end;

                while (*item == ' ')
                        item++;
                if (daemon->device_count == MPS_MAX_DEVICES)
                        return;
                if (item[0] >= '0' && item[0] <= '9') {
                        unsigned long index = strtoul(item, &end, 10);
                        if (*end || index >= topology->gpu_count)
                                return;
                        gpu = &topology->gpus[index];
                } else if (sim_topology_find_uuid(topology, item, &gpu, &mig) < 0) {
                        return;
                }
                if (gpu->lost)
                        return;
                if (mig)
                        add_mig(daemon, gpu, mig);
                else
                        add_gpu(daemon, gpu);
        }
}

/* Reads the environment and the topology; returns 0 or the exit status of a refused start. */
static int configure(struct mps_daemon *daemon, bool foreground, bool multiuser)
{
        struct sim_topology *topology = NULL;
        char error[512];
        const char *percentage, *pipe_dir, *log_dir;
        int r;

        daemon->foreground = foreground;
        daemon->multiuser = multiuser;
        daemon->pid = getpid();
        daemon->lock_fd = daemon->control_fd = daemon->privileged_fd = -1;
        daemon->fifo_fd = daemon->control_log_fd = daemon->server_log_fd = -1;
        daemon->watch_pidfd = -1;
        daemon->quit_deadline_ms = -1;
        daemon->defaults.thread_percentage = 100.0;
        pipe_dir = env_or("CUDA_MPS_PIPE_DIRECTORY", MPS_PIPE_DIR_DEFAULT);
        log_dir = env_or("CUDA_MPS_LOG_DIRECTORY", MPS_LOG_DIR_DEFAULT);
        if (strlen(pipe_dir) >= sizeof(daemon->pipe_dir) ||
            strlen(log_dir) >= sizeof(daemon->log_dir)) {
                fprintf(stderr, "Cannot access CUDA_MPS_PIPE_DIRECTORY=%s\n", pipe_dir);
                return 1;
        }
        strcpy(daemon->pipe_dir, pipe_dir);
        strcpy(daemon->log_dir, log_dir);

        r = sim_topology_load_env(&topology, error, sizeof(error));
        if (r < 0) {
                fprintf(stderr,
                        "nvidia-cuda-mps-control (simgpu): cannot load the topology "
                        "named by SIMGPU_TOPOLOGY: %s\n",
                        error);
                return 1;
        }
        daemon->binary_version = topology->cuda_driver_version > 0 ? topology->cuda_driver_version
                                                                   : MPS_BINARY_VERSION_DEFAULT;
        find_visible_devices(daemon, topology);
        sim_topology_free(topology);

        /* As on driver 580, the thread percentage in the daemon's own environment becomes the
         * default, and CUDA_MPS_PINNED_DEVICE_MEM_LIMIT there is not applied. */
        percentage = getenv("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE");
        if (percentage)
                (void)mps_parse_percentage(percentage, &daemon->defaults.thread_percentage);

        daemon->faults.fail_start = fault_matches("SIMGPU_MPS_FAIL_START");
        daemon->faults.hang_on_quit = fault_matches("SIMGPU_MPS_HANG_ON_QUIT");
        daemon->faults.ignore_term = fault_matches("SIMGPU_MPS_IGNORE_TERM");
        daemon->faults.no_answer = fault_matches("SIMGPU_MPS_NO_ANSWER");
        daemon->faults.ignore_defaults = fault_matches("SIMGPU_MPS_IGNORE_DEFAULTS");
        daemon->faults.slow_start_ms = env_milliseconds("SIMGPU_MPS_SLOW_START_MS", 0);
        daemon->start_latency_ms =
            env_milliseconds("SIMGPU_MPS_START_LATENCY_MS", MPS_START_LATENCY_MS);
        daemon->server_start_ms =
            env_milliseconds("SIMGPU_MPS_SERVER_START_MS", MPS_SERVER_START_MS);
        daemon->watch_pid = env_pid("SIMGPU_MPS_EXIT_WITH_PID");
        return 0;
}

static bool is_directory(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Driver 580 made a missing pipe folder whose parent existed and started there, four times
 * (docs/hardware/2026-11-25/mps_control_unknowns*.txt, mps-control-client*.txt), mode 0777 under
 * umask 022; docs/driver-facts-mps-control.md read "Cannot access" for a missing one. One mkdir, no
 * parents, reconciles both: it fails where the parent is missing too, and that refusal keeps the
 * first readings' form (stderr, the log warning) where the third reading printed it on stdout and
 * made the log folder (docs/driver-facts.md lists the difference). */
static bool make_pipe_directory(const char *path)
{
        if (is_directory(path))
                return true;
        return mkdir(path, 0777) == 0 && chmod(path, 0777) == 0;
}

/* Takes control_lock. A daemon killed with SIGKILL leaves the file but not the lock, so a
 * stale folder starts normally. Returns 0, or 1 with the real message when one runs. */
static int take_lock(struct mps_daemon *daemon)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", daemon->pipe_dir, MPS_LOCK_FILE);
        daemon->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (daemon->lock_fd < 0) {
                fprintf(stderr, "Cannot access CUDA_MPS_PIPE_DIRECTORY=%s\n", daemon->pipe_dir);
                return 1;
        }
        (void)fchmod(daemon->lock_fd, 0666);
        if (flock(daemon->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        fputs("An instance of this daemon is already running\n", stdout);
                else
                        fprintf(stderr, "Cannot lock %s: %s\n", path, strerror(errno));
                return 1;
        }
        return 0;
}

static void sleep_ms(unsigned milliseconds)
{
        struct timespec until;

        (void)clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += milliseconds / 1000;
        until.tv_nsec += (long)(milliseconds % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
                ;
}

static int listen_on(const char *dir, const char *name, mode_t mode)
{
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int fd;

        snprintf(address.sun_path, sizeof(address.sun_path), "%s/%s", dir, name);
        (void)unlink(address.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (const struct sockaddr *)&address, sizeof(address)) < 0 ||
            chmod(address.sun_path, mode) < 0 || listen(fd, 64) < 0) {
                int saved = errno;
                (void)close(fd);
                return -saved;
        }
        return fd;
}

static int write_pid_file(struct mps_daemon *daemon)
{
        char path[PATH_MAX], text[32];
        _cleanup_close_ int fd = -1;
        int length;

        snprintf(path, sizeof(path), "%s/%s", daemon->pipe_dir, MPS_PID_FILE);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0)
                return -errno;
        /* Driver 580: the digits alone, no newline, mode -rw-rw-rw- (mps_control_unknowns.txt). */
        (void)fchmod(fd, 0666);
        length = snprintf(text, sizeof(text), "%d", (int)daemon->pid);
        if (write(fd, text, (size_t)length) != length)
                return -EIO;
        daemon->pid_file_written = true;
        return 0;
}

/* From the start lines to a daemon that answers. Returns 0 or the exit status for -d. */
static int start(struct mps_daemon *daemon)
{
        char path[PATH_MAX];
        size_t longest = strlen(daemon->pipe_dir) + 1 + strlen(MPS_PRIVILEGED_SOCKET);

        mps_log(daemon, "Starting control daemon using socket %s/%s", daemon->pipe_dir,
                MPS_WIRE_SOCKET_NAME);
        mps_log(daemon,
                "To connect CUDA applications to this daemon, set env "
                "CUDA_MPS_PIPE_DIRECTORY=%s",
                daemon->pipe_dir);
        /* The real daemon logs the two lines above, then fails to bind past sun_path. */
        if (longest >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
                return 1;
        mps_log(daemon, "CUDA MPS Control binary version: %d", daemon->binary_version);

        sleep_ms(daemon->start_latency_ms + daemon->faults.slow_start_ms);

        daemon->control_fd = listen_on(daemon->pipe_dir, MPS_WIRE_SOCKET_NAME, 0666);
        daemon->privileged_fd = listen_on(daemon->pipe_dir, MPS_PRIVILEGED_SOCKET, 0755);
        if (daemon->control_fd < 0 || daemon->privileged_fd < 0)
                return 1;
        snprintf(path, sizeof(path), "%s/%s", daemon->pipe_dir, MPS_LOG_FIFO);
        (void)unlink(path);
        /* prwxrwxrwx on driver 580 (mps_control_unknowns.txt), whatever the umask */
        if (mkfifo(path, 0777) < 0 || chmod(path, 0777) < 0)
                return 1;
        daemon->fifo_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (daemon->fifo_fd < 0 || write_pid_file(daemon) < 0)
                return 1;
        return 0;
}

/* Undoes what a failed start made, keeping what the real daemon keeps (lock, sockets). */
static void close_all(struct mps_daemon *daemon)
{
        closep(&daemon->control_fd);
        closep(&daemon->privileged_fd);
        closep(&daemon->fifo_fd);
        closep(&daemon->control_log_fd);
        closep(&daemon->server_log_fd);
        closep(&daemon->lock_fd);
        closep(&daemon->watch_pidfd);
        daemon->watch_pidfd = -1;
        daemon->control_fd = daemon->privileged_fd = daemon->fifo_fd = -1;
        daemon->control_log_fd = daemon->server_log_fd = daemon->lock_fd = -1;
}

static void set_signals(const struct mps_daemon *daemon)
{
        (void)signal(SIGPIPE, SIG_IGN);
        if (daemon->faults.ignore_term)
                (void)signal(SIGTERM, SIG_IGN);
}

/* A daemon that failed to start exits right after it reports; reap it, bounded. */
static void reap_failed_child(pid_t child)
{
        struct pollfd pfd = {.fd = pidfd_open(child, 0), .events = POLLIN};

        if (pfd.fd >= 0) {
                while (poll(&pfd, 1, REAP_TIMEOUT_MS) < 0 && errno == EINTR)
                        ;
                (void)close(pfd.fd);
        }
        if (waitpid(child, NULL, WNOHANG) == 0) {
                (void)kill(child, SIGKILL);
                (void)waitpid(child, NULL, 0);
        }
}

/* The -d parent: waits for the daemon's one status byte, bounded, and returns it. */
static int wait_ready(struct mps_daemon *daemon, int ready_fd, pid_t child)
{
        int64_t deadline =
            mps_now_ms() + daemon->start_latency_ms + daemon->faults.slow_start_ms + READY_GRACE_MS;
        struct pollfd pfd = {.fd = ready_fd, .events = POLLIN};
        unsigned char status = 1;

        for (;;) {
                int64_t left = deadline - mps_now_ms();
                if (left <= 0) {
                        fputs("nvidia-cuda-mps-control (simgpu): the daemon did not start in "
                              "time\n",
                              stderr);
                        return 1;
                }
                int n = poll(&pfd, 1, (int)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        continue;
                ssize_t got = read(ready_fd, &status, 1);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got != 1)
                        status = 1; /* it died before it could say */
                break;
        }
        if (status != 0)
                reap_failed_child(child);
        return status;
}

static void report(int ready_fd, int status)
{
        unsigned char byte = (unsigned char)status;

        if (ready_fd < 0)
                return;
        while (write(ready_fd, &byte, 1) < 0 && errno == EINTR)
                ;
        (void)close(ready_fd);
}

/* Closes every inherited fd from 3 up except those in `keep` (ascending), so that the daemon
 * holds only its own files, whatever its caller left open without CLOEXEC. */
static void close_inherited_fds(const int *keep, size_t count)
{
        unsigned from = 3;

        for (size_t i = 0; i < count; i++) {
                if (keep[i] < 0 || (unsigned)keep[i] < from)
                        continue;
                if ((unsigned)keep[i] > from)
                        (void)close_range(from, (unsigned)keep[i] - 1, 0);
                from = (unsigned)keep[i] + 1;
        }
        (void)close_range(from, ~0U, 0);
}

static int compare_fds(const void *a, const void *b)
{
        return *(const int *)a - *(const int *)b;
}

static void become_daemon(const struct mps_daemon *daemon, int ready_fd)
{
        int keep[] = {daemon->lock_fd, daemon->control_log_fd, daemon->server_log_fd, ready_fd};
        int null_fd;

        qsort(keep, ELEMENTSOF(keep), sizeof(keep[0]), compare_fds);
        close_inherited_fds(keep, ELEMENTSOF(keep));

        (void)setsid();
        if (chdir("/") < 0)
                return;
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                return;
        (void)dup2(null_fd, STDIN_FILENO);
        (void)dup2(null_fd, STDOUT_FILENO);
        (void)dup2(null_fd, STDERR_FILENO);
        if (null_fd > STDERR_FILENO)
                (void)close(null_fd);
}

static int run_daemon(struct mps_daemon *daemon, int ready_fd)
{
        int status;

        daemon->pid = getpid();
        set_signals(daemon);
        /* A test's safety net (docs/simgpu-mps.md): opened here, after -d's fork and its closing
         * of inherited fds. A process already gone cannot be watched; the daemon runs on. */
        if (daemon->watch_pid > 0)
                daemon->watch_pidfd = pidfd_open(daemon->watch_pid, 0); /* CLOEXEC already */
        status = start(daemon);
        report(ready_fd, status);
        if (status != 0) {
                close_all(daemon);
                return status;
        }
        status = mps_daemon_loop(daemon);
        close_all(daemon);
        return status;
}

int mps_daemon_main(bool foreground, bool multiuser, char **argv)
{
        struct mps_daemon *daemon = &the_daemon;
        int ready[2], null_fd;
        pid_t child;
        int r;

        /* With 0-2 closed by the caller, the lock could land on fd 0 and be lost to /dev/null. */
        while ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && null_fd <= STDERR_FILENO)
                (void)fcntl(null_fd, F_SETFD, 0);
        if (null_fd > STDERR_FILENO)
                (void)close(null_fd);
        daemon->argv = argv;
        r = configure(daemon, foreground, multiuser);
        if (r != 0)
                return r;
        if (!make_pipe_directory(daemon->pipe_dir)) {
                fprintf(stderr, "Cannot access CUDA_MPS_PIPE_DIRECTORY=%s\n", daemon->pipe_dir);
                if (!is_directory(daemon->log_dir))
                        mps_log_warn_unavailable(daemon);
                return 1;
        }
        if (daemon->device_count == 0)
                return CUDA_NO_DEVICE;
        if (daemon->faults.fail_start) {
                fprintf(stderr,
                        "nvidia-cuda-mps-control (simgpu): start failed as "
                        "SIMGPU_MPS_FAIL_START asks (CUDA_VISIBLE_DEVICES=%s)\n",
                        env_or("CUDA_VISIBLE_DEVICES", ""));
                return 1;
        }
        r = take_lock(daemon);
        if (r != 0) {
                close_all(daemon);
                return r;
        }
        mps_log_open(daemon);

        if (foreground)
                return run_daemon(daemon, -1);

        if (pipe2(ready, O_CLOEXEC) < 0) {
                close_all(daemon);
                return 1;
        }
        (void)fflush(NULL);
        child = fork();
        if (child < 0) {
                close_all(daemon);
                return 1;
        }
        if (child == 0) {
                (void)close(ready[0]);
                become_daemon(daemon, ready[1]);
                return run_daemon(daemon, ready[1]);
        }
        (void)close(ready[1]);
        r = wait_ready(daemon, ready[0], child);
        (void)close(ready[0]);
        close_all(daemon);
        return r;
}
