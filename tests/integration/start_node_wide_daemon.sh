#!/bin/bash
# A control daemon started without CUDA_VISIBLE_DEVICES serves every device it can see (its
# device_query lists them): `start` refuses to put per-instance daemons beside it (they would
# time-slice with it), and `status` names it on every target, as JSON too. One that sees other
# devices (here: another simulated node's) is no obstacle.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

mkdir -p "$T/nodewide"
CUDA_MPS_PIPE_DIRECTORY=$T/nodewide CUDA_MPS_LOG_DIRECTORY=$T/nodewide \
        "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
node_wide=$(pid_in "$T/nodewide")

m start
check_eq "start beside a node-wide daemon: exit 1" 1 "$rc"
check_eq "start beside a node-wide daemon: four refused" 4 "$(rows failed "$out")"
check_contains "start names the node-wide daemon" "pid $node_wide, pipe folder $T/nodewide" "$err"
check_contains "start says why it serves this device" "it has no CUDA_VISIBLE_DEVICES, so it serves every device it can see" "$err"
check_eq "start beside a node-wide daemon: no daemon of ours" "$node_wide" "$(daemons)"
check_eq "start beside a node-wide daemon: no folders made" "" \
        "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"

m status --json
check_eq "status: exit 3" 3 "$rc"
check_eq "status --json: the node-wide daemon on every target" 4 \
        "$(grep -c "\"pipe_dir\": \"$T/nodewide\"" <<<"$out")"

# A node-wide daemon of another node (the shipped topology's UUIDs, not this test's) serves none
# of ours.
mkdir -p "$T/elsewhere"
CUDA_MPS_PIPE_DIRECTORY=$T/elsewhere CUDA_MPS_LOG_DIRECTORY=$T/elsewhere \
        "$SIMRUN" "$TOPOLOGIES/a30-seed.json" -- nvidia-cuda-mps-control -d
elsewhere=$(pid_in "$T/elsewhere")
ask "$T/nodewide" 'quit\n' >/dev/null
wait_gone "$node_wide" || fail "the node-wide daemon did not quit"
m start
check_eq "once it is gone, start beside another node's node-wide daemon: exit 0" 0 "$rc"
check_eq "and four started" 4 "$(rows started "$out")"
m stop
check_eq "stop: exit 0" 0 "$rc"

ask "$T/elsewhere" 'quit\n' >/dev/null
wait_gone "$elsewhere" || fail "the other node's daemon did not quit"
