#!/bin/bash
# `mpsmig doctor` and `mpsmig bench` on a real GPU node (an H200 with MIG disabled, root): in a
# fresh runtime folder, start the whole GPU's daemon; doctor finds nothing wrong; bench for N = 1,
# 2, 4, 8, 16, 32 (twice: text with the plot's script, then JSON) must show MPS at least 13 times
# faster than time-slicing at N = 16 and at least 95 % of N times one client's rate; limits set
# right are seen held; then each fault that can be planted here is named by doctor, which exits 1:
# a pinned limit under a wrong key, a 0700 parent folder, a second daemon on the device, a shell
# whose CUDA_MPS_PIPE_DIRECTORY has no daemon, and a daemon killed with -9 (stale folder, client
# bypassed MPS). Changes no GPU setting; every daemon it starts is quit, also when it fails.
# Usage: tests/hw/doctor_bench.sh PATH_TO_MPSMIG  (mpsmig-probe beside it)
# Writes $OUT/doctor.txt, $OUT/bench.txt, $OUT/bench.json and $OUT/bench.svg.gp (no gnuplot there).
set -u
mpsmig=$(realpath "${1:?Usage: tests/hw/doctor_bench.sh PATH_TO_MPSMIG}")
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-doctor.XXXXXX)}
mkdir -p "$out_dir"

work=$(mktemp -d /tmp/mpsmig-hw.XXXXXX)
chmod 0755 "$work"
runtime=$work/run
second_pipe=$work/p2
control=$(command -v nvidia-cuda-mps-control)
uuid=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -1)
pipe=$runtime/$uuid/pipe

passed=0
failed=0
pass() {
        passed=$((passed + 1))
        echo "PASS: $1"
}
fail() {
        failed=$((failed + 1))
        echo "FAIL: $1"
}
check() {
        if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
}
say() { printf '\n### %s\n' "$*"; }
# run CMD...: shows and runs it, keeps stdout in $out, status in $rc (stderr shown).
run() {
        echo "\$ $*"
        out=$("$@" 2>"$work/stderr")
        rc=$?
        [ -n "$out" ] && echo "$out"
        [ -s "$work/stderr" ] && cat "$work/stderr"
        echo "[exit $rc]"
}
ctl() { printf '%b' "$2" | CUDA_MPS_PIPE_DIRECTORY=$1 "$control"; }
finding() { grep -E "^  (ERROR|warning) +$1 " <<<"$out" | head -1; }
doctor() { run "$mpsmig" doctor --runtime-dir "$runtime" "$@"; }
servers_down() {
        for server in $(ctl "$pipe" 'get_server_list\n' 2>/dev/null); do
                ctl "$pipe" "shutdown_server $server\n" >/dev/null 2>&1
        done
        for _ in $(seq 50); do
                [ -z "$(ctl "$pipe" 'get_server_list\n' 2>/dev/null)" ] && return
                sleep 0.1
        done
}

cleanup() {
        chmod 0755 "$work" 2>/dev/null
        ctl "$second_pipe" 'quit\n' >/dev/null 2>&1
        "$mpsmig" stop --whole-gpus --force --runtime-dir "$runtime" >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT

{
        say "system"
        date -u '+%Y-%m-%d %H:%M UTC'
        uname -r
        "$mpsmig" --version
        nvidia-smi --query-gpu=index,name,driver_version,mig.mode.current,compute_mode,clocks.max.sm --format=csv
        echo "ulimit -n: $(ulimit -n)"

        say "start"
        run "$mpsmig" start --whole-gpus --runtime-dir "$runtime"
        check "start: exit 0" 0 "$rc"

        say "doctor on a healthy daemon"
        doctor 0
        check "healthy: exit 0" 0 "$rc"
        check "healthy: the probe went through the daemon" ok \
                "$(grep -qE '^  ok +client +a probe client .* went through the daemon' <<<"$out" && echo ok)"
        doctor --json 0 >/dev/null
} >"$out_dir/doctor.txt" 2>&1

{
        say "bench, N = 1 2 4 8 16 32"
        run "$mpsmig" bench --runtime-dir "$runtime" --clients 1,2,4,8,16,32 --plot "$out_dir/bench.svg" 0
        check "bench: exit 0" 0 "$rc"
        row=$(awk '$1 == 16' <<<"$out")
        speedup=$(awk '{ v = $(NF - 2); sub(/x$/, "", v); print v }' <<<"$row")
        efficiency=$(awk '{ print $(NF - 1) }' <<<"$row")
        echo "N = 16: speed-up $speedup, efficiency $efficiency %"
        check "N = 16: MPS at least 13 times faster than time-slicing" yes \
                "$(awk -v v="$speedup" 'BEGIN { print (v >= 13 ? "yes" : "no") }')"
        check "N = 16: at least 95 % of 16 times one client's rate" yes \
                "$(awk -v v="$efficiency" 'BEGIN { print (v >= 95 ? "yes" : "no") }')"
        say "bench again, as JSON"
        "$mpsmig" bench --runtime-dir "$runtime" --clients 1,2,4,8,16,32 --json 0 >"$out_dir/bench.json"
        check "bench --json: exit 0" 0 "$?"
} >"$out_dir/bench.txt" 2>&1

{
        say "limits set before the server starts are seen held"
        servers_down
        ctl "$pipe" 'set_default_active_thread_percentage 40\nset_default_device_pinned_mem_limit 0 2G\n'
        doctor 0
        check "limits: exit 0" 0 "$rc"
        check "limits: 52 SMs at 40 %" ok "$(grep -qE '^  ok +threads +the client saw 52 of 132' <<<"$out" && echo ok)"
        check "limits: 2G holds" ok "$(grep -qE '^  ok +pinned-limit +a client.s allocation .* was refused' <<<"$out" && echo ok)"

        say "fault: a pinned limit under a wrong key"
        ctl "$pipe" 'set_default_device_pinned_mem_limit 1 4G\n'
        doctor 0
        check "wrong key: exit 1" 1 "$rc"
        check "wrong key: named" yes "$(finding pinned-limit | grep -q 'wrong key 1' && echo yes)"
        ctl "$pipe" 'set_default_device_pinned_mem_limit 1 0\n'

        say "fault: a 0700 parent folder"
        chmod 0700 "$work"
        doctor 0
        chmod 0755 "$work"
        check "0700 parent: exit 1" 1 "$rc"
        check "0700 parent: named" yes "$(finding folders | grep -q "$work" && echo yes)"

        say "fault: a second daemon on the device (as the seed scripts start one)"
        mkdir -p "$second_pipe" "$work/l2"
        CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$second_pipe CUDA_MPS_LOG_DIRECTORY=$work/l2 "$control" -d
        doctor 0
        ctl "$second_pipe" 'quit\n'
        check "second daemon: exit 1" 1 "$rc"
        check "second daemon: named" yes "$(finding second-daemon | grep -q "$second_pipe" && echo yes)"

        say "fault: this shell's CUDA_MPS_PIPE_DIRECTORY has no daemon"
        mkdir -p "$work/empty"
        export CUDA_MPS_PIPE_DIRECTORY=$work/empty
        doctor 0
        unset CUDA_MPS_PIPE_DIRECTORY
        check "no daemon behind the shell's pipe folder: exit 1" 1 "$rc"
        check "no daemon behind the shell's pipe folder: named" yes \
                "$(finding environment | grep -q 'WITHOUT MPS' && echo yes)"

        say "fault: the daemon killed with -9 (stale folder, client bypassed MPS)"
        servers_down
        daemon=$(cat "$pipe/nvidia-cuda-mps-control.pid")
        kill -9 "$daemon"
        sleep 0.5
        doctor 0
        check "killed daemon: exit 1" 1 "$rc"
        check "killed daemon: stale named" yes "$(finding daemon | grep -q 'stale' && echo yes)"
        check "killed daemon: client bypassed MPS named" yes \
                "$(finding client | grep -q 'client bypassed MPS' && echo yes)"
        run "$mpsmig" stop --whole-gpus --runtime-dir "$runtime"
        check "stop cleans up: exit 0" 0 "$rc"

        say "summary"
        echo "$passed passed, $failed failed"
        echo "control daemons or servers left: $(pgrep -c -x nvidia-cuda-mps || true)"
} >>"$out_dir/doctor.txt" 2>&1
cat "$out_dir/bench.txt" "$out_dir/doctor.txt" | grep -E '^(PASS|FAIL|N = 16|[0-9]+ passed)'
[ "$failed" -eq 0 ]
