#!/bin/bash
# mpsmig-probe --work over simgpu's libcuda: kernels that wait on %clock64 take their simulated
# time without burning CPU for it; two clients of one device without MPS take turns (time-slicing:
# twice the time), two clients of one MPS daemon share the SMs (about the time of one); the
# report says the timings are simulated; the work options are checked.
. "$MPSMIG_SOURCE/tests/lib.sh"

topology=$(private_topology h100)
export SIMGPU_STATE_DIR=$T/state
mkdir -p "$SIMGPU_STATE_DIR"
probe() { "$SIMRUN" "$topology" -- "$PROBE" "$@"; }
field() { sed -n "s/^ *$1: //p" "$2" | head -1; }

# 10 kernels of 2e7 cycles at the H100's 1980 MHz: 0.101 s of device time.
work=(--work 10 --spin 20000000)

# One client alone: the simulated time, and almost no CPU for a wait of 1e9 cycles a kernel.
run_capture probe "${work[@]}"
check_eq "alone: exit 0" 0 "$rc"
check_contains "alone: the kernels checked" "kernel: ok" "$out"
check_contains "alone: timings said to be simulated" "timings: simulated" "$out"
printf '%s\n' "$out" >"$T/alone"
seconds=$(field work_seconds "$T/alone")
check_eq "alone: about 0.101 s of work ($seconds)" yes \
        "$(awk -v s="$seconds" 'BEGIN { print (s >= 0.100 && s < 0.6) ? "yes" : "no" }')"
TIMEFORMAT=%U
{ time probe --work 2 --spin 1000000000 >"$T/long"; } 2>"$T/cpu"
cpu=$(tail -1 "$T/cpu")
check_eq "2 kernels of 1e9 cycles: at least 1 s of work" yes \
        "$(awk -v s="$(field work_seconds "$T/long")" 'BEGIN { print (s >= 1.0) ? "yes" : "no" }')"
check_eq "... on little CPU (user $cpu s)" yes \
        "$(awk -v c="$cpu" 'BEGIN { print (c < 0.5) ? "yes" : "no" }')"

# makespan FILE...: from the first work_begin to the last work_end
makespan() {
        awk '/^work_begin:/ { if (b == "" || $2 < b) b = $2 } /^work_end:/ { if ($2 > e) e = $2 }
             END { printf "%.3f\n", e - b }' "$@"
}
# start_at: CLOCK_MONOTONIC 1.5 s from now, as the probe itself reads it
start_at() {
        probe --work 1 --spin 1 >"$T/now"
        awk '/^work_begin:/ { printf "%.3f\n", $2 + 1.5 }' "$T/now"
}

# Two clients without MPS: they take turns.
at=$(start_at)
probe "${work[@]}" --start-at "$at" >"$T/sliced1" &
probe "${work[@]}" --start-at "$at" >"$T/sliced2" &
wait
sliced=$(makespan "$T/sliced1" "$T/sliced2")
check_eq "two time-sliced clients take twice as long ($sliced s)" yes \
        "$(awk -v s="$sliced" 'BEGIN { print (s >= 0.195) ? "yes" : "no" }')"

# Two clients of one MPS daemon: they run side by side.
export CUDA_MPS_PIPE_DIRECTORY=$T/pipe CUDA_MPS_LOG_DIRECTORY=$T/log
mkdir -p "$T/pipe" "$T/log"
"$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
probe >/dev/null # the server starts before the clients are timed
at=$(start_at)
probe "${work[@]}" --start-at "$at" >"$T/mps1" &
probe "${work[@]}" --start-at "$at" >"$T/mps2" &
wait
mps=$(makespan "$T/mps1" "$T/mps2")
check_eq "two MPS clients share the device ($mps s against $sliced s)" yes \
        "$(awk -v m="$mps" -v s="$sliced" 'BEGIN { print (m < 0.75 * s) ? "yes" : "no" }')"
check_eq "neither began late" "0.000000 0.000000" \
        "$(field work_late_seconds "$T/mps1") $(field work_late_seconds "$T/mps2")"
echo quit | "$SIMRUN" "$topology" -- nvidia-cuda-mps-control
unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY

run_capture probe --json --work 1 --spin 1000
check_contains "json: the work" '"work":{"kernels":1,"blocks":8,"threads_per_block":128,"spin_cycles":1000,' "$out"
check_contains "json: simulated" '"timings":"simulated"' "$out"

run_capture probe --spin 5
check_eq "--spin without --work: exit 2" 2 "$rc"
check_contains "--spin without --work: said" "--spin and --start-at go with --work" "$err"
run_capture probe --work 0
check_eq "--work 0: exit 2" 2 "$rc"
run_capture probe --work 1 --start-at soon
check_eq "--start-at soon: exit 2" 2 "$rc"
check_contains "--start-at soon: said" "--start-at wants CLOCK_MONOTONIC seconds, not 'soon'" "$err"
