#!/bin/bash
# Reads what docs/simgpu-mps.md marks as guessed [S] about the real nvidia-cuda-mps-control:
# message streams, exit statuses, help text, answers to unknown pids and bad arguments, file
# bytes and modes. Changes no GPU setting; private folders; every daemon it starts is quit.
# Usage: tests/hw/mps_control_unknowns.sh [BUNDLE_DIR]   (writes $OUT/mps_control_unknowns.txt)
set -u
out=${OUT:-/tmp}/mps_control_unknowns.txt
exec > >(tee "$out") 2>&1
say() { printf '\n### %s\n' "$*"; }
d=$(mktemp -d /tmp/mpsmig-unknowns.XXXXXX)
mkdir -p "$d/pipe" "$d/log"
uuid=$(nvidia-smi -L | grep -oE 'GPU-[0-9a-f-]+' | head -1)
export CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$d/pipe CUDA_MPS_LOG_DIRECTORY=$d/log
# run CMD...: stdout, stderr and status apart.
run() {
        "$@" >"$d/o" 2>"$d/e"
        echo "[status $?]"
        sed 's/^/  stdout: /' "$d/o"
        sed 's/^/  stderr: /' "$d/e"
}
ctl() { printf '%b' "$1" >"$d/in"; run nvidia-cuda-mps-control <"$d/in"; }
cleanup() {
        printf 'quit\n' | nvidia-cuda-mps-control >/dev/null 2>&1
        rm -rf "$d"
}
trap cleanup EXIT

say "no daemon: which stream"
ctl 'get_server_list\n'

say "help, unknown option, -q, -M alone"
run nvidia-cuda-mps-control -h
run nvidia-cuda-mps-control --bogus
run timeout 5 nvidia-cuda-mps-control -q
run timeout 5 nvidia-cuda-mps-control -M </dev/null

say "missing pipe folder with a missing log folder: order of the lines"
CUDA_MPS_PIPE_DIRECTORY=$d/nopipe CUDA_MPS_LOG_DIRECTORY=$d/nolog run nvidia-cuda-mps-control -d
ls -ld "$d/nolog" 2>&1

say "start; second -d: which stream"
run nvidia-cuda-mps-control -d
run nvidia-cuda-mps-control -d
echo "pid file bytes:"; od -c "$d/pipe/nvidia-cuda-mps-control.pid"
ls -l "$d/pipe"

say "answers without a server"
ctl 'device_query\n'
ctl 'get_device_client_list\n'
ctl 'ps -p 1\n'
ctl 'terminate_client 1 2\n'
ctl 'shutdown_server 1\n'
ctl 'set_active_thread_percentage 1 50\n'
ctl 'get_active_thread_percentage 1\n'
ctl 'start_server\nstart_server -uid\nstart_server -uid abc\nget_server_list\n'

say "bad pinned arguments, small values, K units"
ctl 'set_default_device_pinned_mem_limit 7 1G\nset_default_device_pinned_mem_limit 0 lots\nget_default_device_pinned_mem_limit 0\n'
ctl 'set_default_device_pinned_mem_limit 0 512K\nget_default_device_pinned_mem_limit 0\n'
ctl 'set_default_device_pinned_mem_limit 0 1048576\nget_default_device_pinned_mem_limit 0\n'
ctl 'set_default_device_pinned_mem_limit 0 2GB\nget_default_device_pinned_mem_limit 0\n'
ctl 'set_default_active_thread_percentage 33.33\nset_default_active_thread_percentage 100\n'

say "with a server"
ctl 'start_server -uid 0\n'
sleep 0.5
spid=$(printf 'get_server_list\n' | nvidia-cuda-mps-control | head -1)
echo "server $spid cmdline: $(tr '\0' ' ' <"/proc/$spid/cmdline" 2>/dev/null)"
ctl "device_query\n"
ctl "get_device_client_list\nget_device_client_list $spid\n"
ctl "terminate_client $spid 1\n"
ctl "ps -p 1\n"
ctl "get_device_pinned_mem_limit $spid 0\n"

say "quit without -t: the log lines"
ctl 'quit\n'
sleep 0.5
tail -n 40 "$d/log/control.log"
echo "server.log:"; cat "$d/log/server.log"
