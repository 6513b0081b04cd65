#!/bin/bash
# Reads, on a real GPU node, what decides the cost of taking turns at one control daemon:
# (1) when the control program in client mode connects to the daemon (at its start, or at its
# first command), (2) how fast queries go when callers queue on an flock of the pipe folder, as
# mpsmig does, against the same callers unordered, (3) `mpsmig status` alone, many at once.
# Changes no GPU setting; the daemon it starts (private folders) is quit, also when it fails.
# Usage: tests/hw/control_turns.sh BUNDLE_DIR   Writes its transcript to $OUT/control_turns.txt.
set -u
bundle=$(cd "${1:?Usage: tests/hw/control_turns.sh BUNDLE_DIR}" && pwd)
mpsmig=$bundle/mpsmig
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-turns.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/control_turns.txt") 2>&1
work=$(mktemp -d /tmp/mpsmig-hw.XXXXXX)
chmod 0755 "$work"
export MPSMIG_RUNTIME_DIR=$work/run
control=$(command -v nvidia-cuda-mps-control)
say() { printf '\n### %s\n' "$*"; }
trap '"$mpsmig" stop --whole-gpus >/dev/null 2>&1; rm -rf "$work"' EXIT

date -u
"$mpsmig" start --whole-gpus >/dev/null || exit 1
pipe=$(ls -d "$MPSMIG_RUNTIME_DIR"/GPU-*/pipe | head -1)
ask() { echo "$1" | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control"; }

say "(1) a client-mode program that has not sent its command yet: does it hold the daemon?"
mkfifo "$work/fifo"
CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" <"$work/fifo" >"$work/first.out" 2>&1 &
first=$!
exec 7>"$work/fifo"
sleep 0.5
second=$(ask get_server_list 2>&1)
echo "a second client while the first waits for its command: exit $? '$second'"
echo get_server_list >&7
exec 7>&-
wait "$first"
echo "the first, once given its command: exit $? '$(cat "$work/first.out")'"

for k in 50 200; do
        say "(2) $k queries at once, queued on an flock of the pipe folder"
        began=$EPOCHREALTIME
        pids=()
        for n in $(seq "$k"); do
                (flock "$pipe" sh -c "echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe $control" \
                        >/dev/null 2>"$work/q.$n"; echo $? >"$work/qrc.$n") &
                pids+=($!)
        done
        wait "${pids[@]}"
        awk -v a="$began" -v b="$EPOCHREALTIME" -v k="$k" \
                'BEGIN { printf "wall %.2f s, %.1f ms a query\n", b - a, (b - a) * 1000 / k }'
        echo "refused: $(grep -l 'Cannot send' "$work"/q.* | wc -l); exit not 0: $(grep -vx 0 "$work"/qrc.* | wc -l)"
        rm -f "$work"/q.* "$work"/qrc.*
done

say "(2b) 50 queries one after another"
began=$EPOCHREALTIME
for n in $(seq 50); do ask get_server_list >/dev/null 2>&1; done
awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "wall %.2f s, %.1f ms a query\n", b - a, (b - a) * 1000 / 50 }'

say "(3) 200 mpsmig status at once, nothing else"
began=$EPOCHREALTIME
pids=()
for n in $(seq 200); do
        ("$mpsmig" status --whole-gpus >/dev/null 2>"$work/s.$n"; echo $? >"$work/src.$n") &
        pids+=($!)
done
wait "${pids[@]}"
awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "wall %.2f s\n", b - a }'
echo "failed: $(grep -vx 0 "$work"/src.* | wc -l) of 200"
grep -h . "$work"/s.* | cut -c1-200 | sort | uniq -c | head -5

say "(3b) one mpsmig status alone, five times"
for n in 1 2 3 4 5; do
        began=$EPOCHREALTIME
        "$mpsmig" status --whole-gpus >/dev/null
        awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f ms\n", (b - a) * 1000 }'
done
