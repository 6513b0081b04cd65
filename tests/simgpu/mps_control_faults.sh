#!/bin/bash
# simgpu's injected MPS faults (docs/simgpu-mps.md): SIMGPU_MPS_FAIL_START, _HANG_ON_QUIT,
# _IGNORE_TERM, _SLOW_START_MS, _NO_ANSWER and _IGNORE_DEFAULTS, each by "*" or by a UUID list
# that picks one daemon of several.
. "$MPSMIG_SOURCE/tests/lib.sh"

MIG0=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0
MIG1=MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9
MIG2=MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9
export CUDA_MPS_LOG_DIRECTORY=$T/log
mkdir -p "$T/log" "$T/p0" "$T/p1" "$T/p2"

# on N CMD...: runs the control program for MIG instance N (pipe folder $T/pN).
on() {
        n=$1
        shift
        uuid_var=MIG$n
        rc=0
        CUDA_MPS_PIPE_DIRECTORY=$T/p$n CUDA_VISIBLE_DEVICES=${!uuid_var} \
                "$SIMRUN" a30-seed -- nvidia-cuda-mps-control "$@" >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
        err=$(cat "$T/.err")
}
# ask N 'LINES' [TIMEOUT]: client mode for instance N, bounded.
ask() {
        rc=0
        printf '%b' "$2" | CUDA_MPS_PIPE_DIRECTORY=$T/p$1 timeout "${3:-10}" \
                "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
}
alive() {
        [ -r "/proc/$1/stat" ] || return 1
        state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
        [ -n "$state" ] && [ "$state" != Z ]
}
wait_gone() {
        for _ in $(seq "${2:-100}"); do alive "$1" || return 0; sleep 0.05; done
        return 1
}
pid_of() { cat "$T/p$1/nvidia-cuda-mps-control.pid" 2>/dev/null; }

# --- SIMGPU_MPS_FAIL_START: "*" fails every daemon; a UUID list fails only those instances
export SIMGPU_MPS_FAIL_START='*'
on 0 -d
check_eq "FAIL_START=*: status 1" 1 "$rc"
check_eq "FAIL_START=*: one line on stderr" 1 "$(wc -l <<<"$err")"
check_contains "FAIL_START=*: the reason names the variable" "SIMGPU_MPS_FAIL_START" "$err"
[ ! -e "$T/p0/nvidia-cuda-mps-control.pid" ] && pass "FAIL_START: no daemon" || fail "FAIL_START: no daemon"
export SIMGPU_MPS_FAIL_START="GPU-00000000-0000-0000-0000-000000000000,$MIG1"
on 0 -d
check_eq "FAIL_START=list: instance 0 starts" 0 "$rc"
on 1 -d
check_eq "FAIL_START=list: instance 1 fails" 1 "$rc"
on 2 -d
check_eq "FAIL_START=list: instance 2 starts" 0 "$rc"
unset SIMGPU_MPS_FAIL_START
ask 0 'quit\n'
ask 2 'quit\n'
check_eq "instance 2 quits" 0 "$rc"

# --- SIMGPU_MPS_SLOW_START_MS: -d takes that much longer, then answers at once
start_ns=$(date +%s%N)
SIMGPU_MPS_SLOW_START_MS=500 on 0 -d
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
check_eq "SLOW_START: status 0" 0 "$rc"
[ "$elapsed_ms" -ge 535 ] && pass "SLOW_START=500 delays -d ($elapsed_ms ms)" ||
        fail "SLOW_START=500 but -d returned in $elapsed_ms ms"
ask 0 'get_default_active_thread_percentage\nquit\n'
check_eq "SLOW_START: answers once -d returned" "100.0" "$out"

# --- SIMGPU_MPS_NO_ANSWER: the daemon runs but never answers (a hung daemon)
SIMGPU_MPS_NO_ANSWER=$MIG0 on 0 -d
check_eq "NO_ANSWER: -d still returns 0" 0 "$rc"
SIMGPU_MPS_NO_ANSWER=$MIG0 on 1 -d
pid=$(pid_of 0)
ask 0 'get_server_list\n' 1
check_eq "NO_ANSWER: a command hangs until the caller's timeout" 124 "$rc"
ask 1 'get_server_list\n' 1
check_eq "NO_ANSWER for another UUID: instance 1 answers" 0 "$rc"
ask 0 'quit\n' 1
check_eq "NO_ANSWER: quit is not answered either" 124 "$rc"
alive "$pid" && pass "NO_ANSWER: the daemon keeps running" || fail "NO_ANSWER: the daemon keeps running"
kill -TERM "$pid"
wait_gone "$pid" && pass "NO_ANSWER: SIGTERM ends it" || fail "NO_ANSWER: SIGTERM ends it"
ask 1 'quit\n'

# --- SIMGPU_MPS_IGNORE_DEFAULTS: set_default_* answer as usual and change nothing
SIMGPU_MPS_IGNORE_DEFAULTS=$MIG0 on 0 -d
SIMGPU_MPS_IGNORE_DEFAULTS=$MIG0 on 1 -d
defaults='set_default_active_thread_percentage 40\nset_default_device_pinned_mem_limit 0 2G\nset_default_client_priority 1\nget_default_active_thread_percentage\nget_default_device_pinned_mem_limit 0\nget_default_client_priority\n'
ask 0 "$defaults"
check_eq "IGNORE_DEFAULTS: the setters answer, nothing changes" "100.0
100.0
0" "$out"
check_eq "IGNORE_DEFAULTS: status 0" 0 "$rc"
ask 1 "$defaults"
check_eq "IGNORE_DEFAULTS for another UUID: instance 1 takes them" "40.0
40.0
2G
1" "$out"
ask 0 'quit\n'
ask 1 'quit\n'

# --- SIMGPU_MPS_HANG_ON_QUIT: quit is accepted, the daemon never exits; SIGTERM still ends it
SIMGPU_MPS_HANG_ON_QUIT='*' on 0 -d
pid=$(pid_of 0)
ask 0 'start_server -uid 0\nget_server_list\n'
server=$out
ask 0 'quit\n'
check_eq "HANG_ON_QUIT: quit answers" 0 "$rc"
wait_gone "$pid" 20 && fail "HANG_ON_QUIT: the daemon exited" || pass "HANG_ON_QUIT: the daemon still runs after 1 s"
[ -e "$T/p0/nvidia-cuda-mps-control.pid" ] && pass "HANG_ON_QUIT: the pid file stays" || fail "HANG_ON_QUIT: the pid file stays"
ask 0 'get_server_list\n' 1
check_eq "HANG_ON_QUIT: no more answers after quit" 124 "$rc"
check_contains "HANG_ON_QUIT: quit is logged" "Cmd:quit" "$(cat "$T/log/control.log")"
kill -TERM "$pid"
wait_gone "$pid" && pass "HANG_ON_QUIT: SIGTERM ends it" || fail "HANG_ON_QUIT: SIGTERM ends it"
wait_gone "$server" && pass "HANG_ON_QUIT: its server exits with it" || fail "HANG_ON_QUIT: its server exits with it"

# --- SIMGPU_MPS_IGNORE_TERM: SIGTERM is ignored; only SIGKILL ends it
SIMGPU_MPS_IGNORE_TERM=$MIG0 on 0 -d
pid=$(pid_of 0)
kill -TERM "$pid"
wait_gone "$pid" 10 && fail "IGNORE_TERM: SIGTERM ended it" || pass "IGNORE_TERM: SIGTERM is ignored"
ask 0 'get_default_active_thread_percentage\n'
check_eq "IGNORE_TERM: still answers after SIGTERM" "100.0" "$out"
kill -KILL "$pid"
wait_gone "$pid" && pass "IGNORE_TERM: SIGKILL ends it" || fail "IGNORE_TERM: SIGKILL ends it"
SIMGPU_MPS_IGNORE_TERM=$MIG0 on 0 -d
check_eq "IGNORE_TERM: a stale folder starts again" 0 "$rc"
pid=$(pid_of 0)
ask 0 'quit\n'
check_eq "IGNORE_TERM: quit still works" 0 "$rc"
wait_gone "$pid" && pass "IGNORE_TERM: quit ends it" || fail "IGNORE_TERM: quit ends it"
