#!/bin/bash
# The MPS lifecycle on a real GPU node (an H100 with MIG disabled, root): `mpsmig start
# --whole-gpus` in a fresh runtime folder, status, a CUDA client (mpsmig-probe --hold 3) through
# the daemon and status showing it, stop; then timing: `mpsmig start --whole-gpus` until its
# daemon answers, with the node cache (warm) and without it (cold), against a bare
# `nvidia-cuda-mps-control -d` plus its first answer, 20 runs each, interleaved, medians and the
# median of the runs' own ratios (goal: warm mpsmig within 1.5x; cold reported). Changes no GPU
# setting; every daemon it starts is stopped (quit), in private folders under /tmp, also when it
# fails half-way.
# Usage: tests/hw/lifecycle.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE [RUNS]
# Writes its transcript to $OUT/lifecycle.txt.
set -u
mpsmig=${1:?Usage: tests/hw/lifecycle.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE [RUNS]}
probe=${2:?Usage: tests/hw/lifecycle.sh PATH_TO_MPSMIG PATH_TO_MPSMIG_PROBE [RUNS]}
runs=${3:-20}
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-lifecycle.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/lifecycle.txt") 2>&1

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
# run CMD...: shows and runs a command, keeps its stdout in $out and its status in $rc.
run() {
        echo "\$ $*"
        out=$("$@" 2>"$work/stderr")
        rc=$?
        [ -n "$out" ] && echo "$out"
        cat "$work/stderr"
        echo "[exit $rc]"
}
alive() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ]
}
now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Whatever happens: quit every daemon started in $work (mpsmig's and the bare ones).
cleanup() {
        "$mpsmig" stop --whole-gpus --force --runtime-dir "$runtime" >/dev/null 2>&1
        "$mpsmig" stop --whole-gpus --force --runtime-dir "$work/timing" >/dev/null 2>&1
        for pipe in "$work"/bare*/pipe; do
                [ -d "$pipe" ] && echo quit | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control" >/dev/null 2>&1
        done
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
        echo "note: MPS processes already run on this node (mpsmig start must refuse their devices):"
        ps -o pid,stat,args -C nvidia-cuda-mps-control,nvidia-cuda-mps-server
fi

say "start"
run "$mpsmig" start --whole-gpus --wide --runtime-dir "$runtime"
[ "$rc" = 0 ] && pass "start: exit 0" || fail "start: exit $rc"
grep -qE "^0 +$uuid +started +[0-9]+ " <<<"$out" && pass "start: GPU 0 started" \
        || fail "start: GPU 0 not reported started"
daemon=$(cat "$pipe/nvidia-cuda-mps-control.pid" 2>/dev/null)
[ -n "$daemon" ] && alive "$daemon" && pass "the daemon $daemon runs" || fail "no daemon runs"
tr '\0' '\n' <"/proc/$daemon/environ" 2>/dev/null | grep -E '^CUDA_(VISIBLE_DEVICES|MPS_)'
ls -la "$pipe" "$runtime/$uuid/log"
run "$mpsmig" start --whole-gpus --runtime-dir "$runtime" 0
grep -qE "already running +$daemon " <<<"$out" && pass "second start: already running" \
        || fail "second start: not 'already running'"

say "status"
run "$mpsmig" status --whole-gpus --runtime-dir "$runtime"
[ "$rc" = 0 ] && pass "status: exit 0" || fail "status: exit $rc"
run "$mpsmig" status --whole-gpus --runtime-dir "$runtime" --json 0

say "a client through the daemon (mpsmig-probe --hold 3)"
echo "\$ CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$pipe ... $probe --hold 3 &"
CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$pipe CUDA_MPS_LOG_DIRECTORY=$runtime/$uuid/log \
        "$probe" --hold 3 >"$work/probe.out" 2>&1 &
client=$!
seen=""
for _ in $(seq 40); do
        "$mpsmig" status --whole-gpus --runtime-dir "$runtime" 0 >"$work/status.out" 2>&1
        grep -qE "1: $client( |$)" "$work/status.out" && { seen=yes; break; }
        sleep 0.1
done
cat "$work/status.out"
[ -n "$seen" ] && pass "status shows the client $client under a server of root" \
        || fail "status never showed the client $client"
grep -qE " [0-9]+ root +1: $client" "$work/status.out" && pass "the server runs as root" \
        || fail "the server's user is not root"
wait "$client"
client_rc=$?
cat "$work/probe.out"
[ "$client_rc" = 0 ] && pass "the client ran (exit 0)" || fail "the client exited $client_rc"
run "$mpsmig" status --whole-gpus --runtime-dir "$runtime" --json 0

say "stop"
run "$mpsmig" stop --whole-gpus --runtime-dir "$runtime"
[ "$rc" = 0 ] && pass "stop: exit 0" || fail "stop: exit $rc"
grep -qE "stopped \(quit\) +$daemon " <<<"$out" && pass "stop: quit was enough" \
        || fail "stop: not stopped by quit"
alive "$daemon" && fail "the daemon $daemon is still alive" || pass "the daemon $daemon is gone"
[ ! -e "$runtime/$uuid" ] && pass "stop: its folders are removed" || fail "stop: folders left"
run "$mpsmig" status --whole-gpus --runtime-dir "$runtime"
[ "$rc" = 3 ] && pass "status after stop: exit 3" || fail "status after stop: exit $rc"

say "timing: $runs runs each, start until the daemon answers"
# A node cache (node.json in the runtime folder) lets start begin the daemon while NVML loads:
# "warm" is every start after the first on a node, "cold" the first (the cache removed before
# it). One untimed start and stop writes the cache first.
"$mpsmig" start --whole-gpus --runtime-dir "$work/timing" 0 >/dev/null 2>&1
"$mpsmig" stop --whole-gpus --runtime-dir "$work/timing" 0 >/dev/null 2>&1
[ -f "$work/timing/node.json" ] && pass "start wrote the node cache" || fail "start wrote no node cache"
: >"$work/warm.ms"
: >"$work/cold.ms"
: >"$work/bare.ms"
: >"$work/warm.ratio"
: >"$work/cold.ratio"
# timed_start FILE: one timed `mpsmig start` of GPU 0 into FILE (microseconds), then its stop.
timed_start() {
        local t0 t1 start_rc
        t0=$(now_ns)
        "$mpsmig" start --whole-gpus --runtime-dir "$work/timing" --json 0 >"$work/start.json" 2>"$work/err"
        start_rc=$?
        t1=$(now_ns)
        [ "$start_rc" = 0 ] || { cat "$work/err"; fail "timed mpsmig start: exit $start_rc"; }
        echo $(((t1 - t0) / 1000)) >>"$1"
        from_cache=$(grep -oE '"from_node_cache": *[0-9]+' "$work/start.json" | grep -oE '[0-9]+$')
        "$mpsmig" stop --whole-gpus --runtime-dir "$work/timing" 0 >/dev/null 2>&1
}
for n in $(seq "$runs"); do
        timed_start "$work/warm.ms"
        warm_from_cache=$from_cache
        rm -f "$work/timing/node.json"
        timed_start "$work/cold.ms"
        cold_from_cache=$from_cache

        bare=$work/bare$n
        mkdir -p "$bare/pipe" "$bare/log"
        t0=$(now_ns)
        CUDA_VISIBLE_DEVICES=$uuid CUDA_MPS_PIPE_DIRECTORY=$bare/pipe CUDA_MPS_LOG_DIRECTORY=$bare/log \
                "$control" -d
        answered=""
        queries=0
        for _ in $(seq 2000); do
                queries=$((queries + 1))
                echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=$bare/pipe "$control" >/dev/null 2>&1 \
                        && { answered=yes; break; }
        done
        t1=$(now_ns)
        [ -n "$answered" ] || fail "bare daemon $n never answered"
        echo $(((t1 - t0) / 1000)) >>"$work/bare.ms"
        echo quit | CUDA_MPS_PIPE_DIRECTORY=$bare/pipe "$control" >/dev/null
        for _ in $(seq 50); do [ -e "$bare/pipe/nvidia-cuda-mps-control.pid" ] || break; sleep 0.02; done
        awk -v w="$(tail -1 "$work/warm.ms")" -v c="$(tail -1 "$work/cold.ms")" -v b="$(tail -1 "$work/bare.ms")" \
                'BEGIN { printf "%.3f\n", w / b >> "'"$work/warm.ratio"'"; printf "%.3f\n", c / b >> "'"$work/cold.ratio"'" }'
        echo "run $n: mpsmig start warm $(tail -1 "$work/warm.ms") us (from cache: $warm_from_cache)," \
                "cold $(tail -1 "$work/cold.ms") us (from cache: $cold_from_cache);" \
                "bare -d + first answer $(tail -1 "$work/bare.ms") us ($queries queries)"
done
warm_us=$(median <"$work/warm.ms")
cold_us=$(median <"$work/cold.ms")
bare_us=$(median <"$work/bare.ms")
warm_ratio=$(awk -v a="$warm_us" -v b="$bare_us" 'BEGIN { printf "%.2f", a / b }')
cold_ratio=$(awk -v a="$cold_us" -v b="$bare_us" 'BEGIN { printf "%.2f", a / b }')
echo "median: bare nvidia-cuda-mps-control -d + first answer $bare_us us"
echo "median: mpsmig start --whole-gpus, warm (node cache) $warm_us us, ratio $warm_ratio"
echo "median: mpsmig start --whole-gpus, cold (no cache) $cold_us us, ratio $cold_ratio"
echo "median of the runs' own ratios: warm $(median <"$work/warm.ratio"), cold $(median <"$work/cold.ratio")"
awk -v r="$warm_ratio" 'BEGIN { exit !(r <= 1.5) }' && pass "warm mpsmig start within 1.5x of a bare start ($warm_ratio)" \
        || fail "warm mpsmig start takes $warm_ratio times a bare start (goal 1.5)"
echo "(cold start, the first after boot: $cold_ratio times a bare start; no goal, reported)"

say "summary"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
