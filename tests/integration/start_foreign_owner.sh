#!/bin/bash
# Folders that belong to another user are refused, never used: an instance folder in the runtime
# folder, the runtime folder itself, and a seed-layout /tmp/mps_<UUID> planted by someone else.
# Needs root to give folders to `nobody`: without root it reports SKIP with exit status 77.
# ctest: RESOURCE_LOCK seed_tmp
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root to make folders owned by another user"
        exit 77
fi
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

# --- an instance folder owned by nobody
mkdir -p "$MPSMIG_RUNTIME_DIR/$UUID0"
chown nobody "$MPSMIG_RUNTIME_DIR/$UUID0"
m start --wide
check_eq "foreign instance folder: exit 1" 1 "$rc"
check_eq "foreign instance folder: the other three started" 3 "$(rows started "$out")"
check_contains "foreign instance folder: says whose it is" \
        "$MPSMIG_RUNTIME_DIR/$UUID0 belongs to user nobody (uid 65534), not to user root (uid 0)" "$err"
check_eq "foreign instance folder: nothing made in it" "" "$(ls -A "$MPSMIG_RUNTIME_DIR/$UUID0")"
check_eq "foreign instance folder: no daemon on it" "" "$(daemons "$UUID0")"
m status --wide
check_eq "foreign instance folder: status exit 1 (error)" 1 "$rc"
check_eq "foreign instance folder: status row says error" 1 "$(grep -cE "^0:1:0 +$UUID0 +error" <<<"$out")"
m stop --wide
check_eq "foreign instance folder: stop exit 1" 1 "$rc"
check_eq "foreign instance folder: the others stopped" 3 "$(rows stopped "$out")"
[ -d "$MPSMIG_RUNTIME_DIR/$UUID0" ] && pass "foreign instance folder: left in place" \
        || fail "foreign instance folder: left in place"
check_eq "no daemon left" "" "$(daemons)"
rm -rf "${MPSMIG_RUNTIME_DIR:?}/$UUID0"

# --- the runtime folder itself owned by nobody: nothing is tried
chown nobody "$MPSMIG_RUNTIME_DIR"
m start --wide
check_eq "foreign runtime folder: exit 2 (a bad runtime folder)" 2 "$rc"
check_contains "foreign runtime folder: says whose it is" "belongs to user nobody" "$err"
check_eq "foreign runtime folder: no daemon" "" "$(daemons)"
check_eq "foreign runtime folder: nothing made in it (the lock and node cache are from before)" "lock node.json" "$(ls -A "$MPSMIG_RUNTIME_DIR" | xargs)"
chown root "$MPSMIG_RUNTIME_DIR"

# --- the seed layout's /tmp/mps_<UUID> planted by another user
seed_pipe=/tmp/mps_$UUID1
rm -rf "$seed_pipe" "/tmp/mps_log_$UUID1"
mkdir "$seed_pipe"
chown nobody "$seed_pipe"
m start --wide --layout seed 0:1:1
check_eq "foreign seed folder: exit 1" 1 "$rc"
check_contains "foreign seed folder: says whose it is" "$seed_pipe belongs to user nobody" "$err"
check_eq "foreign seed folder: no daemon" "" "$(daemons "$UUID1")"
check_eq "foreign seed folder: nothing made in it" "" "$(ls -A "$seed_pipe")"
rm -rf "$seed_pipe" "/tmp/mps_log_$UUID1"
