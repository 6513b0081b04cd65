#!/bin/bash
# A hung daemon does not make `run --on auto` hold up `stop --force`: runs ask the daemons without
# any lock (each waits out its own 5 s query of the hung one), and take the placement lock only to
# read, choose and write the ledger. So a burst of runs (as root and, with root, as user nobody)
# while 0:1:0's daemon does not answer leaves `stop --force 0:1:0` its own 2-5 s, and every run
# lands on one of the three that answer.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
pipe0=$MPSMIG_RUNTIME_DIR/$UUID0/pipe

# A daemon that hangs once running, in mpsmig's own folders for 0:1:0 (a start reported failed
# stops the daemon it began, so the hung one is started by hand; start then keeps it).
mkdir -p "$pipe0" "$MPSMIG_RUNTIME_DIR/$UUID0/log"
SIMGPU_MPS_NO_ANSWER=$UUID0 CUDA_VISIBLE_DEVICES=$UUID0 CUDA_MPS_PIPE_DIRECTORY=$pipe0 \
        CUDA_MPS_LOG_DIRECTORY=$MPSMIG_RUNTIME_DIR/$UUID0/log \
        "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
m start --timeout 1
check_eq "start with 0:1:0 hung: exit 1" 1 "$rc"
check_eq "... the other three started" 3 "$(rows started "$out")"
hung=$(pid_in "$pipe0")

# queries PIPE_DIR: how many client-mode control programs are asking the daemon of PIPE_DIR.
queries() {
        n=0
        for environ in /proc/[0-9]*/environ; do
                pid=${environ#/proc/}
                pid=${pid%/environ}
                grep -qsxzF -- '-d' "/proc/$pid/cmdline" && continue
                grep -qsxzF "CUDA_MPS_PIPE_DIRECTORY=$1" "$environ" 2>/dev/null || continue
                grep -qsaF "nvidia-cuda-mps-control" "/proc/$pid/cmdline" && n=$((n + 1))
        done
        echo "$n"
}

runs=
users=root
[ "$(id -u)" = 0 ] && users="root nobody"
for i in $(seq 10); do
        for user in $users; do
                if [ "$user" = root ]; then
                        "$SIMRUN" "$topology" -- "$MPSMIG" run -- true >"$T/run.$user.$i" 2>&1 &
                else
                        "$SIMRUN" "$topology" -- setpriv --reuid=nobody --regid=nogroup \
                                --clear-groups "$MPSMIG" run -- true >"$T/run.$user.$i" 2>&1 &
                fi
                runs="$runs $!"
        done
done
# Wait until the burst is asking the hung daemon (before the fix, one run at a time under the node
# lock; now all at once).
for _ in $(seq 100); do
        [ "$(queries "$pipe0")" -ge 1 ] && break
        sleep 0.05
done
began=$(date +%s%N)
m stop --force 0:1:0
took=$((($(date +%s%N) - began) / 1000000))
check_eq "stop --force of the hung daemon during the burst: exit 0" 0 "$rc"
check_contains "... it stopped it" "stopped (SIG" "$out"
if [ "$took" -lt 8000 ]; then
        pass "stop --force took its own time ($took ms), not the burst's"
else
        fail "stop --force took its own time, not the burst's ($took ms)"
        echo "$err"
fi
alive "$hung" && fail "the hung daemon is gone" || pass "the hung daemon is gone"

statuses=
for pid in $runs; do
        rc=0
        wait "$pid" || rc=$?
        statuses="$statuses$rc"
done
n=$(wc -w <<<"$runs")
check_eq "every run of the burst ran its program on an answering instance" \
        "$(printf '0%.0s' $(seq "$n"))" "$statuses"
check_eq "none of them went to the hung instance" "" \
        "$(grep -l "$UUID0" "$T"/run.* 2>/dev/null)"

m stop
check_eq "stop" 0 "$rc"
