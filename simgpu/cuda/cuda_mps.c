/* The MPS client side of simgpu's libcuda: at cuInit, find a live simulated control daemon behind
 * CUDA_MPS_PIPE_DIRECTORY, attach with the client's own limits (mps_wire.h), keep the connection
 * open for the life of the process, and apply the effective limits to the devices. */
#include "cuda_sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mps_wire.h"

#define MPS_DEFAULT_PIPE_DIRECTORY "/tmp/nvidia-mps"

/* How long cuInit waits for the daemon's answer. A client can sit on the daemon's pending list
 * while another user's server drains; past this it gives up as a failed connection. */
#define MPS_ATTACH_TIMEOUT_S 60

/* The fewest SMs an MPS client got on the H100 (8 at 1 %) and that GPU's SM count. */
#define CU_MPS_FLOOR_SMS    8u
#define CU_MPS_FLOOR_OF_SMS 132u

/* Fitted to the five H100 readings (132 SMs: 100 % 132, 50 % 66, 40 % 52, 25 % 32, 1 % 8;
 * docs/hardware/2026-11-25/probe.txt): whole TPCs (pairs of SMs) rounded down, but never fewer
 * than the H100's floor of 8 SMs scaled to the device's size (8/132 of its SMs, in whole TPCs),
 * and never fewer than one TPC nor more than the device has. Scaling keeps the floor from
 * swallowing a small MIG instance (14 or 16 SMs: one TPC); its real value there is not read. */
unsigned cu_mps_scaled_sm_count(unsigned sm_count, double percentage)
{
        unsigned n, floor_sms;

        if (percentage >= 100.0)
                return sm_count;
        /* the small epsilon keeps 132 * 25 / 100 at 33 despite binary fractions */
        n = (unsigned)floor((double)sm_count * percentage / 100.0 + 1e-9);
        n &= ~1u;
        floor_sms = 2 * (sm_count * CU_MPS_FLOOR_SMS / (CU_MPS_FLOOR_OF_SMS * 2));
        if (floor_sms < 2)
                floor_sms = 2;
        if (n < floor_sms)
                n = floor_sms;
        return n < sm_count ? n : sm_count;
}

/* CUDA_MPS_ACTIVE_THREAD_PERCENTAGE counts only in (0, 100]; anything else (200, abc) is
 * ignored without a word, as on driver 580. 0 means "not asked". */
static double client_thread_percentage(void)
{
        const char *text = getenv("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE");
        char *end;
        double value;

        if (!text || !*text)
                return 0;
        errno = 0;
        value = strtod(text, &end);
        if (end == text || *end != '\0' || errno != 0 || !(value > 0.0 && value <= 100.0))
                return 0;
        return value;
}

/* CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="0=2G,1=512M" or "<UUID>=2G": the client's own limit for the
 * device with this ordinal and UUID, 0 when none. Malformed entries are ignored. */
static unsigned long long client_pinned_limit(int ordinal, const struct cu_device *device)
{
        const char *text = getenv("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT");
        unsigned long long limit = 0;
        char list[4096], *save = NULL;

        if (!text)
                return 0;
        (void)snprintf(list, sizeof(list), "%s", text);
        for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                char *equals = strchr(item, '=');
                unsigned long long bytes;
                bool match;

                if (!equals)
                        continue;
                *equals = '\0';
                if (*item && strspn(item, "0123456789") == strlen(item))
                        match = strtol(item, NULL, 10) == ordinal;
                else
                        match = strcmp(item, device->uuid_text) == 0;
                if (match && cu_parse_size(equals + 1, &bytes) == 0 && bytes > 0)
                        limit = bytes;
        }
        return limit;
}

/* The executable path as `ps` in the control program shows it; one line of the wire. */
static void own_executable(char *buf, size_t size)
{
        ssize_t n = readlink("/proc/self/exe", buf, size - 1);

        if (n <= 0) {
                (void)snprintf(buf, size, "unknown");
                return;
        }
        buf[n] = '\0';
        for (char *c = buf; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        *c = '?';
}

CUresult cu_mps_attach(struct cu_device *devices, int count)
{
        const char *pipe_dir = getenv("CUDA_MPS_PIPE_DIRECTORY");
        struct timeval timeout = {.tv_sec = MPS_ATTACH_TIMEOUT_S};
        unsigned long long own_pinned, effective_pinned;
        double own_percentage, effective_percentage;
        char exe[4096], line[4300], *answer = NULL;
        unsigned server_pid;
        int fd, status, r;

        if (!pipe_dir || !*pipe_dir)
                pipe_dir = MPS_DEFAULT_PIPE_DIRECTORY;
        fd = mps_wire_connect(pipe_dir);
        if (fd < 0)
                return CUDA_SUCCESS; /* no live daemon: run without MPS, silently */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));

        own_percentage = client_thread_percentage();
        own_pinned = client_pinned_limit(0, &devices[0]);
        own_executable(exe, sizeof(exe));
        (void)snprintf(line, sizeof(line), "simgpu_attach %d %u %g %llu %s", (int)getpid(),
                       (unsigned)getuid(), own_percentage, own_pinned, exe);
        r = mps_wire_request(fd, line, &status, &answer);
        if (r < 0 || status != 0) {
                free(answer);
                (void)close(fd);
                return CUDA_ERROR_MPS_CONNECTION_FAILED;
        }
        r = sscanf(answer, "%u %lf %llu", &server_pid, &effective_percentage, &effective_pinned);
        free(answer);
        if (r != 3 || !(effective_percentage > 0.0) || effective_percentage > 100.0) {
                (void)close(fd);
                return CUDA_ERROR_MPS_RPC_FAILURE;
        }

        /* The wire carries one pinned limit, the daemon's device 0 under either key merged with
         * the client's request for its device 0; other devices keep only the client's own. */
        for (int i = 0; i < count; i++) {
                devices[i].sm_count =
                    cu_mps_scaled_sm_count(devices[i].sm_count, effective_percentage);
                devices[i].pinned_limit =
                    i == 0 ? effective_pinned : client_pinned_limit(i, &devices[i]);
        }
        cu_driver.mps_fd = fd; /* held open, CLOEXEC, until the process ends */
        cu_driver.mps_server_pid = server_pid;
        cu_driver.mps_thread_percentage = effective_percentage;
        return CUDA_SUCCESS;
}
