#!/bin/bash
# mpsmig-probe on the real GPU, without and through a private MPS control daemon: what the driver
# reports, that a held client shows in `ps`, the SM counts under active thread percentages
# (32 at 25 %), the pinned-memory limit refusing --alloc 3G (exit 3), and the driver's answers
# that simgpu's libcuda claims to reproduce. Changes no GPU setting; quits the daemon it starts.
# Usage: tests/hw/probe.sh PATH_TO_PROBE   (transcript in $OUT/probe.txt when $OUT is set)
set -u

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
        echo "Usage: $0 PATH_TO_PROBE" >&2
        exit 2
fi
probe_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
if [ -n "${OUT:-}" ]; then
        mkdir -p "$OUT"
        exec > >(tee "$OUT/probe.txt") 2>&1
fi

checks=0
failures=0
say() { printf '\n### %s\n' "$*"; }
pass() { checks=$((checks + 1)); echo "ok: $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL: $1"; }
check_eq() {
        if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}
# run_probe [VAR=VALUE...] -- ARGS...: the probe, its stdout in $out, stderr in $err, status $rc
run_probe() {
        vars=()
        while [ "$1" != -- ]; do
                vars+=("$1")
                shift
        done
        shift
        rc=0
        env "${vars[@]}" "$probe_bin" "$@" >"$d/out" 2>"$d/err" || rc=$?
        out=$(cat "$d/out")
        err=$(cat "$d/err")
        echo "\$ ${vars[*]} mpsmig-probe $*   -> exit $rc"
        sed 's/^/  | /' "$d/out" "$d/err"
}
field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p" | head -1; }
ctl() {
        echo "\$ echo '$*' | nvidia-cuda-mps-control"
        printf '%s\n' "$@" | nvidia-cuda-mps-control
}

# wait_quit: the daemon removes its pid file when it is gone (bounded: 5 s)
wait_quit() {
        for _ in $(seq 100); do
                [ -e "$d/pipe/nvidia-cuda-mps-control.pid" ] || return 0
                sleep 0.05
        done
        return 1
}

d=$(mktemp -d /tmp/mpsmig-hw-probe.XXXXXX)
mkdir -p "$d/pipe" "$d/log"
daemon_started=0 # a daemon was started: print its logs at the end
daemon_running=0 # it has not been seen to quit yet
cleanup() {
        for pid in $background; do
                kill -9 "$pid" 2>/dev/null
        done
        if [ "$daemon_running" = 1 ]; then
                echo quit | CUDA_MPS_PIPE_DIRECTORY=$d/pipe nvidia-cuda-mps-control
                wait_quit || echo "WARNING: the daemon did not quit"
        fi
        if [ "$daemon_started" = 1 ]; then
                echo "--- control.log"
                cat "$d/log/control.log" 2>/dev/null
                echo "--- server.log"
                cat "$d/log/server.log" 2>/dev/null
        fi
        rm -rf "$d"
}
trap cleanup EXIT

say "system"
uname -r
nvidia-smi -L
uuid=$(nvidia-smi -L | grep -oE 'GPU-[0-9a-f-]+' | head -1)
[ -n "$uuid" ] || { echo "no GPU UUID in nvidia-smi -L"; exit 1; }
echo "GPU: $uuid"
export CUDA_VISIBLE_DEVICES=$uuid
export CUDA_MPS_PIPE_DIRECTORY=$d/pipe
export CUDA_MPS_LOG_DIRECTORY=$d/log

say "without MPS (the pipe folder has no daemon yet)"
run_probe -- --json
run_probe --
check_eq "no MPS: exit 0" 0 "$rc"
check_eq "no MPS: the kernel ran" ok "$(field kernel)"
check_eq "no MPS: the UUID is nvidia-smi's" "$uuid" "$(field uuid)"
check_eq "no MPS: silent" "" "$err"
full_sms=$(field sm_count)
echo "SMs without MPS: $full_sms; name: $(field name); memory: $(field total_memory)"
run_probe CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G -- --alloc 3G
check_eq "no MPS: the MPS variables change nothing" "0 $full_sms" "$rc $(field sm_count)"

say "what simgpu reproduces about CUDA_VISIBLE_DEVICES and errors"
run_probe CUDA_VISIBLE_DEVICES=GPU-00000000-0000-0000-0000-000000000000 --
check_eq "unknown UUID: cuInit fails with NO_DEVICE" \
        "1 mpsmig-probe: cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)" \
        "$rc $err"
run_probe CUDA_VISIBLE_DEVICES="${uuid:0:12}" --
check_eq "a UUID prefix names the GPU" "0 $uuid" "$rc $(field uuid)"
run_probe CUDA_VISIBLE_DEVICES="$uuid,GPU-00000000-0000-0000-0000-000000000000" --
check_eq "the list stops at an unknown entry" "0 1" "$rc $(field device_count)"
run_probe -- --device 1
check_eq "--device past the last: INVALID_DEVICE" \
        "1 mpsmig-probe: cuDeviceGet failed: CUDA_ERROR_INVALID_DEVICE (invalid device ordinal)" \
        "$rc $err"

say "a private MPS control daemon"
nvidia-cuda-mps-control -d
check_eq "-d: exit 0" 0 "$?"
daemon_started=1
daemon_running=1

say "a client holding its context shows in ps"
"$probe_bin" --hold 2 >"$d/held" 2>&1 &
held=$!
background="$held"
seen=0
for _ in $(seq 40); do
        ctl ps >"$d/ps"
        if awk -v pid="$held" '$1 == pid' "$d/ps" | grep -q .; then
                seen=1
                break
        fi
        sleep 0.05
done
cat "$d/ps"
check_eq "ps lists the held probe ($held)" 1 "$seen"
server=$(ctl get_server_list | tail -1)
ctl "get_client_list $server"
wait "$held"
check_eq "the held probe exits 0" 0 "$?"
background=""
sed 's/^/  | /' "$d/held"
check_eq "through MPS: the kernel ran" "  kernel: ok" "$(grep 'kernel:' "$d/held")"
check_eq "through MPS at 100 %: all SMs" "  sm_count: $full_sms" "$(grep 'sm_count:' "$d/held")"
ctl ps

say "active thread percentages in the client"
run_probe CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 --
check_eq "25 %: 32 SMs" "0 32" "$rc $(field sm_count)"
run_probe CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=40 --
check_eq "40 %: 52 SMs" "0 52" "$rc $(field sm_count)"
run_probe CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=50 --
check_eq "50 %: 66 SMs (2*floor(132*50/100/2))" "0 66" "$rc $(field sm_count)"
run_probe CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=1 --
echo "1 %: $(field sm_count) SMs (simgpu says 2: one TPC at least)"
run_probe CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=200 --
check_eq "200 %: ignored" "0 $full_sms" "$rc $(field sm_count)"
run_probe CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=abc --
check_eq "abc: ignored" "0 $full_sms" "$rc $(field sm_count)"

say "pinned device memory limit in the client"
run_probe CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G -- --alloc 3G
check_eq "0=2G: 3G refused, exit 3" 3 "$rc"
check_eq "0=2G: the CUresult" "CUDA_ERROR_OUT_OF_MEMORY (3221225472 bytes)" "$(field alloc)"
run_probe CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G -- --alloc 1G
check_eq "0=2G: 1G passes" 0 "$rc"
run_probe CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="$uuid=2G" -- --alloc 3G
check_eq "<UUID>=2G: 3G refused" 3 "$rc"
run_probe CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=abc -- --alloc 3G
check_eq "0=abc: ignored" 0 "$rc"

say "a client killed with -9 leaves the client list"
"$probe_bin" --hold 30 >"$d/killed" 2>&1 &
victim=$!
background="$victim"
for _ in $(seq 40); do
        ctl ps | awk -v pid="$victim" '$1 == pid' | grep -q . && break
        sleep 0.05
done
kill -9 "$victim"
{ wait "$victim"; } 2>/dev/null
background=""
gone=0
for _ in $(seq 100); do
        server=$(ctl get_server_list | tail -1)
        if ! ctl "get_client_list $server" | grep -qx "$victim"; then
                gone=1
                break
        fi
        sleep 0.05
done
check_eq "killed client gone from get_client_list" 1 "$gone"

say "the daemon's default pinned limit (for servers started after it)"
ctl "shutdown_server $(ctl get_server_list | tail -1)"
sleep 0.5
ctl "set_default_device_pinned_mem_limit 0 2G" "get_default_device_pinned_mem_limit 0"
run_probe -- --alloc 3G
check_eq "default 0 2G: 3G refused" 3 "$rc"
run_probe -- --alloc 1G
check_eq "default 0 2G: 1G passes" 0 "$rc"

say "after quit: no daemon, the client runs without MPS"
ctl quit
wait_quit && daemon_running=0
check_eq "quit: the daemon is gone" 0 "$daemon_running"
run_probe -- --alloc 3G
check_eq "after quit: runs, 3G allocated, silent" "0 $full_sms " "$rc $(field sm_count) $err"

echo
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
