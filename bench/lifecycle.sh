#!/bin/bash
# Benchmark (not a test): the MPS lifecycle on simgpu's h100x8-1g node (8 H100s, 56 MIG devices),
# mpsmig against the seed scripts run as written (tests/integration/seed/), in one run:
#   start: from the command until every daemon answers a command (the seed script does not wait
#          for that, so its time runs until a query of each of its daemons has answered),
#   stop:  from the command until no daemon is left,
#   status of the 56 running daemons (mpsmig only).
# Each is run RUNS times (default 5); the median is reported, and the ratio mpsmig / seed.
# Goals (docs/benchmarks.md): mpsmig start and stop within 1/10 of the seed's; status < 200 ms.
# Usage: bench/lifecycle.sh [BUILD_DIR [RUNS]]    Writes bench/results/<date>-lifecycle-sim.txt.
set -eu
cd "$(dirname "$0")/.."
source_dir=$(pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
mpsmig=$build/mpsmig
seed=$source_dir/tests/integration/seed

work=$(mktemp -d "${TMPDIR:-/tmp}/mpsmig-bench.XXXXXX")
chmod 0755 "$work"
export MPSMIG_RUNTIME_DIR=$work/run
# A private copy of the topology: daemons of tests running meanwhile never share its devices.
suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
sed -E "s/((GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}/\1$suffix/g" \
        "$source_dir/simgpu/topologies/h100x8-1g.json" >"$work/h100x8-1g.json"
topology=$work/h100x8-1g.json
uuids=$(grep -oE '"MIG-[0-9a-f-]{36}"' "$topology" | tr -d '"')
count=$(wc -w <<<"$uuids")

# What simgpu/run sets, set once here so that its shell start is not timed with every command.
export SIMGPU_TOPOLOGY=$topology
export LD_LIBRARY_PATH=$build/simgpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$build/simgpu/bin:$PATH

cleanup() {
        "$mpsmig" stop --force >/dev/null 2>&1 || true
        "$mpsmig" stop --force --layout seed >/dev/null 2>&1 || true
        for uuid in $uuids; do rm -rf "/tmp/mps_$uuid" "/tmp/mps_log_$uuid"; done
        rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# timed NAME COMMAND...: runs COMMAND (stdout to $work/NAME.out, stderr dropped) and appends
# "wall_ms cpu_ms" (CPU: user + system of it and its children) to $work/NAME.
TIMEFORMAT='%R %U %S'
timed() {
        name=$1
        shift
        { time "$@" >"$work/$name.out" 2>/dev/null; } 2>"$work/$name.time"
        awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$work/$name.time" >>"$work/$name"
}

# Waits until every seed daemon answers a query (the seed script itself never checks); gives up
# on one after 2000 tries.
seed_all_answer() {
        for uuid in $uuids; do
                for try in $(seq 2000); do
                        echo get_server_list | CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_$uuid \
                                nvidia-cuda-mps-control >/dev/null 2>&1 && break
                        [ "$try" = 2000 ] && { echo "seed daemon of $uuid never answered" >&2; return 1; }
                done
        done
        return 0
}
live_daemons() {
        for uuid in $uuids; do
                pid=$(cat "/tmp/mps_$uuid/nvidia-cuda-mps-control.pid" \
                        "$MPSMIG_RUNTIME_DIR/$uuid/pipe/nvidia-cuda-mps-control.pid" 2>/dev/null || true)
                for p in $pid; do
                        state=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
                        [ -n "$state" ] && [ "$state" != Z ] && echo "$p"
                done
        done | wc -l
}

: >"$work/seed_start"; : >"$work/seed_stop"; : >"$work/start"; : >"$work/stop"; : >"$work/status"
seed_start() { bash "$seed/mps-start.sh" && seed_all_answer; }
for run in $(seq "$runs"); do
        timed seed_start seed_start
        [ "$(live_daemons)" = "$count" ] || { echo "seed start: not $count daemons" >&2; exit 1; }
        timed seed_stop bash "$seed/mps-stop.sh"
        [ "$(live_daemons)" = 0 ] || { echo "seed stop: daemons left" >&2; exit 1; }

        timed start "$mpsmig" start
        [ "$(grep -c ' started ' "$work/start.out")" = "$count" ] || { cat "$work/start.out" >&2; exit 1; }
        timed status "$mpsmig" status
        [ "$(grep -cE ' running +[0-9]+ ' "$work/status.out")" = "$count" ] || { cat "$work/status.out" >&2; exit 1; }
        timed stop "$mpsmig" stop
        [ "$(live_daemons)" = 0 ] || { echo "mpsmig stop: daemons left" >&2; exit 1; }
        echo "run $run/$runs (wall, cpu ms): seed start $(tail -1 "$work/seed_start"), stop $(tail -1 "$work/seed_stop");" \
             "mpsmig start $(tail -1 "$work/start"), status $(tail -1 "$work/status"), stop $(tail -1 "$work/stop")" >&2
done

wall() { cut -d' ' -f1 "$work/$1" | median; }
cpu() { cut -d' ' -f2 "$work/$1" | median; }
seed_start=$(wall seed_start)
seed_stop=$(wall seed_stop)
start=$(wall start)
stop=$(wall stop)
status=$(wall status)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f (1/%.1f)", a / b, b / a }'; }
verdict() { awk -v v="$1" -v goal="$2" 'BEGIN { print (v <= goal) ? "met" : "NOT met" }'; }

date=$(date +%F)
mkdir -p bench/results
result=bench/results/$date-lifecycle-sim.txt
{
        echo "# bench/lifecycle.sh on simgpu h100x8-1g ($count MIG devices), $runs runs, medians"
        echo "date:     $(date -Is)"
        echo "machine:  $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
        echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, before the summary)"
        build_type=$(grep -m1 CMAKE_BUILD_TYPE: "$build/CMakeCache.txt" | cut -d= -f2)
        echo "build:    $build (CMAKE_BUILD_TYPE ${build_type:-none, -O2 from the project flags}, sanitizers $(grep -m1 MPSMIG_SANITIZE: "$build/CMakeCache.txt" | cut -d= -f2))"
        echo "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
        echo
        echo "wall-clock medians      seed scripts      mpsmig   mpsmig/seed"
        printf "start, until answering   %9s ms  %7s ms   %-16s goal <= 0.1: %s\n" "$seed_start" "$start" \
                "$(ratio "$start" "$seed_start")" "$(verdict "$start" "$(awk -v s="$seed_start" 'BEGIN { print s / 10 }')")"
        printf "stop, until none left    %9s ms  %7s ms   %-16s goal <= 0.1: %s\n" "$seed_stop" "$stop" \
                "$(ratio "$stop" "$seed_stop")" "$(verdict "$stop" "$(awk -v s="$seed_stop" 'BEGIN { print s / 10 }')")"
        printf "status of %d daemons                   %7s ms                    goal < 200 ms: %s\n" \
                "$count" "$status" "$(verdict "$status" 199)"
        echo
        echo "CPU medians (user + system, children included): seed start $(cpu seed_start) ms," \
             "seed stop $(cpu seed_stop) ms; mpsmig start $(cpu start) ms, stop $(cpu stop) ms," \
             "status $(cpu status) ms"
        echo "every run, wall and CPU ms:"
        for name in seed_start seed_stop start stop status; do
                printf "  %-10s %s\n" "$name" "$(tr '\n' ',' <"$work/$name" | sed 's/,$//; s/,/, /g')"
        done
} | tee "$result"
echo "written to $result" >&2
