#!/bin/bash
# A node-wide control daemon (no CUDA_VISIBLE_DEVICES) that does not answer device_query: what it
# serves cannot be told, so start goes on and names it in a warning. Every start and status on
# the machine would name it too, so this runs alone.
# ctest: RUN_SERIAL
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

mkdir -p "$T/mute"
SIMGPU_MPS_NO_ANSWER='*' CUDA_MPS_PIPE_DIRECTORY=$T/mute CUDA_MPS_LOG_DIRECTORY=$T/mute \
        "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
mute=$(pid_in "$T/mute")
m start
check_eq "beside a node-wide daemon that does not answer: exit 0" 0 "$rc"
check_contains "and it says what it could not check" \
        "pid $mute (pipe folder $T/mute) has no CUDA_VISIBLE_DEVICES and did not answer" "$err"
m stop
check_eq "stop: exit 0" 0 "$rc"
kill "$mute"
wait_gone "$mute" || fail "the mute daemon did not go"
