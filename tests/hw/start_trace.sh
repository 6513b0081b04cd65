#!/bin/bash
# Where a warm `mpsmig start --whole-gpus 0` spends its time on a real node: two runs under
# strace -f -b execve -ttt (process, lock, NVML-library and device-file events only; children
# that exec are not followed), after an untimed start and stop that write the node cache. strace
# slows the traced processes: read the order of events, not the durations. Changes no GPU
# setting; the daemon it starts is stopped.
# Usage: tests/hw/start_trace.sh BUNDLE_DIR   (writes $OUT/start_trace.txt)
set -u
bundle=$(cd "${1:?Usage: tests/hw/start_trace.sh BUNDLE_DIR}" && pwd)
mpsmig=$bundle/mpsmig
out=${OUT:-/tmp}/start_trace.txt
exec > >(tee "$out") 2>&1
work=$(mktemp -d /tmp/mpsmig-trace.XXXXXX)
trap '"$mpsmig" stop --whole-gpus --force --runtime-dir "$work/run" >/dev/null 2>&1; rm -rf "$work"' EXIT
# bundle.sh carries strace and its libraries in tools/ for machines without one.
PATH=$bundle/tools:$PATH
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$bundle/tools
command -v strace >/dev/null || { echo "strace is not installed here, nor in $bundle/tools"; exit 1; }
"$mpsmig" start --whole-gpus --runtime-dir "$work/run" 0 >/dev/null
"$mpsmig" stop --whole-gpus --runtime-dir "$work/run" 0 >/dev/null
for run in 1 2; do
        echo "### traced warm start $run"
        timeout 20 strace -f -b execve -ttt -o "$work/trace" \
                -e trace=execve,clone,clone3,vfork,exit_group,wait4,waitid,flock,openat,connect,nanosleep,clock_nanosleep \
                "$mpsmig" start --whole-gpus --runtime-dir "$work/run" 0 >/dev/null
        awk 'NR == 1 { t0 = $2 } { printf "%8.2f ms  %s\n", ($2 - t0) * 1000, $0 }' "$work/trace" |
                grep -E 'execve|clone|vfork|exit_group|wait4|waitid|flock|nvidia-ml|libcuda|nvidiactl|nvidia0|connect|nanosleep|node.json|\+\+\+ exited' |
                grep -v -e ENOENT -e 'openat(AT_FDCWD, "'"$bundle" | cut -c1-170
        "$mpsmig" stop --whole-gpus --runtime-dir "$work/run" 0 >/dev/null
done
