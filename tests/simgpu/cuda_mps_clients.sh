#!/bin/bash
# simgpu's libcuda as an MPS client of the simulated control daemon: a probe holding its context
# shows in get_client_list and ps while it runs (the only proof a client went through MPS), and
# leaves the lists when it exits, and when it is killed with -9.
. "$MPSMIG_SOURCE/tests/lib.sh"

MIG="MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0"
export CUDA_VISIBLE_DEVICES=$MIG
export CUDA_MPS_PIPE_DIRECTORY=$T/pipe
export CUDA_MPS_LOG_DIRECTORY=$T/log
mkdir -p "$T/pipe" "$T/log"

# ask LINE...: the control program in client mode with these lines on stdin; answer in $out
ask() {
        rc=0
        printf '%s\n' "$@" | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
        err=$(cat "$T/.err")
}
# check_within WHAT SECONDS COMMAND...: passes when COMMAND succeeds within SECONDS
check_within() {
        what=$1
        shift
        if until_true "$@"; then pass "$what"; else fail "$what"; fi
}
server_pid() {
        ask get_server_list
        printf '%s\n' "$out" | head -1
}
# listed PID: the daemon's one server lists PID as a client
listed() {
        server=$(server_pid)
        [ -n "$server" ] || return 1
        ask "get_client_list $server"
        printf '%s\n' "$out" | grep -qx "$1"
}
not_listed() { ! listed "$1"; }
# start_probe ARGS...: a probe in the background; its pid (from its first output line) in $probe
start_probe() {
        "$SIMRUN" a30-seed -- "$PROBE" "$@" >"$T/probe.out" 2>"$T/probe.err" &
        job=$!
        until_true 10 grep -q '^status:' "$T/probe.out"
        probe=$(sed -n 's/^pid: //p' "$T/probe.out")
}
quit_daemon() {
        ask quit
        check_eq "quit: status 0" 0 "$rc"
        check_within "quit: the daemon is gone" 10 test ! -e "$T/pipe/nvidia-cuda-mps-control.pid"
}

sim a30-seed nvidia-cuda-mps-control -d
check_eq "daemon started" "0" "$rc"

# --- a client holding its context is listed, then leaves (holds are long enough for a slow,
# sanitized build on a loaded machine to ask the daemon several times)
start_probe --hold 8
check_eq "the probe ran its kernel through MPS" "  kernel: ok" "$(grep kernel: "$T/probe.out")"
check_eq "the probe is the background job" "$job" "$probe"
check_within "get_client_list lists the probe while it holds" 5 listed "$probe"
server=$(server_pid)
ask ps
row=$(printf '%s\n' "$out" | awk -v pid="$probe" '$1 == pid')
check_eq "ps: the probe's row, under its server" "$probe 1 $server $PROBE" \
        "$(printf '%s\n' "$row" | awk '{print $1, $2, $3, $6}')"
device=$(printf '%s\n' "$row" | awk '{print $4}')
case $MIG in
"${device:-empty}"?*) pass "ps: DEVICE is the start of the MIG UUID ($device)" ;;
*) fail "ps: DEVICE '$device' is not the start of $MIG" ;;
esac
wait "$job"
check_eq "the holding probe exits 0" 0 "$?"
check_within "the probe left the client list when it exited" 5 not_listed "$probe"
ask "get_client_list $server"
check_eq "no client is left" "" "$out"

# --- killed with -9, a client leaves the list too
start_probe --hold 60
check_within "the second probe is listed" 5 listed "$probe"
kill -9 "$probe"
{ wait "$job"; } 2>/dev/null
check_within "a client killed with -9 leaves the client list" 5 not_listed "$probe"

# --- two clients share the one server
start_probe --hold 8
first=$probe
first_job=$job
cp "$T/probe.out" "$T/first.out"
start_probe --hold 8
check_within "two clients at once: the first listed" 5 listed "$first"
check_within "two clients at once: the second listed" 5 listed "$probe"
ask get_server_list
check_eq "two clients share one server" "1" "$(printf '%s\n' "$out" | grep -c .)"
wait "$first_job" "$job"

quit_daemon
# after quit the pipe folder has no live daemon: the client runs without MPS, silently
sim a30-seed "$PROBE"
check_eq "after quit: the probe runs without MPS" "0 " "$rc $err"
