#!/bin/bash
# `mpsmig start` through the node agent on a real GPU node (an H200 with MIG disabled, root), and
# the agent applying its configuration file. Part 1: RUNS rounds, each timing a bare
# `nvidia-cuda-mps-control -d` plus its first answer (get_server_list) in a private folder, then
# (that daemon quit) `mpsmig start --whole-gpus` of the target the agent holds stopped; medians
# and their ratio (goal: at most 1.1). Part 2: the agent started with a file (40 % threads, a 10G
# pinned limit, root's server started ahead): status reads them back, the probe sees 52 SMs
# through the agent's daemon; the daemon killed with SIGKILL comes back with them (52 SMs again).
# Changes no GPU setting; every daemon is in a private folder and quit before the script ends.
# Usage: tests/hw/agent_start.sh BUNDLE_DIR [RUNS]   (tests/hw/bundle.sh makes the bundle)
# Writes its transcript to $OUT/agent_start.txt.
set -u
bundle=$(cd "${1:?Usage: tests/hw/agent_start.sh BUNDLE_DIR [RUNS]}" && pwd)
runs=${2:-10}
mpsmig=$bundle/mpsmig
probe=$bundle/mpsmig-probe
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-agent-start.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/agent_start.txt") 2>&1

work=$(mktemp -d /tmp/mpsmig-hw.XXXXXX)
chmod 0755 "$work"
runtime=$work/run
export MPSMIG_RUNTIME_DIR=$runtime
control=$(command -v nvidia-cuda-mps-control)

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
        if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi
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
alive() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ]
}
now_ns() { date +%s%N; }
median_ms() {
        printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                printf "%.2f", m / 1000000 }'
}
# answers PIPE: the daemon of PIPE answers get_server_list now.
answers() {
        local answer
        answer=$(echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$1 "$control" 2>&1) || return 1
        case $answer in *Cannot*) return 1 ;; esac
        return 0
}
# wait_agent_ready: until the agent's log says ready (at most 30 s).
wait_agent_ready() {
        for _ in $(seq 1500); do grep -q '^<5>ready' "$work/agent.log" && return 0; sleep 0.02; done
        return 1
}
# jfield KEY: the first value of "KEY": in the agent's status --json (one target; no jq there).
jfield() {
        "$mpsmig" status --whole-gpus --json 2>/dev/null | grep -o "\"$1\": [^,}]*" | head -1 |
                sed 's/^[^:]*: //; s/"//g'
}
# server_count: the servers the agent's daemon lists.
server_count() { echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>/dev/null | wc -w; }

agent=
bare_pipe=$work/bare/pipe
cleanup() {
        if [ -n "$agent" ] && alive "$agent"; then
                kill -TERM "$agent"
                for _ in $(seq 300); do alive "$agent" || break; sleep 0.1; done
        fi
        [ -d "$bare_pipe" ] && echo quit | CUDA_MPS_PIPE_DIRECTORY=$bare_pipe "$control" >/dev/null 2>&1
        MPSMIG_NO_AGENT=1 "$mpsmig" stop --whole-gpus --force --runtime-dir "$runtime" >/dev/null 2>&1
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

say "part 1: the agent without a file; its target stopped, then started $runs times"
"$mpsmig" daemon --whole-gpus --poll 0 >"$work/agent.out" 2>"$work/agent.log" &
agent=$!
wait_agent_ready && pass "the agent is ready" || fail "the agent is ready"
run "$mpsmig" stop --whole-gpus
check "stop through the agent: exit 0" 0 "$rc"
bare_times=
start_times=
mkdir -p "$bare_pipe" "$work/bare/log"
for i in $(seq "$runs"); do
        # a bare daemon and its first answer, on the same device, in its own folder
        began=$(now_ns)
        CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$bare_pipe CUDA_MPS_LOG_DIRECTORY=$work/bare/log \
                "$control" -d
        until answers "$bare_pipe"; do :; done
        bare=$(($(now_ns) - began))
        bare_pid=$(cat "$bare_pipe/nvidia-cuda-mps-control.pid")
        echo quit | CUDA_MPS_PIPE_DIRECTORY=$bare_pipe "$control" >/dev/null
        for _ in $(seq 500); do alive "$bare_pid" || break; sleep 0.01; done
        # mpsmig start through the agent
        began=$(now_ns)
        "$mpsmig" start --whole-gpus >"$work/start.out" 2>&1
        start_rc=$?
        start=$(($(now_ns) - began))
        [ "$start_rc" = 0 ] || { echo "start exit $start_rc:"; cat "$work/start.out"; }
        answers "$pipe" || echo "round $i: the agent's daemon does not answer after start"
        echo "round $i: bare -d + first answer $((bare / 1000)) us; mpsmig start $((start / 1000)) us"
        bare_times="$bare_times $bare"
        start_times="$start_times $start"
        "$mpsmig" stop --whole-gpus >/dev/null 2>&1
done
bare_median=$(median_ms $bare_times)
start_median=$(median_ms $start_times)
ratio=$(awk -v a="$start_median" -v b="$bare_median" 'BEGIN { printf "%.2f", a / b }')
echo "bare nvidia-cuda-mps-control -d + first answer: median $bare_median ms"
echo "mpsmig start through the agent:                 median $start_median ms"
echo "ratio: ${ratio}x (goal: at most 1.1x)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.1) }' && pass "start within 1.1x (${ratio}x)" ||
        fail "start within 1.1x (${ratio}x)"
grep -c "started on request" "$work/agent.log" | sed 's/^/starts on request logged: /'
kill -TERM "$agent"
for _ in $(seq 300); do alive "$agent" || break; sleep 0.1; done
wait "$agent"
check "part 1: the agent exits 0" 0 "$?"
agent=

say "part 2: the agent with a configuration file"
conf=$work/mpsmig.conf
printf '%s\n' "[global]
whole_gpus = yes
threads = 40
pinned_mem = 10G
start_server = root" >"$conf"
chmod 0644 "$conf"
cat "$conf"
: >"$work/agent.log"
"$mpsmig" --config "$conf" daemon --poll 0 >"$work/agent.out" 2>"$work/agent.log" &
agent=$!
wait_agent_ready && pass "the agent is ready" || fail "the agent is ready"
cat "$work/agent.log"
run "$mpsmig" status --whole-gpus --json
check "threads read back through the agent" 40.0 "$(jfield default_active_thread_percentage)"
check "pinned limit read back" 10G "$(jfield text)"
check "root's server started ahead" 1 "$(server_count)"
check "no mismatch" null "$(jfield limits_mismatch)"
probe_sms() {
        "$mpsmig" run -- "$probe" >"$work/probe" 2>&1
        sed -n 's/^ *sm_count: //p' "$work/probe" | head -1
}
check "the probe through the agent's daemon: 52 SMs (40 % of 132)" 52 "$(probe_sms)"
daemon=$(cat "$pipe/nvidia-cuda-mps-control.pid")
servers=$(echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>/dev/null)
echo "kill -9 of daemon $daemon (servers: ${servers:-none})"
began=$(now_ns)
kill -9 "$daemon"
back=
for _ in $(seq 1500); do
        if [ "$(jfield supervision) $(jfield restarts)" = "ready 1" ]; then
                back=yes
                break
        fi
        sleep 0.02
done
echo "ready again (limits and server ahead applied) after $(( ($(now_ns) - began) / 1000000 )) ms"
check "the agent restarted and configured the daemon" yes "$back"
for server in $servers; do
        if alive "$server"; then
                echo "note: server $server of the killed daemon still runs: ended here"
                kill -9 "$server"
        fi
done
grep -- "killed by signal 9\|limits applied\|server is ready ahead" "$work/agent.log" | tail -4
check "after the restart: threads" 40.0 "$(jfield default_active_thread_percentage)"
check "after the restart: pinned" 10G "$(jfield text)"
check "after the restart: a server ahead" 1 "$(server_count)"
check "after the restart: the probe sees 52 SMs" 52 "$(probe_sms)"
cat "$work/probe"

say "SIGTERM"
new=$(cat "$pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)
kill -TERM "$agent"
for _ in $(seq 300); do alive "$agent" || break; sleep 0.1; done
wait "$agent"
check "the agent exits 0" 0 "$?"
tail -3 "$work/agent.log"
[ -n "$new" ] && alive "$new" && fail "the daemon $new is gone" || pass "the daemon is gone"
check "the folders are removed" "" "$(ls -d "$runtime"/GPU-* 2>/dev/null)"
agent=

say "summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
