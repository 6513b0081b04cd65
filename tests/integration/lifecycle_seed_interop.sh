#!/bin/bash
# mpsmig and the seed scripts (tests/integration/seed/, as written) on one node: the seed's four
# daemons in /tmp/mps_<UUID> are seen by `status --layout seed`, kept by `start --layout seed`
# and stopped by `stop --layout seed` (their folders removed by name when they hold only what the
# control program writes, kept with the reason otherwise); the
# default layout refuses to start a second daemon on an instance a seed daemon serves, saying
# which pid and folder and what to do; and the seed's stop script stops mpsmig's seed layout.
# ctest: RESOURCE_LOCK seed_tmp
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
seed=$MPSMIG_SOURCE/tests/integration/seed

# Whatever happens, no daemon and no /tmp/mps_* of this test's UUIDs outlive it.
cleanup_seed() {
        local status=$?
        for uuid in $uuids; do
                for pid in $(daemons "$uuid"); do kill -9 "$pid" 2>/dev/null; done
                rm -rf "/tmp/mps_$uuid" "/tmp/mps_log_$uuid"
        done
        return $status
}
trap 'cleanup_seed; finish' EXIT

run_seed() { run_capture "$SIMRUN" "$topology" -- bash "$seed/$1"; }

# --- the seed's start script, as written
run_seed mps-start.sh
check_eq "seed start: exit 0" 0 "$rc"
check_eq "seed start: four daemons" 4 "$(daemons | wc -l)"
for uuid in $uuids; do
        pid=$(daemons "$uuid")
        check_eq "seed daemon of $uuid in /tmp" "$pid" "$(pid_in "/tmp/mps_$uuid")"
done
seed_daemons=$(daemons)

m status --wide --layout seed
check_eq "status --layout seed: exit 0" 0 "$rc"
check_eq "status --layout seed: four running" 4 "$(rows running "$out")"
check_contains "status --layout seed: in /tmp" "layout seed in /tmp: 4 running" "$out"
for uuid in $uuids; do
        check_eq "status --layout seed: $uuid's pid" 1 \
                "$(grep -cE "^[0-9:]+ +$uuid +running +$(daemons "$uuid") " <<<"$out")"
done
check_eq "status --layout seed: no notes" "" "$err"
if [ "$(id -u)" = 0 ]; then
        # A user sees root's daemons too (root's folders are trusted for reading).
        run_capture "$SIMRUN" "$topology" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
                "$MPSMIG" status --layout seed
        check_eq "status --layout seed as nobody: exit 0" 0 "$rc"
        check_eq "status --layout seed as nobody: four running" 4 "$(rows running "$out")"
else
        echo "note: not root: the check of status as another user was not run"
fi

m status --wide
check_eq "status (default layout): exit 3" 3 "$rc"
check_eq "status (default layout): four not running, another daemon flagged" 4 \
        "$(rows 'not running \(\+another daemon\)' "$out")"
check_eq "status (default layout): four notes" 4 "$(count 'another MPS control daemon' "$err")"
check_contains "status (default layout): the note names the seed folder" "pipe folder /tmp/mps_$UUID0" "$err"
m status --json
check_eq "status --json (default layout): four other daemons" 4 "$(count '"pipe_dir": "/tmp/mps_' "$out")"

# --- the default layout refuses a second daemon on an instance the seed's daemon serves
m start --wide
check_eq "start (default layout) over the seed: exit 1" 1 "$rc"
check_eq "start (default layout) over the seed: four failed" 4 "$(rows failed "$out")"
pid0=$(daemons "$UUID0")
check_contains "refusal names the pid and folder" \
        "another MPS control daemon (pid $pid0, pipe folder /tmp/mps_$UUID0) already serves $UUID0" "$err"
check_contains "refusal says why" "time-slice" "$err"
check_contains "refusal says what to do" "mpsmig stop --layout seed" "$err"
check_eq "refusal: no daemon started" "$seed_daemons" "$(daemons)"
[ ! -e "$MPSMIG_RUNTIME_DIR/$UUID0" ] && pass "refusal: no folder made" || fail "refusal: no folder made"

m start --wide --layout seed
check_eq "start --layout seed: exit 0" 0 "$rc"
check_eq "start --layout seed: four already running" 4 "$(rows 'already running' "$out")"
check_eq "start --layout seed: the same daemons" "$seed_daemons" "$(daemons)"

# --- stop --layout seed stops the seed's daemons and removes the seed's folders by name, except
# one that holds a file the control program does not write (kept, and stop says why)
echo "an admin's note" >"/tmp/mps_log_$UUID3/notes.txt"
m stop --wide --layout seed
check_eq "stop --layout seed: exit 0" 0 "$rc"
check_eq "stop --layout seed: four stopped by quit" 4 "$(rows 'stopped \(quit\)' "$out")"
check_eq "stop --layout seed: three removed both" 3 "$(count ' 2 removed ' "$out")"
check_eq "stop --layout seed: one kept its log folder" 1 "$(count '1 removed, 1 kept (not made by mpsmig)' "$out")"
check_contains "stop --layout seed: says why it kept one" \
        "kept /tmp/mps_log_$UUID3: it holds notes.txt, which is not what the MPS control program leaves there" "$err"
check_eq "stop --layout seed: no daemon left" "" "$(daemons)"
for uuid in $UUID0 $UUID1 $UUID2; do
        [ ! -e "/tmp/mps_$uuid" ] && [ ! -e "/tmp/mps_log_$uuid" ] && pass "seed folders of $uuid removed" \
                || fail "seed folders of $uuid removed"
done
[ ! -e "/tmp/mps_$UUID3" ] && [ -f "/tmp/mps_log_$UUID3/notes.txt" ] &&
        pass "the log folder with a foreign file is kept, its file untouched" ||
        fail "the log folder with a foreign file is kept, its file untouched"
m status --wide --layout seed
check_eq "status --layout seed after stop: exit 3" 3 "$rc"
check_eq "status --layout seed after stop: four not running" 4 "$(rows 'not running' "$out")"

# --- mpsmig's seed layout, stopped by the seed's own stop script
for uuid in $uuids; do rm -rf "/tmp/mps_$uuid" "/tmp/mps_log_$uuid"; done
m start --wide --layout seed
check_eq "start --layout seed from scratch: exit 0" 0 "$rc"
check_eq "start --layout seed from scratch: four started" 4 "$(rows started "$out")"
[ -f "/tmp/mps_$UUID0/.mpsmig" ] && pass "mpsmig marks the seed folders it makes" \
        || fail "mpsmig marks the seed folders it makes"
CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_$UUID0 CUDA_VISIBLE_DEVICES=$UUID0 \
        "$SIMRUN" "$topology" -- "$PROBE" >"$T/probe.out" 2>&1
check_eq "a client with the seed's variables runs" 0 "$?"
run_seed mps-stop.sh
check_eq "seed stop script over mpsmig's daemons: exit 0" 0 "$rc"
check_eq "seed stop script: no daemon left" "" "$(daemons)"
[ ! -e "/tmp/mps_$UUID0" ] && pass "seed stop script removed the folders" \
        || fail "seed stop script removed the folders"

# --- and mpsmig removes the seed-layout folders it made itself
m start --wide --layout seed
m stop --wide --layout seed
check_eq "stop --layout seed of mpsmig's own: exit 0" 0 "$rc"
check_eq "stop --layout seed of mpsmig's own: folders removed" 4 "$(count ' 2 removed ' "$out")"
for uuid in $uuids; do
        [ ! -e "/tmp/mps_$uuid" ] && [ ! -e "/tmp/mps_log_$uuid" ] && pass "$uuid: removed" \
                || fail "$uuid: removed"
done
