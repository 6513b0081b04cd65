#!/bin/bash
# simgpu's nvidia-cuda-mps-control starting or refusing to start as driver 580 does: a missing
# pipe folder (made when its parent exists, as read on the H100; refused when the parent is
# missing too), a CUDA_VISIBLE_DEVICES UUID that does not exist (exit 100), a pipe folder too
# long for the sockets' sun_path, and the start latency knob.
. "$MPSMIG_SOURCE/tests/lib.sh"

MIG0=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0
GPU1=GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38

ctl() { sim a30-seed nvidia-cuda-mps-control "$@"; }
ask() {
        rc=0
        printf '%b' "$1" | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
        err=$(cat "$T/.err")
}
daemons_for() { # the control daemons (and servers) whose environment names pipe folder $1
        for pid in $(pgrep -x nvidia-cuda-mps); do
                { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "CUDA_MPS_PIPE_DIRECTORY=$1" &&
                        echo "$pid"
        done
}

# --- pipe folder missing, its parent present, log folder missing too: driver 580 made both and
# started, printing nothing (docs/hardware/2026-11-25/mps_control_unknowns.txt)
export CUDA_MPS_PIPE_DIRECTORY=$T/nopipe
export CUDA_MPS_LOG_DIRECTORY=$T/nolog
ctl -d
check_eq "missing pipe folder: status 0, nothing printed" "0 " "$rc $out$err"
check_eq "the pipe folder is made 0777, whatever the umask" "drwxrwxrwx" "$(stat -c %A "$T/nopipe" 2>/dev/null)"
check_eq "the log folder is made 0700" "drwx------" "$(stat -c %A "$T/nolog" 2>/dev/null)"
[ -S "$T/nopipe/control" ] && pass "a daemon listens there" || fail "a daemon listens there"
ask 'quit\n'
check_eq "that daemon quits" 0 "$rc"

# --- pipe folder and its parent missing: the first readings' "Cannot access" (one mkdir, no parents)
export CUDA_MPS_PIPE_DIRECTORY=$T/noparent/pipe
export CUDA_MPS_LOG_DIRECTORY=$T/nolog2
ctl -d
check_eq "missing parent: status 1" 1 "$rc"
check_eq "missing parent and log folder: stderr" "Cannot access CUDA_MPS_PIPE_DIRECTORY=$T/noparent/pipe
Warning: Failed writing log files to directory [$T/nolog2]. No logs will be available." "$err"
check_eq "missing parent: stdout empty" "" "$out"
[ ! -e "$T/nolog2" ] && pass "no log folder made for a refused start" || fail "no log folder made for a refused start"
[ ! -e "$T/noparent" ] && pass "no parent made" || fail "no parent made"

# --- the same with the log folder present
mkdir "$T/log"
export CUDA_MPS_LOG_DIRECTORY=$T/log
ctl -d
check_eq "missing parent, log present: status 1" 1 "$rc"
check_eq "missing parent, log present: stderr" "Cannot access CUDA_MPS_PIPE_DIRECTORY=$T/noparent/pipe" "$err"
ctl -f
check_eq "-f with a missing parent: status 1" 1 "$rc"

# --- CUDA_VISIBLE_DEVICES naming a UUID that does not exist: 100, no daemon
mkdir "$T/pipe"
export CUDA_MPS_PIPE_DIRECTORY=$T/pipe
CUDA_VISIBLE_DEVICES=GPU-00000000-0000-0000-0000-000000000000 ctl -d
check_eq "unknown UUID: status 100" 100 "$rc"
[ ! -e "$T/pipe/nvidia-cuda-mps-control.pid" ] && pass "unknown UUID: no pid file" || fail "unknown UUID: no pid file"
check_eq "unknown UUID: no daemon" "" "$(daemons_for "$T/pipe")"
ask 'get_server_list\n'
check_eq "unknown UUID: a client finds no daemon" "Cannot find MPS control daemon process" "$err"
CUDA_VISIBLE_DEVICES=MIG-ffffffff-5cf2-5ea2-8297-789695656dc0 ctl -d
check_eq "unknown MIG UUID: status 100" 100 "$rc"
sim no-gpu nvidia-cuda-mps-control -d
check_eq "a node without GPUs: status 100" 100 "$rc"

# --- a MIG instance's UUID and a GPU's UUID start, and device_query shows that device only
CUDA_VISIBLE_DEVICES=$MIG0 ctl -d
check_eq "MIG UUID: status 0" 0 "$rc"
ask 'device_query\n'
check_contains "device_query shows the MIG instance" "$MIG0" "$out"
check_contains "device_query names it" "NVIDIA A30 MIG 1c.2g.12gb" "$out"
check_not_contains "device_query shows no other device" "$GPU1" "$out"
check_eq "device_query: one Default table row" 1 "$(grep -c "^0 .*$MIG0" <<<"$out")"
check_contains "device_query: the instance's PCI IDs" "0               0000:17.00.00  $MIG0" "$out"
ask 'get_device_client_list\n'
check_eq "get_device_client_list: no device line without a client" "" "$out"
ask 'quit\n'
check_eq "MIG daemon quits" 0 "$rc"
CUDA_VISIBLE_DEVICES=$GPU1 ctl -d
check_eq "GPU UUID: status 0" 0 "$rc"
ask 'device_query\nquit\n'
check_contains "GPU UUID: its device_query row" "0               0000:65.00.00  $GPU1  NVIDIA A30 " "$out"

# --- a pipe folder whose sockets do not fit in sun_path: two start lines, exit 1, no daemon
long=$T/$(printf 'p%.0s' $(seq $((98 - ${#T} - 1))))
mkdir -p "$long" "$T/longlog"
check_eq "the long folder has 98 characters" 98 "${#long}"
CUDA_MPS_PIPE_DIRECTORY=$long CUDA_MPS_LOG_DIRECTORY=$T/longlog ctl -d
check_eq "98-character pipe folder: status 1" 1 "$rc"
check_eq "98-character pipe folder: control.log holds the two start lines" 2 "$(wc -l <"$T/longlog/control.log")"
check_contains "98-character pipe folder: the start line" "Starting control daemon using socket $long/control" "$(cat "$T/longlog/control.log")"
[ ! -e "$long/nvidia-cuda-mps-control.pid" ] && [ ! -e "$long/control" ] &&
        pass "98-character pipe folder: no pid file, no socket" || fail "98-character pipe folder: no pid file, no socket"
check_eq "98-character pipe folder: no daemon" "" "$(daemons_for "$long")"

# --- the start latency: -d returns only once the daemon answers, after the latency
start_ns=$(date +%s%N)
SIMGPU_MPS_START_LATENCY_MS=400 ctl -d
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
check_eq "latency 400: status 0" 0 "$rc"
[ "$elapsed_ms" -ge 400 ] && pass "SIMGPU_MPS_START_LATENCY_MS=400 delays -d ($elapsed_ms ms)" ||
        fail "SIMGPU_MPS_START_LATENCY_MS=400 but -d returned in $elapsed_ms ms"
ask 'get_server_list\n'
check_eq "answers as soon as -d returned" 0 "$rc"
ask 'quit\n'
check_eq "quit" 0 "$rc"
