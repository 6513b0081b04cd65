#!/bin/bash
# Benchmark (not a test): the verbs with the node agent running and without it, on simgpu's
# h100x8-1g node (8 H100s, 56 MIG devices): `mpsmig status` of the 56 daemons and `mpsmig run --
# true` (placed on the least loaded of the 56), each RUNS times (default 30), the median and the
# 90th percentile of the wall time in ms; then the same verbs with MPSMIG_NO_AGENT=1 (NVML and the
# control program, the direct path) for comparison, and the agent's own start until READY.
# Goal (docs/benchmarks.md): status of the 56 instances at most 10 ms with the agent.
# Usage: bench/agent.sh [BUILD_DIR [RUNS]]    Writes bench/results/<date>-agent-sim.txt.
set -eu
cd "$(dirname "$0")/.."
source_dir=$(pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-30}
mpsmig=$build/mpsmig

work=$(mktemp -d "${TMPDIR:-/tmp}/mpsmig-bench.XXXXXX")
chmod 0755 "$work"
export MPSMIG_RUNTIME_DIR=$work/run
suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
sed -E "s/((GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}/\1$suffix/g" \
        "$source_dir/simgpu/topologies/h100x8-1g.json" >"$work/h100x8-1g.json"
export SIMGPU_TOPOLOGY=$work/h100x8-1g.json
export LD_LIBRARY_PATH=$build/simgpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$build/simgpu/bin:$PATH

agent=
cleanup() {
        [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
        "$mpsmig" stop --force >/dev/null 2>&1 || true
        rm -rf "$work"
}
trap cleanup EXIT

now_ns() { date +%s%N; }
# measure NAME COMMAND...: RUNS runs, the wall time of each (ms, 2 decimals) into $work/NAME.
measure() {
        name=$1
        shift
        : >"$work/$name"
        for _ in $(seq "$runs"); do
                began=$(now_ns)
                "$@" >/dev/null 2>&1 || true
                echo "$(( ($(now_ns) - began) / 10000 ))" | awk '{ printf "%.2f\n", $1 / 100 }' >>"$work/$name"
        done
}
stats() {
        sort -n "$work/$1" | awk '{ v[NR] = $1 } END {
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                p = v[int(NR * 0.9 + 0.5)]
                printf "median %7.2f ms   p90 %7.2f ms   (%d runs)\n", m, p, NR }'
}

began=$(now_ns)
"$mpsmig" daemon --poll 0 2>"$work/agent.log" &
agent=$!
for _ in $(seq 600); do grep -q '^<5>ready' "$work/agent.log" && break; sleep 0.05; done
ready_ms=$(( ($(now_ns) - began) / 1000000 ))
grep -q '^<5>ready' "$work/agent.log" || { echo "the agent did not get ready" >&2; exit 1; }

measure agent_status "$mpsmig" status
measure agent_run "$mpsmig" run -- true
measure true true
export MPSMIG_NO_AGENT=1
measure direct_status "$mpsmig" status
measure direct_run "$mpsmig" run -- true
unset MPSMIG_NO_AGENT

out=bench/results/$(date +%Y-%m-%d)-agent-sim.txt
{
        echo "bench/agent.sh on $(uname -n): $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)," \
                "$(grep -c '"MIG-' "$SIMGPU_TOPOLOGY") MIG devices (h100x8-1g over simgpu)"
        echo "agent start until READY (56 daemons answering): $ready_ms ms"
        printf '%-34s %s\n' "status, through the agent:" "$(stats agent_status)"
        printf '%-34s %s\n' "run -- true, through the agent:" "$(stats agent_run)"
        printf '%-34s %s\n' "true alone:" "$(stats true)"
        printf '%-34s %s\n' "status, direct (no agent):" "$(stats direct_status)"
        printf '%-34s %s\n' "run -- true, direct (no agent):" "$(stats direct_run)"
} | tee "$out"
