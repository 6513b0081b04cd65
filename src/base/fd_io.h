/* Whole-buffer reads and writes on a file descriptor: the loops over short counts and EINTR that
 * every caller would otherwise write again; and the closing of what a forked child inherited. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads into `buffer` until `size` bytes or end-of-file. Returns the byte count, or a negative
 * errno (what was read before the error is lost). */
ssize_t fd_read_fully(int fd, char *buffer, size_t size);

/* Writes all `size` bytes of `data`. 0, or a negative errno (-EIO for a write that wrote
 * nothing). */
int fd_write_fully(int fd, const char *data, size_t size);

/* In a forked child that runs no other program: closes every fd from 3 up but `keep`, so that it
 * holds nothing of its parent's (sockets, locks, pipes of other children) while it works. */
void fd_close_inherited(int keep);
