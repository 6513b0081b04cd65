#!/bin/bash
# The configuration file on a real GPU node (an H200 or H100, MIG disabled, root): a config with
# 40 % threads, a 10G pinned limit and root's server started ahead, applied by `mpsmig start` to
# the whole GPU's daemon in a private runtime folder and read back by status. The probe through
# the daemon sees 52 SMs; --alloc 11G is refused (exit 3) while 9G passes; its wall-clock time
# (measured from outside, median of 5) is compared with the same probe without MPS, and with the
# first client of a daemon whose server starts lazily. Then `mpsmig set` on the running daemon.
# Changes no GPU setting; every daemon it starts is in a private folder and is quit.
# Usage: tests/hw/config_limits.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE
# Writes its transcript to $OUT/config_limits.txt.
set -u
mpsmig=${1:?Usage: tests/hw/config_limits.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE}
probe=${2:?Usage: tests/hw/config_limits.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE}
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-config.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/config_limits.txt") 2>&1

work=$(mktemp -d /tmp/mpsmig-cfg.XXXXXX)
chmod 0755 "$work"
runtime=$work/run
export MPSMIG_RUNTIME_DIR=$runtime
no_mps=$work/no-mps # a pipe folder without a daemon: a client there runs without MPS
mkdir -m 0755 "$no_mps"
runs=5

say() { printf '\n### %s\n' "$*"; }
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
        if [ "$2" = "$3" ]; then
                pass "$1"
        else
                fail "$1 (expected '$2', got '$3')"
        fi
}
run() {
        echo "\$ $*"
        out=$("$@" 2>"$work/stderr")
        rc=$?
        err=$(cat "$work/stderr")
        [ -n "$out" ] && echo "$out"
        [ -n "$err" ] && echo "$err"
        echo "[exit $rc]"
}
field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p" | head -1; }
m() { run "$mpsmig" --config "$conf" "$@"; }
ask() { printf '%b' "$1" | CUDA_MPS_PIPE_DIRECTORY=$pipe CUDA_VISIBLE_DEVICES=$uuid nvidia-cuda-mps-control; }

# ms CMD...: runs CMD (output to $work/last), prints its wall-clock milliseconds, measured from
# outside with date +%s%N; its status in $rc.
ms() {
        local begin end
        begin=$(date +%s%N)
        "$@" >"$work/last" 2>&1
        rc=$?
        end=$(date +%s%N)
        echo $(((end - begin) / 1000000))
}
median() { tr ' ' '\n' <<<"$*" | sort -n | sed -n "$((($# + 1) / 2))p"; }

cleanup() {
        "$mpsmig" --config "$conf" stop --whole-gpus >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT

say "system"
uname -r
"$mpsmig" --version
nvidia-smi --query-gpu=index,name,memory.total,mig.mode.current,compute_mode --format=csv,noheader
uuid=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -1)
pipe=$runtime/$uuid/pipe
if pgrep -x nvidia-cuda-mps >/dev/null; then
        echo "note: MPS processes already run on this node:"
        ps -o pid,stat,args -C nvidia-cuda-mps-control,nvidia-cuda-mps-server
fi

conf=$work/mpsmig.conf
cat >"$conf" <<EOF
# the acceptance configuration: every target gets 40 % of the SMs, a 10G pinned limit, and
# root's MPS server started with its daemon
[global]
whole_gpus = yes
threads = 40
pinned_mem = 10G
start_server = root
EOF
chmod 0644 "$conf"
cat "$conf"

say "config check"
m config check --wide
check "config check: exit 0" 0 "$rc"

say "the probe without MPS ($runs runs, CUDA_MPS_PIPE_DIRECTORY without a daemon)"
without=""
for _ in $(seq "$runs"); do
        t=$(CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$no_mps ms "$probe")
        without="$without $t"
done
echo "wall ms:$without (median $(median $without)); last exit $rc"
cat "$work/last"

say "start: the configured limits, read back, and root's server ahead"
begin=$(date +%s%N)
m start --wide
echo "start took $((($(date +%s%N) - begin) / 1000000)) ms"
check "start: exit 0" 0 "$rc"
m status --json
check "status --json: threads read back" 1 "$(grep -c '"default_active_thread_percentage": 40.0' <<<"$out")"
check "status --json: pinned read back" 1 "$(grep -c '"text": "10G"' <<<"$out")"
servers=$(ask 'get_server_list\n')
echo "servers before any client: $servers"
check "one server runs before any client" 1 "$(wc -w <<<"$servers")"
echo "ps before any client: '$(ask 'ps\n')'"

say "the probe through the daemon (server started ahead): SMs, pinned limit, membership"
m run --on 0 -- "$probe"
check "probe through MPS: exit 0" 0 "$rc"
check "40 % of 132 SMs" 52 "$(field sm_count)"
m run --on 0 -- "$probe" --alloc 11G
check "--alloc 11G past the 10G limit: exit 3" 3 "$rc"
m run --on 0 -- "$probe" --alloc 9G
check "--alloc 9G within it: exit 0" 0 "$rc"
"$mpsmig" run --on 0 -- "$probe" --hold 3 >"$work/held" 2>&1 &
held=$!
sleep 1.5
clients=$(ask "get_client_list $servers\n")
echo "clients of server $servers while the probe holds: $clients"
check "the held probe is a client of the server started ahead" "$held" "$(grep -x "$held" <<<"$clients")"
wait "$held"

say "probe timing through the daemon, server started ahead ($runs runs; the probe alone, with mpsmig env's variables)"
eval "$("$mpsmig" env 0)"
echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES CUDA_MPS_PIPE_DIRECTORY=$CUDA_MPS_PIPE_DIRECTORY"
through=""
for _ in $(seq "$runs"); do
        t=$(ms "$probe")
        through="$through $t"
done
echo "wall ms:$through (median $(median $through)); last exit $rc"
cat "$work/last"
unset CUDA_VISIBLE_DEVICES CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
run_total=""
for _ in $(seq "$runs"); do
        t=$(ms "$mpsmig" run --on 0 -- "$probe")
        run_total="$run_total $t"
done
echo "mpsmig run -- probe, whole command, wall ms:$run_total (median $(median $run_total))"
echo "server list after the runs: $(ask 'get_server_list\n')"
a=$(median $without)
b=$(median $through)
echo "median without MPS $a ms, through the daemon with its server ahead $b ms: ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
check "through the daemon within 10 % of without MPS" yes "$(awk -v a="$a" -v b="$b" 'BEGIN { print (b <= a * 1.10) ? "yes" : "no" }')"

say "mpsmig set on the running daemon"
m set --threads 25 0
check "set --threads 25: exit 0" 0 "$rc"
m run --on 0 -- "$probe"
echo "a client of the running server after set: $(field sm_count) SMs (the server keeps its 40 %)"

say "stop"
m stop --whole-gpus
check "stop: exit 0" 0 "$rc"

say "for contrast: the first client of a daemon whose server starts lazily ($runs fresh daemons)"
sed -i '/^start_server/d' "$conf"
lazy=""
for _ in $(seq "$runs"); do
        "$mpsmig" --config "$conf" start >/dev/null 2>&1 ||
                fail "start without a server ahead"
        eval "$("$mpsmig" env 0)"
        t=$(ms "$probe")
        sms=$(sed -n 's/^ *sm_count: //p' "$work/last")
        unset CUDA_VISIBLE_DEVICES CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
        lazy="$lazy $t"
        "$mpsmig" --config "$conf" stop >/dev/null 2>&1 ||
                fail "stop without a server ahead"
done
echo "first client, lazy server, wall ms:$lazy (median $(median $lazy)); it saw $sms SMs"
echo "ratio to without MPS: $(awk -v a="$a" -v b="$(median $lazy)" 'BEGIN { printf "%.2f", b / a }')"

say "summary"
echo "without MPS (median of $runs): $a ms"
echo "through the daemon, server started ahead (median of $runs): $b ms"
echo "mpsmig run -- probe, whole command (median of $runs): $(median $run_total) ms"
echo "first client of a fresh daemon, lazy server (median of $runs): $(median $lazy) ms"
left=$(pgrep -x nvidia-cuda-mps | while read -r pid; do
        grep -qsz "CUDA_MPS_PIPE_DIRECTORY=$work" "/proc/$pid/environ" && echo "$pid"
done)
check "no daemon of this script left" "" "$left"
echo "passed $passed, failed $failed"
[ "$failed" -eq 0 ]
