#!/bin/bash
# A second control daemon on a device that mpsmig's daemon serves (started by hand, by another
# user, by a script): the clients of the two would time-slice, so status counts it as a problem,
# names it, and exits 3 until it is gone.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

m start
check_eq "start: exit 0" 0 "$rc"
m status
check_eq "status with one daemon per device: exit 0" 0 "$rc"

mkdir -p "$T/second"
CUDA_VISIBLE_DEVICES=$UUID0 CUDA_MPS_PIPE_DIRECTORY=$T/second CUDA_MPS_LOG_DIRECTORY=$T/second \
        "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
second=$(pid_in "$T/second")
m status --wide
check_eq "status with a second daemon on 0:1:0: exit 3" 3 "$rc"
check_eq "status flags 0:1:0" 1 "$(rows 'running \(\+another daemon\)' "$out")"
check_contains "status names the second daemon" "pid $second, pipe folder $T/second" "$err"

ask "$T/second" 'quit\n' >/dev/null
wait_gone "$second" || fail "the second daemon did not quit"
m status
check_eq "once it is gone, status: exit 0" 0 "$rc"
m stop
check_eq "stop: exit 0" 0 "$rc"
