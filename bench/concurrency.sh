#!/bin/bash
# Benchmark (not a test): many `mpsmig run` at once on running daemons, with `mpsmig status`
# calls racing them, as a job launcher and a monitor do on a busy node. Each run execs a shell
# that prints the moment it began (so the run's own latency is from its launch to that moment)
# and then becomes the probe, held HOLD seconds, so that the runs are MPS clients all at once.
# Counts refused runs (those that never started their program), failed status calls (exit status
# other than 0), the MPS clients the daemons list once every run has started (each run must be
# one), and the runs' latency (median, p90, p99, max).
#
# Usage: bench/concurrency.sh MPSMIG PROBE [RUNS [STATUS_CALLS [HOLD]]]
#   (defaults 32, 200, 2; the probes are ended once counted, so a long HOLD costs nothing). The
#   daemons must be running already; MPSMIG_RUNTIME_DIR, the
#   layout and the driver (simgpu or real) come from the environment; RUN_OPTIONS (e.g.
#   "--on 0") goes to every run, STATUS_OPTIONS (e.g. "--whole-gpus") to every status.
# Prints a report on stdout; exit status 0 when no run was refused, no status failed and every run
# was an MPS client while it held (HOLD must outlast the launch of the last run).
set -u
mpsmig=${1:?Usage: bench/concurrency.sh MPSMIG PROBE [RUNS [STATUS_CALLS [HOLD]]]}
probe=${2:?Usage: bench/concurrency.sh MPSMIG PROBE [RUNS [STATUS_CALLS [HOLD]]]}
runs=${3:-32}
status_calls=${4:-200}
hold=${5:-2}
read -r -a run_options <<<"${RUN_OPTIONS:-}"
read -r -a status_options <<<"${STATUS_OPTIONS:-}"

work=$(mktemp -d "${TMPDIR:-/tmp}/mpsmig-concurrency.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One run: its launch time, then what the shell it became printed first (its start time). Its
# pid (mpsmig's, then the shell's, then the probe's: each execs the next) is kept, so that the
# probes can be ended once they have been counted.
one_run() {
        local n=$1 began pid
        began=$EPOCHREALTIME
        "$mpsmig" run "${run_options[@]}" -- /bin/sh -c \
                'date +%s.%N; exec "$0" --hold "$1"' "$probe" "$hold" \
                >"$work/run.$n" 2>"$work/run-err.$n" &
        pid=$!
        echo "$pid" >"$work/run-pid.$n"
        wait "$pid"
        echo "$? $began" >"$work/run-rc.$n"
}

one_status() {
        local n=$1
        "$mpsmig" status --json "${status_options[@]}" >"$work/status.$n" 2>"$work/status-err.$n"
        echo $? >"$work/status-rc.$n"
}

# Whether every run has exec'd its program (printed its line) or ended.
all_started() {
        for n in $(seq "$runs"); do
                [ -s "$work/run.$n" ] || [ -e "$work/run-rc.$n" ] || return 1
        done
}

began=$EPOCHREALTIME
pids=()
for n in $(seq "$runs"); do
        one_run "$n" &
        pids+=($!)
done
for n in $(seq "$status_calls"); do
        one_status "$n" &
        pids+=($!)
done
# While the probes hold their contexts: how many clients the daemons list (the proof that the
# runs went through MPS, not around it).
# A run has exec'd its program before the program has reached the daemon (CUDA's start-up), so
# the daemons are asked until they list one client per run, for at most half the hold.
for _ in $(seq 600); do all_started && break; sleep 0.1; done
holding=0
stop_asking=$(awk -v now="$EPOCHREALTIME" -v hold="$hold" 'BEGIN { printf "%.3f", now + hold / 2 }')
while :; do
        "$mpsmig" status --json "${status_options[@]}" >"$work/holding" 2>&1
        holding=$(grep -oE '"client_count": [0-9]+' "$work/holding" |
                awk '{ s += $2 } END { print s + 0 }')
        [ "$holding" -ge "$runs" ] && break
        awk -v now="$EPOCHREALTIME" -v end="$stop_asking" 'BEGIN { exit !(now < end) }' || break
        sleep 0.2
done
# Counted: the probes need not hold any longer.
for n in $(seq "$runs"); do
        kill -TERM "$(cat "$work/run-pid.$n" 2>/dev/null)" 2>/dev/null
done
# Only these: a caller's bare `wait` may include a process substitution that never ends.
wait "${pids[@]}"
elapsed=$(awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')

refused=0
latencies=$work/latencies
: >"$latencies"
for n in $(seq "$runs"); do
        read -r rc launched <"$work/run-rc.$n"
        started=$(head -1 "$work/run.$n")
        # A run that never reached its program was refused; one ended after it was counted, or
        # that ended by itself, was not.
        if [ -z "$started" ]; then
                refused=$((refused + 1))
                echo "run $n: exit $rc: $(head -c 300 "$work/run-err.$n")"
                continue
        fi
        awk -v a="$launched" -v b="$started" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' \
                >>"$latencies"
done
status_failed=0
most_clients=0
for n in $(seq "$status_calls"); do
        rc=$(cat "$work/status-rc.$n")
        if [ "$rc" != 0 ]; then
                status_failed=$((status_failed + 1))
                echo "status $n: exit $rc: $(head -c 300 "$work/status-err.$n")"
        fi
        clients=$(grep -oE '"client_count": [0-9]+' "$work/status.$n" |
                awk '{ s += $2 } END { print s + 0 }')
        [ "$clients" -gt "$most_clients" ] && most_clients=$clients
done

echo "runs: $runs at once, each held ${hold} s; status calls racing them: $status_calls"
echo "wall time: ${elapsed} s"
echo "runs refused: $refused of $runs"
echo "status calls failed: $status_failed of $status_calls"
echo "most MPS clients one racing status saw: $most_clients"
echo "MPS clients once every run had started: $holding (of $runs runs)"
echo "clients per target then: $(grep -oE '"client_count": [0-9]+' "$work/holding" |
        awk '{ printf "%s%s", sep, $2; sep = " " }')"
sort -n "$latencies" | awk '
        { v[NR] = $1 }
        END {
                if (NR == 0) { print "run latency: no run started"; exit }
                printf "run latency (launch to the program exec'\''d), ms: median %.1f  p90 %.1f  " \
                       "p99 %.1f  max %.1f  (n=%d)\n", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.999)],
                       v[int(NR * 0.99 + 0.999)], v[NR], NR
        }'
[ "$refused" -eq 0 ] && [ "$status_failed" -eq 0 ] && [ "$holding" -eq "$runs" ]
