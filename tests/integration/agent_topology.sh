#!/bin/bash
# The agent follows the node on SIGHUP: a MIG instance created (a30-seed-after-dci, then a30-seed)
# gets a daemon; one destroyed has its daemon stopped (`quit`) and its folders removed; a GPU
# lost has its devices' daemons stopped and shows as lost in `status`; when it returns its devices
# are served again. Between the changes nothing else moves.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
. "$MPSMIG_SOURCE/tests/integration/agent_helpers.bash"
PRIVATE_SUFFIX=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
use_topology a30-seed
full=$T/full.json
cp "$topology" "$full"
after_dci=$(private_topology a30-seed-after-dci)
swap_topology "$after_dci"
fake_nvidia_gpus

start_agent
check_eq "three instances, three daemons" 3 "$(agent_daemons | wc -l)"
check_eq "none for the instance that does not exist yet" "" "$(agent_daemons "$UUID1")"
others="$(agent_daemons "$UUID0") $(agent_daemons "$UUID2") $(agent_daemons "$UUID3")"

# --- an instance created
swap_topology "$full"
hup_and_wait "0:1:1 $UUID1: the MPS control daemon (pid [0-9]*) answers" &&
        pass "SIGHUP: the new instance's daemon answers" ||
        fail "SIGHUP: the new instance's daemon answers"
check_eq "it runs, one daemon" 1 "$(agent_daemons "$UUID1" | wc -l)"
m status
check_eq "status: 4 running" "0 4" "$rc $(rows running "$out")"
check_eq "the others kept their daemons" "$others" \
        "$(agent_daemons "$UUID0") $(agent_daemons "$UUID2") $(agent_daemons "$UUID3")"
grep -q '^<5>SIGHUP: reading the configuration and the node again' "$T/agent.log" && pass "SIGHUP is logged" ||
        fail "SIGHUP is logged"

# --- an instance destroyed
gone=$(agent_daemons "$UUID1")
destroy_instance "$UUID1"
hup_and_wait "$UUID1: NVML no longer lists it" && pass "SIGHUP: the destroyed instance is seen" ||
        fail "SIGHUP: the destroyed instance is seen"
wait_gone "$gone" 100 && pass "its daemon is stopped" || fail "its daemon is stopped"
until_true 10 eval '[ ! -e "$MPSMIG_RUNTIME_DIR/$UUID1" ]' && pass "its folders are removed" ||
        fail "its folders are removed"
m status
check_eq "status: 3 running, exit 0" "0 3" "$rc $(rows running "$out")"
check_not_contains "status no longer lists it" "$UUID1" "$(sim "$topology" "$MPSMIG" status --wide; echo "$out")"

# --- GPU 0 lost, then back
lost_daemons=$(agent_daemons | xargs)
lose_gpu 0
hup_and_wait "GPU 0 .*is lost" && pass "SIGHUP: the lost GPU is logged" ||
        fail "SIGHUP: the lost GPU is logged"
grep -q "^<3>GPU 0 at 00000000:17:00.0 is lost" "$T/agent.log" && pass "... as an error, with its bus id" ||
        fail "... as an error, with its bus id"
for pid in $lost_daemons; do
        wait_gone "$pid" 100 || fail "the lost GPU's daemon $pid is stopped"
done
check_eq "its devices' daemons are stopped" "" "$(agent_daemons)"
until_true 10 eval '[ -z "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)" ]' &&
        pass "their folders are removed" || fail "their folders are removed"
m status
check_eq "status with a lost GPU: exit 1" 1 "$rc"
check_contains "status shows the lost GPU" "gpu lost at 00000000:17:00.0" "$out"
check_contains "and says so on stderr" "GPU 0 (PCI 00000000:17:00.0) is lost" "$err"

swap_topology "$full"
destroy_instance "$UUID1"
hup_and_wait "GPU 0 .*answers again" && pass "SIGHUP: the returned GPU is logged" ||
        fail "SIGHUP: the returned GPU is logged"
until_true 10 eval '[ "$(agent_daemons | wc -l)" = 3 ]' && pass "its devices are served again" ||
        fail "its devices are served again"
until_true 10 answers "$UUID3" && pass "... and answer" || fail "... and answer"
m status
check_eq "status: 3 running again, exit 0" "0 3" "$rc $(rows running "$out")"

stop_agent
check_eq "SIGTERM: exit 0" 0 "$agent_rc"
check_eq "no daemon left" "" "$(agent_daemons)"
check_eq "no folder left" "" "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"
