#!/bin/bash
# simgpu's nvidia-cuda-mps-control as a daemon: -d and -f, the files in the pipe and log folders,
# control.log, a second -d, quit, SIGTERM, kill -9 and a stale folder, -h, -v, client mode
# without a daemon and commands given as arguments (docs/driver-facts-mps-control.md).
. "$MPSMIG_SOURCE/tests/lib.sh"

export CUDA_MPS_PIPE_DIRECTORY=$T/pipe
export CUDA_MPS_LOG_DIRECTORY=$T/log
# One device, not node-wide: mpsmig run by tests at the same time asks every node-wide daemon on
# the machine what it serves (device_query), which would meet this test's clients and fds.
export CUDA_VISIBLE_DEVICES=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0
mkdir -p "$T/pipe"

ctl() { sim a30-seed nvidia-cuda-mps-control "$@"; }
# ask 'LINES': client mode with LINES (printf %b) on stdin.
ask() {
        rc=0
        printf '%b' "$1" | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
        err=$(cat "$T/.err")
}
# alive PID: the process exists and is not a zombie (pid 1 here may not reap the daemon).
alive() {
        [ -r "/proc/$1/stat" ] || return 1
        state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
        [ -n "$state" ] && [ "$state" != Z ]
}
wait_gone() {
        for _ in $(seq 100); do alive "$1" || return 0; sleep 0.05; done
        return 1
}
mode_of() { stat -c %A "$1" 2>/dev/null; }

# --- no daemon yet
ask 'get_server_list\n'
check_eq "client without a daemon: message" "Cannot find MPS control daemon process" "$err"
check_eq "client without a daemon: status 1" 1 "$rc"

# -h as driver 580 prints it, byte for byte (the transcript's lines carry a "  stdout: " prefix)
help=$(awk '/^### help/ { h = 1; next } h && /^\[status/ { if (s++) exit; next }
        h && sub(/^  stdout: /, "")' "$MPSMIG_SOURCE/docs/hardware/2026-11-25/mps_control_unknowns.txt")
ctl -h
check_eq "-h: status 0" 0 "$rc"
check_eq "-h: the text of driver 580" "$help" "$out"
check_eq "-h: 53 lines, the last empty" "53 " "$("$SIMRUN" a30-seed -- nvidia-cuda-mps-control -h | wc -l) $("$SIMRUN" a30-seed -- nvidia-cuda-mps-control -h | tail -n1)"
ctl --help
check_eq "--help: status 0" 0 "$rc"
check_eq "--help: the same text" "$help" "$out"
# an unknown option, long or short: "Unrecognized option ", a NUL byte (not the letter), a
# newline, then the help, all on stdout, status 0
printf 'Unrecognized option \0\n' >"$T/.want"
for option in --bogus -z; do
        rc=0
        "$SIMRUN" a30-seed -- nvidia-cuda-mps-control $option >"$T/.out" 2>"$T/.err" || rc=$?
        check_eq "$option: status 0, nothing on stderr" "0 0" "$rc $(wc -c <"$T/.err")"
        head -n1 "$T/.out" | cmp -s - "$T/.want" && pass "$option: the first line's bytes" ||
                fail "$option: the first line's bytes: $(head -n1 "$T/.out" | od -c | head -n2)"
        check_eq "$option: then the help" "$help" "$(tail -n +2 "$T/.out")"
done
# -q and -M without -d: client mode (no daemon yet here)
for option in -q -M; do
        rc=0
        "$SIMRUN" a30-seed -- nvidia-cuda-mps-control $option </dev/null >"$T/.out" 2>"$T/.err" || rc=$?
        check_eq "$option alone: client mode" "1 Cannot find MPS control daemon process" "$rc $(cat "$T/.out" "$T/.err")"
done
ctl -v
check_eq "-v: the binary version line" "CUDA MPS Control for Linux/Unix/QNX. Binary version: 12030" "$out"

# --- -d: a log folder that does not exist yet is created 0700
start_ns=$(date +%s%N)
ctl -d
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
check_eq "-d: status 0" 0 "$rc"
check_eq "-d: prints nothing" "" "$out$err"
[ "$elapsed_ms" -ge 35 ] && pass "-d returns after the start latency ($elapsed_ms ms)" ||
        fail "-d returned in $elapsed_ms ms, before the 35 ms start latency"
check_eq "log folder created 0700" "drwx------" "$(mode_of "$T/log")"
check_eq "control socket srw-rw-rw-" "srw-rw-rw-" "$(mode_of "$T/pipe/control")"
check_eq "control_privileged socket srwxr-xr-x" "srwxr-xr-x" "$(mode_of "$T/pipe/control_privileged")"
check_eq "control_lock is a plain file" "-rw-rw-rw-" "$(mode_of "$T/pipe/control_lock")"
check_eq "log is a fifo, prwxrwxrwx" "prwxrwxrwx" "$(mode_of "$T/pipe/log")"
check_eq "the pid file is -rw-rw-rw-" "-rw-rw-rw-" "$(mode_of "$T/pipe/nvidia-cuda-mps-control.pid")"
[ -f "$T/log/control.log" ] && [ -f "$T/log/server.log" ] && pass "control.log and server.log" ||
        fail "control.log and server.log"
pid=$(cat "$T/pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)
alive "$pid" && pass "pid file names a live daemon" || fail "pid file names a live daemon ($pid)"
check_eq "pid file: the digits alone, no newline" "${#pid}" "$(wc -c <"$T/pipe/nvidia-cuda-mps-control.pid")"
check_eq "daemon comm" "nvidia-cuda-mps" "$(cat "/proc/$pid/comm" 2>/dev/null)"
sid=$(awk '{print $6}' "/proc/$pid/stat" 2>/dev/null)
check_eq "daemon is a session leader" "$pid" "$sid"
check_eq "daemon cwd is /" "/" "$(readlink "/proc/$pid/cwd" 2>/dev/null)"
check_eq "daemon stdin is /dev/null" "/dev/null" "$(readlink "/proc/$pid/fd/0" 2>/dev/null)"
check_eq "daemon stdout is /dev/null" "/dev/null" "$(readlink "/proc/$pid/fd/1" 2>/dev/null)"
# 0-2, the lock, two listening sockets, the fifo, control.log and server.log, and the pidfd of
# SIMGPU_MPS_EXIT_WITH_PID (tests/lib.sh sets it): nothing else.
check_eq "daemon holds 10 fds" 10 "$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)"

log=$(cat "$T/log/control.log")
check_contains "control.log: start line" "Control $(printf '%5d' "$pid")] Starting control daemon using socket $T/pipe/control" "$log"
check_contains "control.log: how to connect" "To connect CUDA applications to this daemon, set env CUDA_MPS_PIPE_DIRECTORY=$T/pipe" "$log"
check_contains "control.log: binary version" "CUDA MPS Control binary version: 12030" "$log"
first=$(head -n1 "$T/log/control.log")
[[ $first =~ ^\[[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\ Control\ +[0-9]+\]\  ]] &&
        pass "control.log line format" || fail "control.log line format: $first"

# --- a second -d on the same folder
ctl -d
check_eq "second -d: status 1" 1 "$rc"
check_eq "second -d: message" "An instance of this daemon is already running" "$out"
alive "$pid" && pass "first daemon still runs" || fail "first daemon still runs"

# --- client mode
ask 'get_server_list\nbogus\n\nget_default_active_thread_percentage\n'
check_eq "several commands, answers in order" 'Unknown command "bogus"
Unknown command ""
100.0' "$out"
check_eq "unknown command: status 0" 0 "$rc"
ask 'simgpu_attach 1 0 0 0 /bin/true\n'
check_eq "internal command refused by the client program" 'Unknown command "simgpu_attach 1 0 0 0 /bin/true"' "$out"
check_eq "no server started by a refused attach" "" "$(printf 'get_server_list\n' | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control)"
log=$(cat "$T/log/control.log")
check_contains "control.log: NEW UI" "NEW UI" "$log"
check_contains "control.log: Cmd line" "Cmd:get_default_active_thread_percentage" "$log"
check_contains "control.log: UI closed" "UI closed" "$log"

ctl set_default_active_thread_percentage 30
check_eq "command as argument: status 0" 0 "$rc"
check_eq "command as argument: prints nothing" "" "$out$err"
ask 'get_default_active_thread_percentage\n'
check_eq "command as argument: did nothing" "100.0" "$out"

# --- quit
ask 'quit\n'
check_eq "quit: prints nothing" "" "$out"
check_eq "quit: status 0" 0 "$rc"
wait_gone "$pid" && pass "daemon exits after quit" || fail "daemon exits after quit"
[ ! -e "$T/pipe/nvidia-cuda-mps-control.pid" ] && pass "quit removes the pid file" || fail "quit removes the pid file"
[ ! -e "$T/pipe/log" ] && pass "quit removes the log fifo" || fail "quit removes the log fifo"
[ -S "$T/pipe/control" ] && [ -S "$T/pipe/control_privileged" ] && [ -f "$T/pipe/control_lock" ] &&
        pass "quit leaves the sockets and control_lock" || fail "quit leaves the sockets and control_lock"
check_not_contains "control.log: no 'quit command issued' without -t" "quit command issued" "$(cat "$T/log/control.log")"
check_contains "control.log: exit" "Exit with status 0" "$(cat "$T/log/control.log")"
ask 'get_server_list\n'
check_eq "after quit: no daemon" "Cannot find MPS control daemon process" "$err"
check_eq "after quit: status 1" 1 "$rc"

# --- kill -9 leaves a stale folder; -d over it starts normally
ctl -d
pid=$(cat "$T/pipe/nvidia-cuda-mps-control.pid")
printf 'start_server -uid 0\n' | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >/dev/null
server=$(printf 'get_server_list\n' | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control)
kill -9 "$pid"
wait_gone "$pid" && pass "kill -9 ends the daemon" || fail "kill -9 ends the daemon"
wait_gone "$server" && pass "its server exits with it" || fail "its server exits with it ($server)"
for f in control control_lock control_privileged log nvidia-cuda-mps-control.pid; do
        [ -e "$T/pipe/$f" ] && pass "stale after kill -9: $f" || fail "stale after kill -9: $f"
done
ask 'get_server_list\n'
check_eq "stale pid file: no daemon" "Cannot find MPS control daemon process" "$err"
check_eq "stale pid file: status 1" 1 "$rc"
ctl -d
check_eq "-d over a stale folder: status 0" 0 "$rc"
pid2=$(cat "$T/pipe/nvidia-cuda-mps-control.pid")
[ "$pid2" != "$pid" ] && alive "$pid2" && pass "new daemon, new pid" || fail "new daemon, new pid"

# --- SIGTERM: exits at once, pid file and fifo stay behind
kill -TERM "$pid2"
wait_gone "$pid2" && pass "SIGTERM ends the daemon" || fail "SIGTERM ends the daemon"
[ -e "$T/pipe/nvidia-cuda-mps-control.pid" ] && [ -p "$T/pipe/log" ] &&
        pass "SIGTERM leaves the pid file and fifo" || fail "SIGTERM leaves the pid file and fifo"
ask 'get_server_list\n'
check_eq "after SIGTERM: no daemon" "Cannot find MPS control daemon process" "$err"

# --- -f: foreground, log lines on stdout, exit 0 after quit; 143 after SIGTERM
"$SIMRUN" a30-seed -- nvidia-cuda-mps-control -f >"$T/f.out" 2>&1 &
fpid=$!
for _ in $(seq 100); do
        ask 'get_server_list\n'
        [ "$rc" = 0 ] && break
        sleep 0.05
done
check_eq "-f answers" 0 "$rc"
check_eq "-f: the pid file names it" "$fpid" "$(cat "$T/pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)"
ask 'quit\n'
frc=0
wait "$fpid" || frc=$?
check_eq "-f exits 0 after quit" 0 "$frc"
fout=$(cat "$T/f.out")
check_contains "-f prints the start line" "Starting control daemon using socket $T/pipe/control" "$fout"
check_contains "-f prints the version line" "CUDA MPS Control binary version: 12030" "$fout"
check_contains "-f prints each event" "Cmd:get_server_list" "$fout"
[ ! -e "$T/pipe/nvidia-cuda-mps-control.pid" ] && pass "-f quit removes the pid file" || fail "-f quit removes the pid file"

"$SIMRUN" a30-seed -- nvidia-cuda-mps-control -f >"$T/f.out" 2>&1 &
fpid=$!
for _ in $(seq 100); do
        [ -e "$T/pipe/nvidia-cuda-mps-control.pid" ] && break
        sleep 0.05
done
kill -TERM "$fpid"
frc=0
wait "$fpid" || frc=$?
check_eq "-f after SIGTERM: status 143" 143 "$frc"
[ -e "$T/pipe/nvidia-cuda-mps-control.pid" ] && [ -p "$T/pipe/log" ] &&
        pass "-f after SIGTERM: pid file and fifo stay" || fail "-f after SIGTERM: pid file and fifo stay"
