/* A flock with a deadline: flock has no timed wait, and a blocking one could only be bounded by a
 * signal that would reach the caller's other threads, so the wait retries a non-blocking flock
 * with a growing pause against CLOCK_MONOTONIC. Also the clock that deadlines are kept on. */
#pragma once

/* Milliseconds on CLOCK_MONOTONIC. */
long long monotonic_now_ms(void);

/* A pause that grows between tries of something that has no wait of its own: start at
 * PAUSE_START_NS; each backoff_pause() sleeps *pause_ns (never past `deadline_ms`), then doubles
 * it up to 5 ms, so that a lock given back waits little for its next holder. */
#define PAUSE_START_NS 1000000L /* 1 ms */
void backoff_pause(long *pause_ns, long long deadline_ms);

/* Takes flock(fd, `operation` | LOCK_NB) (LOCK_EX or LOCK_SH), with backoff_pause() between
 * tries, until it is granted or `deadline_ms` (monotonic_now_ms() time) passes. 0 when taken,
 * -ETIMEDOUT when the deadline passed first, another negative errno when flock itself failed. */
int flock_wait(int fd, int operation, long long deadline_ms);
