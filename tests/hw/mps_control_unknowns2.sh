#!/bin/bash
# Reads what docs/simgpu-mps.md still marks as guessed [S] after the first unknowns run: a pipe
# folder whose parent is missing, the mode of a pipe folder -d makes, -d with -q, an unknown short
# option, pinned units T/g/0/X, what a starting server answers, terminate_client and
# get_device_client_list with a client, device_query's PID and --csv, the exit status of -d for
# unknown GPU- and MIG- UUIDs, the server's cmdline bytes. Changes no GPU setting; private
# folders; every daemon it starts is quit.
# Usage: tests/hw/mps_control_unknowns2.sh BUNDLE_DIR   (BUNDLE_DIR holds mpsmig-probe; writes
# $OUT/mps_control_unknowns2.txt)
set -u
bundle=$(cd "${1:?Usage: tests/hw/mps_control_unknowns2.sh BUNDLE_DIR}" && pwd)
probe=$bundle/mpsmig-probe
out=${OUT:-/tmp}/mps_control_unknowns2.txt
exec > >(tee "$out") 2>&1
say() { printf '\n### %s\n' "$*"; }
d=$(mktemp -d /tmp/mpsmig-unknowns2.XXXXXX)
mkdir -p "$d/pipe" "$d/log"
uuid=$(nvidia-smi -L | grep -oE 'GPU-[0-9a-f-]+' | head -1)
export CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$d/pipe CUDA_MPS_LOG_DIRECTORY=$d/log
# run CMD...: stdout, stderr and status apart (stdout through od -c when it holds odd bytes).
run() {
        "$@" >"$d/o" 2>"$d/e" </dev/null
        echo "[status $?]"
        sed 's/^/  stdout: /' "$d/o" | head -n 5
        sed 's/^/  stderr: /' "$d/e"
}
run_in() {
        nvidia-cuda-mps-control <"$d/in" >"$d/o" 2>"$d/e"
        echo "[status $?]"
        sed 's/^/  stdout: /' "$d/o"
        sed 's/^/  stderr: /' "$d/e"
}
ask() { printf '%b' "$1" >"$d/in"; run_in; }
# quit_at PIPE_DIR: quit a daemon there if one answers (every start below is followed by this).
quit_at() { printf 'quit\n' | CUDA_MPS_PIPE_DIRECTORY=$1 nvidia-cuda-mps-control >/dev/null 2>&1; }
held=""
cleanup() {
        [ -n "$held" ] && kill "$held" 2>/dev/null && wait "$held" 2>/dev/null
        quit_at "$d/pipe"
        quit_at "$d/noparent/pipe"
        quit_at "$d/made"
        quit_at "$d/q"
        quit_at "$d/uuid"
        sleep 0.5
        rm -rf "$d"
}
trap cleanup EXIT

say "pipe folder whose parent is missing too (log folder missing too)"
CUDA_MPS_PIPE_DIRECTORY=$d/noparent/pipe CUDA_MPS_LOG_DIRECTORY=$d/nolog1 run nvidia-cuda-mps-control -d
ls -ld "$d/noparent" "$d/noparent/pipe" "$d/nolog1" 2>&1
quit_at "$d/noparent/pipe"

say "pipe folder missing, parent present: the modes -d gives the folders it makes"
(umask 022 && CUDA_MPS_PIPE_DIRECTORY=$d/made CUDA_MPS_LOG_DIRECTORY=$d/madelog run nvidia-cuda-mps-control -d)
ls -ld "$d/made" "$d/madelog" 2>&1
quit_at "$d/made"

say "-d -q (--ready-devices)"
mkdir -p "$d/q"
start=$(date +%s%N)
CUDA_MPS_PIPE_DIRECTORY=$d/q run timeout 20 nvidia-cuda-mps-control -d -q
echo "returned after $((($(date +%s%N) - start) / 1000000)) ms"
quit_at "$d/q"

say "unknown short option -z"
nvidia-cuda-mps-control -z </dev/null 2>"$d/e" | head -n 2 | od -c | head -n 4
echo "stderr: $(cat "$d/e")"

say "unknown UUIDs: the exit status of -d"
mkdir -p "$d/uuid"
for bad in GPU-00000000-0000-0000-0000-000000000000 MIG-00000000-0000-0000-0000-000000000000; do
        CUDA_VISIBLE_DEVICES=$bad CUDA_MPS_PIPE_DIRECTORY=$d/uuid run nvidia-cuda-mps-control -d
        ls "$d/uuid"
        quit_at "$d/uuid"
        sleep 0.3
done

say "the main daemon"
run nvidia-cuda-mps-control -d

say "pinned units: 1T, 3t, 2g, 0, 2X, 1.5G"
for value in 1T 3t 2g 0 2X 1.5G; do
        echo "value $value:"
        ask "set_default_device_pinned_mem_limit 1 $value\nget_default_device_pinned_mem_limit 1\n"
done

say "a starting server: every answer in the same stdin as start_server"
ask "start_server -uid 0\nget_server_list\nps\n"
spid=$(printf 'get_server_list\n' | nvidia-cuda-mps-control | head -1)
ask "get_server_status $spid\nget_client_list $spid\nps -p $spid\ndevice_query\n"
sleep 1
echo "after 1 s:"
ask "get_server_status $spid\nps -p $spid\n"
echo "server $spid cmdline bytes:"
od -c "/proc/$spid/cmdline" | head -n 3

say "a held client: get_device_client_list, device_query PID and --csv, terminate_client"
"$probe" --hold 20 >"$d/held" 2>&1 &
held=$!
for _ in $(seq 100); do
        printf 'get_client_list %s\n' "$spid" | nvidia-cuda-mps-control | grep -qx "$held" && break
        sleep 0.1
done
ask "get_device_client_list\nget_device_client_list $spid\n"
ask "device_query $spid\n"
ask "device_query --csv\n"
ask "terminate_client $spid $held\n"
sleep 1
ask "get_client_list $spid\nps\n"
wait "$held"
echo "held probe exit status: $?"
held=""
sed 's/^/  | /' "$d/held"

say "quit"
ask 'quit\n'
sleep 0.5
tail -n 60 "$d/log/control.log"
echo "server.log:"
tail -n 30 "$d/log/server.log"
