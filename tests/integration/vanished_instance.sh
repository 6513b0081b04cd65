#!/bin/bash
# A MIG instance is destroyed between `start` and `stop` while its daemon runs: `status` shows the
# daemon from its folders (orphaned: device gone) and exits 3, `stop UUID` accepts the vanished
# UUID and ends it, a plain `stop` ends the others and any orphan left, and removes their folders;
# the same for the seed layout's /tmp/mps_<UUID> (a device the node cache lists). A hung orphan
# is escalated on like any daemon.
# ctest: RESOURCE_LOCK seed_tmp
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
run=$MPSMIG_RUNTIME_DIR

cleanup_seed() {
        local status=$?
        for pid in $(daemons); do kill -9 "$pid" 2>/dev/null; done
        for uuid in $all_uuids; do rm -rf "/tmp/mps_$uuid" "/tmp/mps_log_$uuid"; done
        finish
        exit "$status"
}
all_uuids=$uuids
trap cleanup_seed EXIT

SIMGPU_MPS_HANG_ON_QUIT=$UUID2 m start --wide
check_eq "start: exit 0" 0 "$rc"
pid1=$(daemons "$UUID1")
pid2=$(daemons "$UUID2")
destroy_instance "$UUID1"
destroy_instance "$UUID3" # the last one: the file stays valid JSON
m list
check_eq "list: two MIG devices left" "2 MIG devices" "$(grep -oE '[0-9]+ MIG devices' <<<"$out")"

m status --wide
check_eq "status: exit 3" 3 "$rc"
check_eq "status: two devices listed run" 2 "$(rows running "$out")"
check_eq "status: the vanished ones shown" 2 "$(grep -cE "^- +($UUID1|$UUID3) +running \(orphaned: device gone\) " <<<"$out")"
check_contains "status: a note names the vanished UUID" "mpsmig: $UUID1: NVML no longer lists this device" "$err"
m status --json
check_eq "status --json: two orphans" 2 "$(grep -c '"orphaned": true' <<<"$out")"
check_contains "status --json: the summary counts them" '"orphaned": 2' "$out"

m stop --wide "$UUID1"
check_eq "stop VANISHED-UUID: exit 0" 0 "$rc"
check_eq "stop VANISHED-UUID: one row, stopped" 1 "$(grep -cE "^- +$UUID1 +stopped \(quit\) +$pid1 +3 removed" <<<"$out")"
alive "$pid1" && fail "its daemon is gone" || pass "its daemon is gone"
[ ! -e "$run/$UUID1" ] && pass "its folders are removed" || fail "its folders are removed"
m stop --wide "${UUID1:0:12}"
check_eq "a prefix of a vanished UUID still names nothing: exit 2" 2 "$rc"

m stop --wide --timeout 1
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: three stopped" 3 "$(grep -cE ' stopped \(' <<<"$out")"
check_eq "stop: the orphan left is stopped too" 1 "$(grep -cE "^- +$UUID3 +stopped \(quit\) " <<<"$out")"
check_eq "stop: the hung one escalated" 1 "$(grep -cE "^0:2:0 +$UUID2 +stopped \(SIGTERM\) +$pid2 " <<<"$out")"
check_eq "stop: no daemon left" "" "$(daemons)"
check_eq "stop: no daemon folder left" "" "$(ls -A "$run" | grep -E '^(MIG|GPU)-')"
m status --wide
check_eq "status after stop: exit 3 (two not running)" 3 "$rc"
check_not_contains "status after stop: no orphan" "orphaned" "$out"

# --- the seed layout: /tmp/mps_<UUID> of a device the node cache lists and NVML does not
use_topology a30-seed
all_uuids="$all_uuids $uuids"
m start --wide --layout seed
check_eq "start --layout seed: exit 0" 0 "$rc"
check_eq "start --layout seed: node cache written" 1 "$(grep -c "$UUID0" "$run/node.json")"
destroy_instance "$UUID0"
m status --wide --layout seed
check_eq "status --layout seed: exit 3" 3 "$rc"
check_eq "status --layout seed: the vanished one shown" 1 "$(grep -cE "^- +$UUID0 +running \(orphaned: device gone\) " <<<"$out")"
m stop --wide --layout seed
check_eq "stop --layout seed: exit 0" 0 "$rc"
check_eq "stop --layout seed: four stopped" 4 "$(grep -cE ' stopped \(quit\) ' <<<"$out")"
check_eq "stop --layout seed: no daemon left" "" "$(daemons)"
[ ! -e "/tmp/mps_$UUID0" ] && [ ! -e "/tmp/mps_log_$UUID0" ] && pass "the vanished one's seed folders are removed" ||
        fail "the vanished one's seed folders are removed"
