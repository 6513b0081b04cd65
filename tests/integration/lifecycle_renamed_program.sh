#!/bin/bash
# MPSMIG_MPS_CONTROL may name the control program under another file name (a copy, a wrapper
# build): its daemons are still recognised, so status calls them running, stop quits them and
# only then removes their folders, and start does not put a second daemon beside one.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

mkdir -p "$T/bin"
cp "$MPSMIG_BUILD/simgpu/bin/nvidia-cuda-mps-control" "$T/bin/site-mps-control"
export MPSMIG_MPS_CONTROL=$T/bin/site-mps-control

m start
check_eq "start with a renamed control program: exit 0" 0 "$rc"
check_eq "start: four started" 4 "$(rows started "$out")"
m start
check_eq "start again: four already running" 4 "$(rows 'already running' "$out")"

m status
check_eq "status: exit 0" 0 "$rc"
check_eq "status: four running" 4 "$(rows running "$out")"

pids=$(for uuid in $uuids; do pid_in "$MPSMIG_RUNTIME_DIR/$uuid/pipe"; done)
m stop
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: four stopped" 4 "$(rows stopped "$out")"
for pid in $pids; do
        wait_gone "$pid" 20 && pass "daemon $pid is gone" || fail "daemon $pid still runs"
done
check_eq "stop: folders removed" "" "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"
