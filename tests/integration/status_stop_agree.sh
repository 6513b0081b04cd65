#!/bin/bash
# `status` and `stop` agree on what exists: a plain `status` shows a whole GPU's daemon started
# with `start 2` (as a plain `stop` stops it), and no idle whole GPU. A plain `stop` that finds
# nothing of the default layout but daemons of the seed layout on this node's devices says so and
# how to stop them, instead of a bare "not running".
# ctest: RESOURCE_LOCK seed_tmp
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
GPU2=$(grep -oE '"GPU-[0-9a-f-]{36}"' "$topology" | tr -d '"' | sed -n 3p)

cleanup_seed() {
        local status=$?
        for pid in $(daemons); do kill -9 "$pid" 2>/dev/null; done
        for uuid in $uuids; do rm -rf "/tmp/mps_$uuid" "/tmp/mps_log_$uuid"; done
        finish
        exit "$status"
}
trap cleanup_seed EXIT

# --- a whole GPU's daemon is seen by a plain status
m start --wide
check_eq "start: exit 0" 0 "$rc"
m start --wide 2
check_eq "start 2: exit 0" 0 "$rc"
m status --wide
check_eq "status: exit 0 (all that runs answers)" 0 "$rc"
check_eq "status: five running" 5 "$(rows running "$out")"
check_eq "status: the whole GPU's row" 1 "$(grep -cE "^2 +$GPU2 +running " <<<"$out")"
check_eq "status: no idle whole GPU" 0 "$(grep -cE '^[13] +GPU-' <<<"$out")"
m status --json
check_eq "status --json: five targets" 5 "$(grep -c '"state": "running"' <<<"$out")"
m stop --wide
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: the same five stopped" 5 "$(rows 'stopped \(quit\)' "$out")"
m status --wide
check_eq "status after stop: exit 3" 3 "$rc"
check_eq "status after stop: the four MIG devices only" 4 "$(rows 'not running' "$out")"
check_eq "status after stop: no whole GPU row" 0 "$(grep -cE '^[0-9] +GPU-' <<<"$out")"

# --- a plain stop over the seed layout's daemons points at --layout seed
m start --wide --layout seed
check_eq "start --layout seed: exit 0" 0 "$rc"
seed_daemons=$(daemons)
m stop --wide
check_eq "plain stop over seed daemons: exit 0" 0 "$rc"
check_eq "plain stop: four not running" 4 "$(rows 'not running' "$out")"
check_contains "plain stop: says the seed layout's daemons run and how to stop them" \
        "but 4 MPS control daemons of the seed layout (/tmp/mps_<UUID>) serve this node's devices: stop them with \`mpsmig stop --layout seed\`" "$err"
check_eq "plain stop: the seed daemons are untouched" "$seed_daemons" "$(daemons)"
m stop --wide 0:1:0
check_contains "stop 0:1:0 over a seed daemon: the hint counts that target only" \
        "but 1 MPS control daemon of the seed layout (/tmp/mps_<UUID>) serves this node's devices: stop it with" "$err"
m stop --wide --layout seed
check_eq "stop --layout seed: exit 0" 0 "$rc"
check_eq "stop --layout seed: four stopped" 4 "$(rows 'stopped \(quit\)' "$out")"
check_eq "stop --layout seed: no daemon left" "" "$(daemons)"
m stop --wide
check_eq "plain stop of nothing: exit 0" 0 "$rc"
check_not_contains "plain stop of nothing: no hint" "seed layout" "$err"
