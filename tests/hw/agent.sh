#!/bin/bash
# The node agent on a real GPU node (an H200 with MIG disabled, root): in a fresh runtime folder,
# `mpsmig daemon --whole-gpus` starts the whole GPU's control daemon as its child and gets ready;
# `mpsmig run -- true` and `mpsmig status` are timed through the agent and without it (medians of
# RUNS); a client (mpsmig-probe) runs through MPS; the real control daemon is killed with SIGKILL
# and the agent's restart is timed and seen in `status`; a client runs through MPS again after it;
# SIGTERM stops the agent: exit 0, no daemon left, folders clean. Changes no GPU setting; every
# daemon is in a private folder and is stopped (quit) before the script ends, also on failure.
# Usage: tests/hw/agent.sh BUNDLE_DIR [RUNS]   (tests/hw/bundle.sh makes the bundle)
# Writes its transcript to $OUT/agent.txt.
set -u
bundle=$(cd "${1:?Usage: tests/hw/agent.sh BUNDLE_DIR [RUNS]}" && pwd)
runs=${2:-30}
mpsmig=$bundle/mpsmig
probe=$bundle/mpsmig-probe
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-agent.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/agent.txt") 2>&1

# Short folder names: the pipe folder must stay under 88 characters.
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
# timed_runs COMMAND...: RUNS runs, the median wall time in ms in $median.
timed_runs() {
        local times=
        for _ in $(seq "$runs"); do
                local began
                began=$(now_ns)
                "$@" >/dev/null 2>&1
                times="$times $(( $(now_ns) - began ))"
        done
        median=$(median_ms $times)
}
answers() {
        local answer
        answer=$(echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>&1) || return 1
        case $answer in *Cannot*) return 1 ;; esac
        return 0
}

agent=
cleanup() {
        if [ -n "$agent" ] && alive "$agent"; then
                kill -TERM "$agent"
                for _ in $(seq 300); do alive "$agent" || break; sleep 0.1; done
        fi
        MPSMIG_NO_AGENT=1 "$mpsmig" stop --whole-gpus --force --runtime-dir "$runtime" >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT

say "system"
uname -r
"$mpsmig" --version
nvidia-smi --query-gpu=index,name,memory.total,mig.mode.current,compute_mode --format=csv,noheader
echo "control program: $control"
uuid=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -1)
pipe=$runtime/$uuid/pipe
if pgrep -x nvidia-cuda-mps >/dev/null; then
        echo "note: MPS processes already run on this node:"
        ps -o pid,stat,args -C nvidia-cuda-mps-control,nvidia-cuda-mps-server
fi

say "the agent starts"
began=$(now_ns)
"$mpsmig" daemon --whole-gpus --poll 0 >"$work/agent.out" 2>"$work/agent.log" &
agent=$!
for _ in $(seq 300); do grep -q '^<5>ready' "$work/agent.log" && break; sleep 0.02; done
echo "ready after $(( ($(now_ns) - began) / 1000000 )) ms"
cat "$work/agent.log"
grep -q '^<5>ready' "$work/agent.log" && pass "the agent is ready" || fail "the agent is ready"
daemon=$(cat "$pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)
check "the daemon is the agent's child" "$agent" "$(awk '{print $4}' "/proc/$daemon/stat" 2>/dev/null)"
echo "daemon command line: $(tr '\0' ' ' <"/proc/$daemon/cmdline" 2>/dev/null)"
run "$mpsmig" status --whole-gpus
check "status through the agent: exit 0" 0 "$rc"
case $out in *"answered by the agent"*) pass "status says the agent answered" ;;
*) fail "status says the agent answered" ;; esac

say "a client through MPS (probe held, its pid in the daemon's client list)"
held_client() {
        "$mpsmig" run -v -- "$probe" --hold 3 >"$work/held" 2>&1 &
        held=$!
        seen=
        for _ in $(seq 60); do
                for server in $(echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>/dev/null); do
                        echo "get_client_list $server" | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>/dev/null |
                                grep -qx "$held" && seen=yes
                done
                [ -n "$seen" ] && break
                sleep 0.1
        done
        wait "$held"
        held_rc=$?
        cat "$work/held"
}
held_client
check "the probe's pid is in the daemon's client list" yes "$seen"
check "the probe exited 0" 0 "$held_rc"
case $(cat "$work/held") in *"placed by the agent"*) pass "run -v: placed by the agent" ;;
*) fail "run -v: placed by the agent" ;; esac

say "timings: $runs runs each, median wall ms"
timed_runs true
echo "true:                             $median ms"
timed_runs "$mpsmig" run -- true
echo "mpsmig run -- true, agent:        $median ms"
timed_runs "$mpsmig" status --whole-gpus
echo "mpsmig status, agent:             $median ms"
export MPSMIG_NO_AGENT=1
timed_runs "$mpsmig" run -- true
echo "mpsmig run -- true, direct:       $median ms"
timed_runs "$mpsmig" status --whole-gpus
echo "mpsmig status, direct:            $median ms"
unset MPSMIG_NO_AGENT

say "kill -9 of the real control daemon"
servers=$(echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>/dev/null)
echo "daemon $daemon, servers: ${servers:-none}"
began=$(now_ns)
kill -9 "$daemon"
restarted=
for _ in $(seq 500); do
        new=$(cat "$pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)
        if [ -n "$new" ] && [ "$new" != "$daemon" ] && alive "$new" && answers; then
                restarted=yes
                break
        fi
        sleep 0.01
done
took=$(( ($(now_ns) - began) / 1000000 ))
echo "answering again after $took ms (new daemon $new)"
check "the agent restarted the daemon" yes "$restarted"
[ "$took" -le 2000 ] && pass "answering again within 2 s ($took ms)" || fail "answering again within 2 s ($took ms)"
check "the new daemon is the agent's child" "$agent" "$(awk '{print $4}' "/proc/$new/stat" 2>/dev/null)"
sleep 0.5
for server in $servers; do
        if alive "$server"; then
                echo "note: server $server of the killed daemon still runs: ended here"
                kill -9 "$server"
        else
                echo "server $server of the killed daemon is gone"
        fi
done
grep -- "was killed by signal 9" "$work/agent.log"
run "$mpsmig" status --whole-gpus
case $out in *"1 restart"*) pass "status shows the restart" ;; *) fail "status shows the restart" ;; esac
run "$mpsmig" status --whole-gpus --json
echo "$out" | grep -A9 '"agent"'

say "a client through MPS after the restart"
held_client
check "the probe's pid is in the new daemon's client list" yes "$seen"
check "the probe exited 0" 0 "$held_rc"

say "SIGTERM"
kill -TERM "$agent"
for _ in $(seq 300); do alive "$agent" || break; sleep 0.1; done
wait "$agent"
check "the agent exits 0" 0 "$?"
cat "$work/agent.log"
check "no control daemon left in the folder" "" "$(cat "$pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)"
alive "$new" && fail "the daemon $new is gone" || pass "the daemon $new is gone"
check "the folders are removed" "" "$(ls -d "$runtime"/GPU-* 2>/dev/null)"
check "the socket is removed" "" "$(ls "$runtime"/agent.sock 2>/dev/null)"
agent=

say "summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
