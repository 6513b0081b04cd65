/* Simulated time on a shared device: every process that launches a kernel of measurable length
 * books it in one schedule file per device, behind its own earlier kernels as a stream queues
 * them (one waiting behind the one that runs), and sleeps until its last booked end where the
 * real driver would wait for the GPU (a synchronisation, a copy), so that kernels of different
 * device contexts run one after another (time-slicing: a process without MPS is a context of its
 * own, all clients of one MPS server share the server's) while kernels of one context run side by
 * side as long as their threads fit the device's SMs. Waiting costs no CPU. */
#include "cuda_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Kernels shorter than this are not booked: the booking itself costs about as much, and the
 * small kernels of ordinary clients (mpsmig-probe's check) would only add files and locks. */
#define TIMELINE_MIN_NS 10000ull
/* Bookings kept at once: one per launching thread of every process on the device. */
#define TIMELINE_SLOTS 256
#define TIMELINE_MAGIC "simgpu-timeline 1"

struct booking {
        unsigned long long context; /* 0: a free slot */
        long long start_ns, end_ns; /* CLOCK_MONOTONIC, shared by every process of the machine */
        unsigned long long threads;
};

struct timeline_file {
        char magic[32];
        struct booking slots[TIMELINE_SLOTS];
};

/* Threads of this process book one at a time: flock does not exclude two threads that share the
 * open file. */
static pthread_mutex_t timeline_lock = PTHREAD_MUTEX_INITIALIZER;

static void sleep_until(long long deadline_ns)
{
        struct timespec ts = {.tv_sec = deadline_ns / 1000000000ll,
                              .tv_nsec = deadline_ns % 1000000000ll};

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* $SIMGPU_STATE_DIR/simgpu-timeline-<UUID> (default folder /tmp), readable and writable by every
 * user, since clients of several users share a device. -1 when it cannot be used. */
static int open_timeline(const struct cu_device *d)
{
        const char *dir = getenv("SIMGPU_STATE_DIR");
        char path[PATH_MAX];
        struct stat st;
        int fd;

        if (!dir || !*dir)
                dir = "/tmp";
        if (snprintf(path, sizeof(path), "%s/simgpu-timeline-%s", dir, d->uuid_text) >=
            (int)sizeof(path))
                return -1;
        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0)
                return -1;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                (void)close(fd);
                return -1;
        }
        if (st.st_uid == geteuid())
                (void)fchmod(fd, 0666); /* past the umask: other users' clients book here too */
        return fd;
}

/* The earliest start from `now` at which the kernel overlaps no booking of another context and,
 * with the bookings of its own context that it overlaps, fits the device's threads. */
static long long earliest_start(const struct timeline_file *file, long long now,
                                unsigned long long context, unsigned long long threads,
                                unsigned long long capacity, long long duration)
{
        long long start = now;

        for (int round = 0; round <= TIMELINE_SLOTS; round++) {
                long long other_end = LLONG_MAX, own_end = LLONG_MAX;
                unsigned long long used = 0;
                bool other = false;

                for (int i = 0; i < TIMELINE_SLOTS; i++) {
                        const struct booking *b = &file->slots[i];

                        if (!b->context || b->end_ns <= start || b->start_ns >= start + duration)
                                continue;
                        if (b->context != context) {
                                other = true;
                                other_end = b->end_ns < other_end ? b->end_ns : other_end;
                        } else {
                                used += b->threads;
                                own_end = b->end_ns < own_end ? b->end_ns : own_end;
                        }
                }
                if (other)
                        start = other_end;
                else if (used > 0 && used + threads > capacity)
                        start = own_end;
                else
                        return start;
        }
        return start;
}

void cu_timeline_book(struct cu_device *d, unsigned long long context, unsigned long long threads,
                      unsigned long long duration_ns, long long launched_ns)
{
        unsigned long long capacity =
            (unsigned long long)d->full_sm_count * (unsigned)cu_threads_per_multiprocessor(d);
        struct timeline_file file;
        /* a stream runs its kernels one after another: not before this process's last one ends */
        long long not_before =
            launched_ns > d->timeline_last_end ? launched_ns : d->timeline_last_end;
        long long start = not_before;
        int slot = -1;

        if (duration_ns < TIMELINE_MIN_NS)
                return;
        /* One kernel waits behind the one that runs, no more: the launch returns once the
         * process's previous kernel has begun. So the interpreter's CPU time overlaps the
         * running kernel, as a real launch does, and a process holds two bookings at most. */
        (void)pthread_mutex_lock(&timeline_lock);
        long long previous_start = d->timeline_last_start;
        (void)pthread_mutex_unlock(&timeline_lock);
        if (previous_start > launched_ns)
                sleep_until(previous_start);
        (void)pthread_mutex_lock(&timeline_lock);
        if (!d->timeline_tried) {
                d->timeline_fd = open_timeline(d);
                d->timeline_tried = true;
                d->timeline_slot = -1;
        }
        if (d->timeline_fd >= 0 && flock(d->timeline_fd, LOCK_EX) == 0) {
                if (pread(d->timeline_fd, &file, sizeof(file), 0) != (ssize_t)sizeof(file) ||
                    strcmp(file.magic, TIMELINE_MAGIC) != 0) {
                        memset(&file, 0, sizeof(file));
                        (void)snprintf(file.magic, sizeof(file.magic), "%s", TIMELINE_MAGIC);
                }
                for (int i = 0; i < TIMELINE_SLOTS; i++)
                        if (file.slots[i].context && file.slots[i].end_ns <= launched_ns &&
                            file.slots[i].end_ns <= not_before)
                                file.slots[i].context = 0; /* over */
                start = earliest_start(&file, not_before, context, threads, capacity,
                                       (long long)duration_ns);
                /* A kernel right behind this process's last one, in the same context, extends
                 * its booking: a stream of 400 kernels takes one slot. */
                int last = d->timeline_slot;
                if (last >= 0 && file.slots[last].context == context &&
                    file.slots[last].threads == threads && file.slots[last].end_ns == start &&
                    start == d->timeline_last_end) {
                        slot = last;
                        file.slots[slot].end_ns = start + (long long)duration_ns;
                } else {
                        for (int i = 0; i < TIMELINE_SLOTS && slot < 0; i++)
                                if (!file.slots[i].context)
                                        slot = i;
                        if (slot >= 0)
                                file.slots[slot] = (struct booking){
                                    .context = context,
                                    .start_ns = start,
                                    .end_ns = start + (long long)duration_ns,
                                    .threads = threads,
                                };
                }
                if (slot >= 0 &&
                    pwrite(d->timeline_fd, &file, sizeof(file), 0) != (ssize_t)sizeof(file))
                        slot = -1;
                (void)flock(d->timeline_fd, LOCK_UN);
        }
        /* Without a booking (no file, a full one) the kernel takes its own time alone. */
        if (slot < 0)
                start = not_before;
        d->timeline_slot = slot;
        d->timeline_last_start = start;
        d->timeline_last_end = start + (long long)duration_ns;
        (void)pthread_mutex_unlock(&timeline_lock);
}

void cu_timeline_drain(const struct cu_device *d)
{
        long long end;

        (void)pthread_mutex_lock(&timeline_lock);
        end = d->timeline_last_end;
        (void)pthread_mutex_unlock(&timeline_lock);
        if (end > 0)
                sleep_until(end);
}

CU_API const char *simgpu_timing_model(void)
{
        return "simgpu: kernel times are simulated from their clock cycles at the product's SM "
               "clock; kernels of different contexts take turns, those of one MPS server share "
               "the SMs";
}
