#!/bin/bash
# `mpsmig run` never runs a program without MPS: a daemon never started, stopped, killed with -9
# (stale) or hung (SIMGPU_MPS_NO_ANSWER) is refused with exit 1 and a sentence naming the instance
# and the command that fixes it, and the program does not run; `auto` skips such daemons.
. "$MPSMIG_SOURCE/tests/lib.sh"

topology=$(private_topology a30-seed)
m() { sim "$topology" "$MPSMIG" "$@"; }
uuid() { grep -oE "MIG-$1[0-9a-f-]{28}" "$topology"; }
U010=$(uuid 22f0c05f)
U011=$(uuid d74dcafc)
U020=$(uuid 27be287f)
U021=$(uuid 235f71be)

# refused WHAT EXIT NEEDLE ARGS...: `mpsmig ARGS... -- touch $T/ran` exits EXIT, says NEEDLE on
# stderr, prints nothing on stdout, and the program did not run.
refused() {
        what=$1
        code=$2
        needle=$3
        shift 3
        rm -f "$T/ran"
        m "$@" -- touch "$T/ran"
        check_eq "$what: exit $code" "$code" "$rc"
        check_contains "$what: says why" "$needle" "$err"
        check_eq "$what: nothing on stdout" "" "$out"
        [ -e "$T/ran" ] && fail "$what: the program did not run" || pass "$what: the program did not run"
}

# --- nothing started
refused "never started" 1 \
        "mpsmig: the MPS daemon of 0:1:0 ($U010) is not running, so the program would run without MPS; start it with \`mpsmig start 0:1:0\`" \
        run --on 0:1:0
refused "auto with nothing started" 1 \
        "no MPS daemon answers on any of the 7 targets 'auto' names, so the program would run without MPS (0:1:0 not running, 0:1:1 not running" \
        run
refused "auto with nothing started: what to do" 1 \
        "not running); start them with \`mpsmig start\`" \
        run
refused "the hint keeps the folder options" 1 \
        "start it with \`mpsmig start --layout seed --runtime-dir $T/rt 0:2:1\`" \
        run --layout seed --runtime-dir "$T/rt" --on 0:2:1
refused "a whole GPU never started" 1 "start it with \`mpsmig start 1\`" run --on 1
refused "a profile with nothing started" 1 \
        "no MPS daemon answers on any of the 4 targets '1c.2g.12gb' names" run --on 1c.2g.12gb

# --- one instance started: auto finds it, the others are still refused
m start 0:1:0
check_eq "start 0:1:0" 0 "$rc"
m run -- printenv CUDA_VISIBLE_DEVICES
check_eq "auto runs on the one daemon that runs" "$U010" "$out"
refused "a sibling not started" 1 "0:1:1 ($U011) is not running" run --on 0:1:1
m run --on 1c.2g.12gb -- printenv CUDA_VISIBLE_DEVICES
check_eq "a profile runs on its one instance whose daemon runs" "$U010" "$out"

# --- stopped
m stop 0:1:0
check_eq "stop 0:1:0" 0 "$rc"
refused "stopped" 1 "0:1:0 ($U010) is not running" run --on 0:1:0

# --- killed with -9: the pid file stays behind (stale)
m start 0:2:0
check_eq "start 0:2:0" 0 "$rc"
pid=$(cat "$MPSMIG_RUNTIME_DIR/$U020/pipe/nvidia-cuda-mps-control.pid")
kill -9 "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
refused "killed with -9 (stale)" 1 \
        "the MPS daemon of 0:2:0 ($U020) is gone: its pid file names process $pid, which no longer runs (killed?); start it again with \`mpsmig start 0:2:0\`" \
        run --on 0:2:0
refused "stale, named by prefix" 1 "is gone" run --on MIG-27be
m stop 0:2:0
check_eq "stop cleans the stale daemon's files" 0 "$rc"

# --- hung: running, but no answer (simgpu's SIMGPU_MPS_NO_ANSWER), started by hand in the
# default layout's folders since `start` rightly fails on a daemon that never answers
mkdir -p "$MPSMIG_RUNTIME_DIR/$U011/pipe" "$MPSMIG_RUNTIME_DIR/$U011/log"
SIMGPU_MPS_NO_ANSWER=$U011 CUDA_VISIBLE_DEVICES=$U011 \
        CUDA_MPS_PIPE_DIRECTORY=$MPSMIG_RUNTIME_DIR/$U011/pipe \
        CUDA_MPS_LOG_DIRECTORY=$MPSMIG_RUNTIME_DIR/$U011/log \
        "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
check_eq "a daemon that never answers starts" 0 $?
hung=$(cat "$MPSMIG_RUNTIME_DIR/$U011/pipe/nvidia-cuda-mps-control.pid")
start=$SECONDS
refused "hung" 1 \
        "the MPS daemon of 0:1:1 ($U011, pid $hung) does not answer" \
        run --on 0:1:1
check_contains "hung: what to do" "see \`mpsmig status 0:1:1\`, restart it with \`mpsmig stop --force 0:1:1\` then \`mpsmig start 0:1:1\`" "$err"
elapsed=$((SECONDS - start))
[ "$elapsed" -le 30 ] && pass "hung: the check has a deadline (${elapsed} s)" ||
        fail "hung: the check has a deadline (${elapsed} s)"

# auto skips the hung daemon for one that answers
m start 0:2:1
check_eq "start 0:2:1" 0 "$rc"
m run -v -- printenv CUDA_VISIBLE_DEVICES
check_eq "auto passes over the hung daemon" "$U021" "$out"
check_eq "auto passes over the hung daemon: exit 0" 0 "$rc"

# env refuses the same way
m env 0:1:1
check_eq "env on the hung daemon: exit 1" 1 "$rc"
check_contains "env on the hung daemon: says so" "0:1:1 ($U011, pid $hung) does not answer" "$err"
check_eq "env on the hung daemon: no variables" "" "$out"

kill -TERM "$hung"
for _ in $(seq 100); do kill -0 "$hung" 2>/dev/null || break; sleep 0.05; done
m stop
check_eq "stop" 0 "$rc"
