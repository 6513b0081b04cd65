/* The private wire protocol of simgpu's MPS double: how the control program in client mode and
 * simgpu's libcuda talk to a simulated control daemon over its `control` unix socket. */
#pragma once

#include <stddef.h>

/*
 * The real control daemon's protocol is private to NVIDIA; simgpu only has to reproduce what a
 * user sees. Over <CUDA_MPS_PIPE_DIRECTORY>/control (a SOCK_STREAM unix socket):
 *
 *   request:  one line of text ending in '\n', e.g. "get_server_list\n"
 *   response: a header line "<status> <length>\n", then exactly <length> bytes of text: what the
 *             control program in client mode prints for that command (may be empty), and
 *             <status> is the exit status it contributes (the client exits with the last
 *             non-zero one, 0 otherwise).
 *
 * One control connection at a time (driver 580 on an H200, docs/driver-facts.md): a connection
 * whose first line is a control command holds the daemon from that line until it closes. A
 * control command arriving first on another connection meanwhile is not run: the daemon answers
 * the one header line "busy\n" (no length, no text) and closes that connection, and
 * mps_wire_request returns -EBUSY; the control program in client mode then prints `Cannot send
 * command to MPS control daemon process` and exits 1, as the real one does. simgpu_attach is
 * never refused this way, and an attached client's own commands neither hold nor get refused.
 *
 * Commands beginning with "simgpu_" are internal; the control program in client mode refuses to
 * forward them (it answers `Unknown command "..."` as the real one would):
 *
 *   simgpu_attach PID UID THREAD_PCT PINNED_BYTES EXE_PATH
 *       Sent by libcuda at cuInit. THREAD_PCT / PINNED_BYTES are what the client's own
 *       environment asks for (0 = not set). The daemon starts the user's server if none runs,
 *       records the client, and answers (status 0) with one line
 *           "SERVER_PID THREAD_PCT PINNED_BYTES\n"
 *       the effective limits (the lower of the server's defaults and the client's request;
 *       PINNED_BYTES 0 = no limit). The client keeps the connection open for its whole life: the
 *       daemon treats end-of-file on it as the client's exit (or death) and drops the client.
 *       A refusal answers with a non-zero status and a one-line reason.
 */

#define MPS_WIRE_SOCKET_NAME     "control"
#define MPS_WIRE_INTERNAL_PREFIX "simgpu_"
#define MPS_WIRE_BUSY            "busy" /* the refusal header, without its newline */

/* Connects to <pipe_dir>/control. Returns a CLOEXEC fd or a negative errno. */
int mps_wire_connect(const char *pipe_dir);

/* Sends one request line (without '\n') and reads its response. On success returns 0, sets
 * *ret_status and a malloc'd NUL-terminated *ret_text. -EBUSY when the daemon refused the line
 * because another control connection holds it (see above); another negative errno on I/O or
 * framing error. */
int mps_wire_request(int fd, const char *line, int *ret_status, char **ret_text);
