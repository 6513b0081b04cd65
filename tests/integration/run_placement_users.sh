#!/bin/bash
# `mpsmig run --on auto` is race-safe for a user running on root's daemons too: root starts
# a30-seed's four daemons in its runtime folder, user nobody finds them there ($MPSMIG_RUNTIME_DIR)
# and 20, then 64, simultaneous runs land 5/5/5/5 and 16/16/16/16. The user's ledger and lock are
# in a private folder of its own ($XDG_RUNTIME_DIR/mpsmig, else /tmp/mpsmig-<uid>); nothing is
# written into root's runtime folder, and root's own lock is never taken.
# Needs root to act as another user: without root it reports SKIP with exit status 77.
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root to run as user nobody"
        exit 77
fi
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
HOLD=120

# burst N: N runs as nobody at once, each a probe holding its client; their pids in $pids.
burst() {
        pids=
        for i in $(seq "$1"); do
                "$SIMRUN" "$topology" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
                        "$MPSMIG" run -- "$PROBE" --hold "$HOLD" >"$T/probe.$i" 2>&1 &
                pids="$pids $!"
        done
}

end_burst() {
        for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
        for pid in $pids; do wait "$pid" 2>/dev/null; done
        wait_for_counts "0 0 0 0" || fail "the probes left the client lists (saw $counts)"
}

m start
check_eq "root starts the four daemons" 0 "$rc"
before=$(ls -A "$MPSMIG_RUNTIME_DIR" | xargs)

# --- 20 at once, no $XDG_RUNTIME_DIR: the ledger goes to /tmp/mpsmig-65534
unset XDG_RUNTIME_DIR
burst 20
if wait_for_counts "5 5 5 5"; then
        pass "a user's 20 simultaneous runs: 5 clients on each of root's instances"
else
        fail "a user's 20 simultaneous runs: 5 clients on each of root's instances (saw $counts)"
        for i in $(seq 20); do
                grep -q '^status: ok' "$T/probe.$i" || { echo "  probe $i:"; sed 's/^/    /' "$T/probe.$i"; }
        done
fi
check_eq "no warning that the placement was not race-safe" "" \
        "$(cat "$T"/probe.* | grep 'not race-safe' | head -1)"
private=/tmp/mpsmig-65534
check_eq "the user's private folder is its own, 0700" "nobody 700" "$(stat -c '%U %a' "$private")"
ledgers=$(for uuid in $uuids; do wc -l <"$private/placements/$uuid"; done | xargs)
check_eq "the user's ledgers name the 20 runs" "5 5 5 5" "$ledgers"
check_eq "the placement lock is the user's, 0600" "nobody 600" \
        "$(stat -c '%U %a' "$private/placements/lock")"
check_eq "nothing was written into root's runtime folder" "$before" \
        "$(ls -A "$MPSMIG_RUNTIME_DIR" | xargs)"
end_burst

# --- 64 at once, with an $XDG_RUNTIME_DIR of the user's own
export XDG_RUNTIME_DIR=$T/xdg
mkdir -m 0700 "$XDG_RUNTIME_DIR"
chown nobody:nogroup "$XDG_RUNTIME_DIR"
HOLD=60
burst 64
if wait_for_counts "16 16 16 16"; then
        pass "a user's 64 simultaneous runs: 16 clients on each of root's instances"
else
        fail "a user's 64 simultaneous runs: 16 clients on each of root's instances (saw $counts)"
        grep -h 'mpsmig:' "$T"/probe.* | sort | uniq -c | head
fi
check_eq "the ledger is in \$XDG_RUNTIME_DIR/mpsmig/placements" "16 16 16 16" \
        "$(for uuid in $uuids; do wc -l <"$XDG_RUNTIME_DIR/mpsmig/placements/$uuid"; done | xargs)"
end_burst
unset XDG_RUNTIME_DIR

# --- root's pending placements count for the user: a root run placed on 0:1:0 (its program a
# sleep, which never attaches) makes the user's next run go elsewhere
first=$(echo $uuids | cut -d' ' -f1)
"$SIMRUN" "$topology" -- "$MPSMIG" run --on 0:1:0 -- sleep "$HOLD" &
root_run=$!
for _ in $(seq 100); do
        [ -s "$MPSMIG_RUNTIME_DIR/placements/$first" ] && break
        sleep 0.05
done
sim "$topology" setpriv --reuid=nobody --regid=nogroup --clear-groups "$MPSMIG" run -v -- true
check_eq "a user's run next to a root placement" 0 "$rc"
check_contains "... goes past the instance root's ledger fills" "on 0:1:1 (" "$err"
kill -TERM "$root_run"
wait "$root_run" 2>/dev/null

m stop
check_eq "root stops the daemons" 0 "$rc"
