# Helpers for the start/stop/status tests (sourced after tests/lib.sh; not a test itself: ctest
# runs only *.sh). Each test gets a private copy of a topology whose UUIDs are its own, so that
# daemons of tests running at the same time never serve the same simulated device.

# use_topology NAME: sets $topology, $uuids (the MIG UUIDs in nvidia-smi order) and UUID0..N.
use_topology() {
        topology=$(private_topology "$1")
        uuids=$(grep -oE '"MIG-[0-9a-f-]{36}"' "$topology" | tr -d '"')
        i=0
        for uuid in $uuids; do
                eval "UUID$i=$uuid"
                i=$((i + 1))
        done
}

# m ARGS...: mpsmig over the private topology; sets $out, $err, $rc.
m() { sim "$topology" "$MPSMIG" "$@"; }

# alive PID: a live process (a zombie is not).
alive() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ -n "$stat" ] && [ "${stat%% *}" != Z ]
}

# daemons [UUID]: pids of live control daemons (started with -d) of this test's topology,
# optionally only those whose CUDA_VISIBLE_DEVICES is UUID; one a line, sorted.
daemons() {
        for cmdline in $(grep -lsxzF -- '-d' /proc/[0-9]*/cmdline); do
                pid=${cmdline#/proc/}
                pid=${pid%/cmdline}
                grep -qsxzF "SIMGPU_TOPOLOGY=$topology" "/proc/$pid/environ" || continue
                if [ -n "${1:-}" ]; then
                        grep -qsxzF "CUDA_VISIBLE_DEVICES=$1" "/proc/$pid/environ" || continue
                fi
                alive "$pid" && echo "$pid"
        done | sort -n
}

# pid_in PIPE_DIR: the pid the daemon wrote into its pipe folder.
pid_in() { cat "$1/nvidia-cuda-mps-control.pid" 2>/dev/null; }

# wait_gone PID [TENTHS]: waits until PID is gone (at most TENTHS/10 s, default 10 s).
wait_gone() {
        for _ in $(seq "${2:-100}"); do alive "$1" || return 0; sleep 0.1; done
        return 1
}

# count WORD TEXT: how many lines of TEXT contain WORD.
count() { grep -c -- "$1" <<<"$2" || true; }

# rows WORDS TEXT: how many rows of a start/stop/status table (lines that begin with a target
# name such as 0:1:0 or 1) have WORDS in their result or state column.
rows() { grep -cE "^[0-9]+(:[0-9]+:[0-9]+)? +[A-Z]+-[0-9a-f-]+ +$1( |\$)" <<<"$2" || true; }

# ask PIPE_DIR 'LINES': the control program in client mode on a pipe folder, bounded.
ask() {
        printf '%b' "$2" | CUDA_MPS_PIPE_DIRECTORY=$1 timeout 10 \
                "$SIMRUN" "$topology" -- nvidia-cuda-mps-control
}
