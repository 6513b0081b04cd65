#!/bin/bash
# `mpsmig env` and `mpsmig run` on a real GPU node (an H100 with MIG disabled, root): in a fresh
# runtime folder, start the whole GPU's daemon; a held probe run through it shows in status and in
# the daemon's own client list under the pid the caller started; --threads 25 gives 32 SMs (40:
# 52); --pinned-mem 2G refuses a 3 GiB allocation (exit 3); exit statuses and signals pass
# through; after stop, run and env refuse (exit 1) instead of running without MPS. Changes no GPU
# setting; the daemon it starts is stopped (quit) in a private folder, also when it fails.
# Usage: tests/hw/run.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE
# Writes its transcript to $OUT/run.txt.
set -u
mpsmig=${1:?Usage: tests/hw/run.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE}
probe=${2:?Usage: tests/hw/run.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE}
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-run.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/run.txt") 2>&1

# Short folder names: the pipe folder must stay under 88 characters.
work=$(mktemp -d /tmp/mpsmig-hw.XXXXXX)
chmod 0755 "$work"
runtime=$work/run
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
# check WHAT EXPECTED ACTUAL
check() {
        if [ "$2" = "$3" ]; then
                pass "$1"
        else
                fail "$1 (expected '$2', got '$3')"
        fi
}
# run CMD...: shows and runs a command, keeps its stdout in $out, stderr in $err, status in $rc.
run() {
        echo "\$ $*"
        out=$("$@" 2>"$work/stderr")
        rc=$?
        err=$(cat "$work/stderr")
        [ -n "$out" ] && echo "$out"
        [ -n "$err" ] && echo "$err"
        echo "[exit $rc]"
}
# field NAME: the value of "  NAME: value" in the probe's output ($out).
field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p" | head -1; }
alive() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ]
}
m() { run "$mpsmig" "$@"; }

cleanup() {
        "$mpsmig" stop --whole-gpus --force --runtime-dir "$runtime" >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT

say "system"
uname -r
"$mpsmig" --version
nvidia-smi --query-gpu=index,name,uuid,mig.mode.current,compute_mode --format=csv,noheader
echo "control program: $control"
uuid=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -1)
pipe=$runtime/$uuid/pipe
if pgrep -x nvidia-cuda-mps >/dev/null; then
        echo "note: MPS processes already run on this node:"
        ps -o pid,stat,args -C nvidia-cuda-mps-control,nvidia-cuda-mps-server
fi

say "before start: run refuses"
m run --runtime-dir "$runtime" --on 0 -- "$probe"
check "no daemon yet: exit 1" 1 "$rc"
check "no daemon yet: the probe did not run" "" "$out"

say "start"
m start --whole-gpus --runtime-dir "$runtime"
check "start: exit 0" 0 "$rc"

say "env"
m env --runtime-dir "$runtime" 0
check "env: exit 0" 0 "$rc"
vars=$out
answer=$(env -i PATH="$PATH" sh -c 'eval "$1" && echo get_server_list | nvidia-cuda-mps-control && echo "status $?"' sh "$vars")
echo "$answer"
check "eval \"\$(mpsmig env 0)\" reaches the daemon" "status 0" "$(tail -1 <<<"$answer")"
m env --json --runtime-dir "$runtime" 0

say "a held client through mpsmig run shows in status and in the daemon's client list"
echo "\$ $mpsmig run --runtime-dir $runtime --on 0 -- $probe --hold 3 &"
"$mpsmig" run --runtime-dir "$runtime" --on 0 -v -- "$probe" --hold 3 >"$work/held" 2>&1 &
held=$!
echo "background pid $held"
seen_status=
seen_list=
for _ in $(seq 60); do
        status_json=$("$mpsmig" status --whole-gpus --json --runtime-dir "$runtime" 2>/dev/null)
        case $status_json in *"\"clients\": ["*"$held"*) seen_status=yes ;; esac
        servers=$(echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>/dev/null)
        for server in $servers; do
                echo "get_client_list $server" | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" 2>/dev/null |
                        grep -qx "$held" && seen_list=yes
        done
        [ -n "$seen_status" ] && [ -n "$seen_list" ] && break
        sleep 0.1
done
"$mpsmig" status --whole-gpus --runtime-dir "$runtime"
echo "servers: $servers"
check "status --json lists the run's pid as a client" yes "$seen_status"
check "get_client_list lists the run's pid (the probe kept it through exec)" yes "$seen_list"
wait "$held"
check "the held probe exited 0" 0 "$?"
cat "$work/held"

say "limits"
m run --runtime-dir "$runtime" --on 0 -- "$probe"
check "no limit: exit 0" 0 "$rc"
check "no limit: the probe sees the GPU" "$uuid" "$(field uuid)"
full=$(field sm_count)
echo "SMs without a limit: $full"
m run --runtime-dir "$runtime" --on 0 --threads 25 -- "$probe"
check "--threads 25: 32 SMs" 32 "$(field sm_count)"
m run --runtime-dir "$runtime" --on 0 --threads 40 -- "$probe"
check "--threads 40: 52 SMs" 52 "$(field sm_count)"
m run --runtime-dir "$runtime" --on 0 --pinned-mem 2G -- "$probe" --alloc 3G
check "--pinned-mem 2G, --alloc 3G: exit 3" 3 "$rc"
m run --runtime-dir "$runtime" --on 0 --pinned-mem 2G -- "$probe" --alloc 1G
check "--pinned-mem 2G, --alloc 1G: exit 0" 0 "$rc"
m run --runtime-dir "$runtime" -v -- "$probe"
check "auto lands on the one target" "$uuid" "$(field uuid)"

say "exit statuses pass through"
m run --runtime-dir "$runtime" --on 0 -- sh -c 'exit 3'
check "exit 3" 3 "$rc"
m run --runtime-dir "$runtime" --on 0 -- sh -c 'kill -TERM $$'
check "killed by SIGTERM: 143" 143 "$rc"

say "the cost of run's checks (10 runs of true, median ms)"
times=
for _ in $(seq 10); do
        start=$(date +%s%N)
        "$mpsmig" run --runtime-dir "$runtime" --on 0 -- true
        end=$(date +%s%N)
        times="$times $(( (end - start) / 1000000 ))"
done
echo "mpsmig run --on 0 -- true:$times"
echo "median: $(printf '%s\n' $times | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') ms"

say "stop"
daemon=$(cat "$pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)
m stop --whole-gpus --runtime-dir "$runtime"
check "stop: exit 0" 0 "$rc"
if [ -n "$daemon" ] && alive "$daemon"; then
        fail "the daemon $daemon still runs after stop"
else
        pass "the daemon is gone"
fi

say "after stop: run and env refuse"
m run --runtime-dir "$runtime" --on 0 -- "$probe"
check "run with the daemon dead: exit 1" 1 "$rc"
check "run with the daemon dead: the probe did not run" "" "$out"
case $err in *"is not running"*"mpsmig start"*) pass "run says why and what to do" ;;
*) fail "run says why and what to do" ;; esac
m run --runtime-dir "$runtime" -- "$probe"
check "auto with no daemon: exit 1" 1 "$rc"
m env --runtime-dir "$runtime" 0
check "env with the daemon dead: exit 1" 1 "$rc"

say "summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
