#!/bin/bash
# Control traffic under concurrency on a real GPU node (MIG disabled, root): the real control
# daemon serves one control client at a time and turns the others away ("Cannot send command to
# MPS control daemon process"). First the hazard, read again: K simultaneous bare control clients
# against one idle daemon. Then mpsmig: RUNS simultaneous `mpsmig run --on 0 -- <probe>` on the
# whole GPU with STATUS_CALLS `mpsmig status` racing them (bench/concurrency.sh): none may be
# refused or fail, and every run must show as an MPS client of the daemon. Changes no GPU setting;
# the daemon it starts (private folders) is stopped, also when it fails.
# Usage: tests/hw/concurrent.sh BUNDLE_DIR [RUNS [STATUS_CALLS]]   (defaults 32, 200)
# Writes its transcript to $OUT/concurrent.txt.
set -u
bundle=$(cd "${1:?Usage: tests/hw/concurrent.sh BUNDLE_DIR [RUNS [STATUS_CALLS]]}" && pwd)
runs=${2:-32}
status_calls=${3:-200}
here=$(cd "$(dirname "$0")" && pwd)
mpsmig=$bundle/mpsmig
probe=$bundle/mpsmig-probe
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-concurrent.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/concurrent.txt") 2>&1

work=$(mktemp -d /tmp/mpsmig-hw.XXXXXX)
chmod 0755 "$work"
export MPSMIG_RUNTIME_DIR=$work/run
control=$(command -v nvidia-cuda-mps-control)
failed=0
say() { printf '\n### %s\n' "$*"; }
cleanup() {
        "$mpsmig" stop --whole-gpus >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT

say "node"
date -u
nvidia-smi --query-gpu=name,driver_version,mig.mode.current,memory.total --format=csv
nproc

say "start the whole GPU's daemon"
"$mpsmig" start --whole-gpus || failed=1
pipe=$(ls -d "$MPSMIG_RUNTIME_DIR"/GPU-*/pipe | head -1)

for k in 8 32; do
        say "the hazard: $k bare control clients at once (no mpsmig)"
        # `wait` for these pids only: a bare `wait` would also wait for the tee of the
        # transcript, which ends only with this script.
        pids=()
        for n in $(seq "$k"); do
                (echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" \
                        >/dev/null 2>"$work/bare-err.$n"; echo $? >"$work/bare-rc.$n") &
                pids+=($!)
        done
        wait "${pids[@]}"
        refused=$(grep -l 'Cannot send command to MPS control daemon process' \
                "$work"/bare-err.* 2>/dev/null | wc -l)
        nonzero=$(grep -vx 0 "$work"/bare-rc.* | wc -l)
        echo "refused with 'Cannot send command ...': $refused of $k; exit status not 0: $nonzero"
        rm -f "$work"/bare-*
done

say "mpsmig: $runs runs at once on GPU 0, $status_calls status calls racing them"
RUN_OPTIONS="--on 0" STATUS_OPTIONS="--whole-gpus" \
        bash "$here/../../bench/concurrency.sh" "$mpsmig" "$probe" "$runs" "$status_calls" 8 ||
        failed=1

say "the same once more (a second sample)"
RUN_OPTIONS="--on 0" STATUS_OPTIONS="--whole-gpus" \
        bash "$here/../../bench/concurrency.sh" "$mpsmig" "$probe" "$runs" "$status_calls" 8 ||
        failed=1

say "where a loaded run's time goes: $status_calls mpsmig list at once (NVML only, no daemon)"
began=$EPOCHREALTIME
pids=()
for n in $(seq "$status_calls"); do
        "$mpsmig" list >/dev/null 2>&1 &
        pids+=($!)
done
wait "${pids[@]}"
awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "wall %.2f s\n", b - a }'

say "one run alone, for the latency without load"
for n in 1 2 3 4 5; do
        began=$EPOCHREALTIME
        started=$("$mpsmig" run --on 0 -- /bin/sh -c 'date +%s.%N')
        awk -v a="$began" -v b="$started" 'BEGIN { printf "run alone: %.1f ms\n", (b - a) * 1000 }'
done

say "stop"
"$mpsmig" stop --whole-gpus || failed=1
echo "control daemons left: $(pgrep -c -x nvidia-cuda-mps || true)"
[ "$failed" -eq 0 ] && echo "RESULT: PASS" || echo "RESULT: FAIL"
exit "$failed"
