#!/bin/bash
# The node changes under running daemons, as the shipped topologies say: started over a30-seed,
# then `nvidia-smi mig -dci` destroys MIG device 0:1:1 (a30-seed-after-dci), or GPU 0 falls off
# the bus (a30-seed-lost). status shows what is left and exits 3; stop ends every daemon of the
# layout, the vanished devices' too, and removes their folders; run still serves what is healthy.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
PRIVATE_SUFFIX=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
use_topology a30-seed
before=$topology
after_dci=$(private_topology a30-seed-after-dci)
lost=$(private_topology a30-seed-lost)

# --- a MIG instance destroyed between start and stop
m start
check_eq "start: exit 0" 0 "$rc"
gone=$(pid_in "$MPSMIG_RUNTIME_DIR/$UUID1/pipe")
topology=$after_dci
m status --wide
check_eq "after -dci, status: exit 3" 3 "$rc"
check_contains "status shows the vanished instance's daemon" \
        "$UUID1  running (orphaned: device gone)" "$out"
check_eq "status: the other three run" 3 "$(rows running "$out")"
m run -- true
check_eq "run on what is left: exit 0" 0 "$rc"
m stop
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: four stopped, the orphan too" 4 "$(grep -c 'stopped (quit)' <<<"$out")"
wait_gone "$gone" 20 && pass "the orphan's daemon is gone" || fail "the orphan's daemon still runs"
check_eq "stop: no folder left" "" "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"

# --- GPU 0 (the MIG one) lost under its four daemons
topology=$before
m start
check_eq "start again: exit 0" 0 "$rc"
topology=$lost
m status --wide
check_eq "GPU lost, status: exit 1 (a lost GPU is a failure, docs/cli.md)" 1 "$rc"
check_contains "status names the lost GPU" "GPU 0" "$err"
check_eq "status shows its four daemons as orphans" 4 "$(grep -cE '^- +MIG-[0-9a-f-]+ +running \(orphaned: device gone\)' <<<"$out")"
m stop
check_eq "GPU lost, stop: exit 0" 0 "$rc"
check_eq "stop: its four daemons stopped" 4 "$(grep -c 'stopped (quit)' <<<"$out")"
check_eq "no daemon left" "" "$(daemons)"
check_eq "no folder left" "" "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"
