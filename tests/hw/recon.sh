#!/bin/bash
# Reads facts about the real MPS control program that simgpu and the control-program client rely
# on and that docs/driver-facts*.md do not record yet. Safe: private folders, every daemon quit.
# Usage: tests/hw/recon.sh   (writes $OUT/recon.txt when $OUT is set)
set -u
out=${OUT:-/tmp}/recon.txt
exec > >(tee "$out") 2>&1
say() { printf '\n### %s\n' "$*"; }
d=$(mktemp -d /tmp/mpsmig-recon.XXXXXX)
mkdir -p "$d/pipe" "$d/log"
uuid=$(nvidia-smi -L | grep -oE 'GPU-[0-9a-f-]+' | head -1)
export CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$d/pipe CUDA_MPS_LOG_DIRECTORY=$d/log
ctl() { printf '%b' "$1" | nvidia-cuda-mps-control; echo "[status $?]"; }

say "system"
uname -a; ldd --version | head -1; nvidia-smi -L; command -v nvidia-cuda-mps-control
ls /usr/lib/x86_64-linux-gnu/ | grep -E 'jansson|cmocka' || echo "no jansson/cmocka"

say "does -d keep the caller's stdout pipe open? (time until the pipe reader sees EOF)"
start=$(date +%s%N)
timeout 5 sh -c 'nvidia-cuda-mps-control -d | cat >/dev/null'; echo "pipeline status $?"
end=$(date +%s%N); echo "elapsed_ms $(( (end - start) / 1000000 ))"
pid=$(cat "$d/pipe/nvidia-cuda-mps-control.pid"); echo "daemon pid $pid"
echo "comm: $(cat /proc/$pid/comm)"; echo "exe: $(readlink /proc/$pid/exe)"
echo "cmdline: $(tr '\0' ' ' </proc/$pid/cmdline)"
echo "fds:"; ls -l /proc/$pid/fd | sed 's/^/  /'
echo "environ:"; tr '\0' '\n' </proc/$pid/environ | grep -E '^CUDA_' | sed 's/^/  /'
echo "ppid/sid: $(awk '{print "ppid", $4, "pgrp", $5, "sid", $6}' /proc/$pid/stat)"

say "overview in one stdin, no server"
ctl 'get_server_list\nps\nget_default_active_thread_percentage\nget_default_device_pinned_mem_limit 0\nget_default_client_priority\n'

say "start_server -uid 0, then the same overview"
ctl 'start_server -uid 0\n'
sleep 0.5
ctl 'get_server_list\nps\nget_default_active_thread_percentage\nget_default_device_pinned_mem_limit 0\nget_default_client_priority\n'
spid=$(printf 'get_server_list\n' | nvidia-cuda-mps-control | head -1)
echo "server $spid comm: $(cat /proc/$spid/comm 2>/dev/null) exe: $(readlink /proc/$spid/exe 2>/dev/null) uid: $(awk '/^Uid/{print $2}' /proc/$spid/status 2>/dev/null) ppid: $(awk '{print $4}' /proc/$spid/stat 2>/dev/null)"
ctl "get_server_status $spid\nget_client_list $spid\nps -p $spid\n"

say "pinned limits: set 512M, 1500M, 2G and read back; percentages 33.3, 0.5"
ctl 'set_default_device_pinned_mem_limit 0 512M\nget_default_device_pinned_mem_limit 0\n'
ctl 'set_default_device_pinned_mem_limit 0 1500M\nget_default_device_pinned_mem_limit 0\n'
ctl 'set_default_device_pinned_mem_limit 0 2G\nget_default_device_pinned_mem_limit 0\n'
ctl 'set_default_active_thread_percentage 33.3\nget_default_active_thread_percentage\n'
ctl 'set_default_active_thread_percentage 0.5\nget_default_active_thread_percentage\n'
ctl 'set_default_active_thread_percentage 100\n'
ctl 'set_default_client_priority 2\nget_default_client_priority\nset_default_client_priority 0\n'

say "unknown and empty"
ctl 'bogus\n\nget_default_client_priority\n'

say "shutdown_server, then ps"
ctl "shutdown_server $spid\n"
sleep 0.5
ctl 'ps\nget_server_list\n'

say "quit -t 5 timing and output"
start=$(date +%s%N)
ctl 'quit -t 5\n'
end=$(date +%s%N); echo "elapsed_ms $(( (end - start) / 1000000 ))"
sleep 0.3
echo "pid $pid alive after quit? $(kill -0 $pid 2>/dev/null && echo yes || echo no)"
ls -la "$d/pipe" "$d/log"
say "control.log"
cat "$d/log/control.log"
say "after quit: client mode"
ctl 'get_server_list\n'
rm -rf "$d"
