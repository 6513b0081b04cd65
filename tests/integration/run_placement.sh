#!/bin/bash
# `mpsmig run --on auto` is race-safe: 20 runs started at once over a30-seed's four instances
# land exactly 5 on each, as each daemon's own client list shows; a client killed with -9 leaves
# its list and the next run fills the gap; --profile and profile names limit the choice.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
# Long enough to outlive every check under a loaded machine; the probes are ended with SIGTERM at
# the end.
HOLD=120

m start
check_eq "start the four daemons" 0 "$rc"

# --- 20 at once
pids=
for i in $(seq 20); do
        "$SIMRUN" "$topology" -- "$MPSMIG" run -- "$PROBE" --hold "$HOLD" >"$T/probe.$i" 2>&1 &
        pids="$pids $!"
done
if wait_for_counts "5 5 5 5"; then
        pass "20 simultaneous runs: 5 clients on each instance"
else
        fail "20 simultaneous runs: 5 clients on each instance (saw $counts)"
        for i in $(seq 20); do
                grep -q '^status: ok' "$T/probe.$i" || { echo "  probe $i:"; sed 's/^/    /' "$T/probe.$i"; }
        done
fi
listed=$(for uuid in $uuids; do clients "$uuid"; done | sort -n | tr '\n' ' ')
expected=$(for pid in $pids; do echo "$pid"; done | sort -n | tr '\n' ' ')
check_eq "the daemons list exactly the 20 runs' pids (exec kept each pid)" "$expected" "$listed"
for uuid in $uuids; do
        wrong=0
        for pid in $(clients "$uuid"); do
                tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "CUDA_VISIBLE_DEVICES=$uuid" ||
                        wrong=$((wrong + 1))
        done
        check_eq "every client of $uuid has CUDA_VISIBLE_DEVICES=$uuid" 0 "$wrong"
done

# --- a client killed with -9 leaves its daemon's list; the next run goes where it was
first=$(echo $uuids | cut -d' ' -f3)
victim=$(clients "$first" | head -1)
kill -9 "$victim"
if wait_for_counts "5 5 4 5"; then
        pass "a client killed with -9 leaves the client list"
else
        fail "a client killed with -9 leaves the client list (saw $counts)"
fi
"$SIMRUN" "$topology" -- "$MPSMIG" run -v -- "$PROBE" --hold "$HOLD" >"$T/late.out" 2>"$T/late.err" &
late=$!
if wait_for_counts "5 5 5 5"; then
        pass "the next run fills the instance with the fewest clients"
else
        fail "the next run fills the instance with the fewest clients (saw $counts)"
fi
check_contains "-v names where it went and why" \
        "run: on 0:2:0 ($first, 1c.2g.12gb), 4 clients before this one, the least loaded" \
        "$(cat "$T/late.err")"

# SIGTERM reaches the probe itself: run left no process of its own in between
statuses=
for pid in $pids $late; do
        [ "$pid" = "$victim" ] && continue
        kill -TERM "$pid"
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        statuses="$statuses $rc"
done
check_eq "each probe ends by SIGTERM (status 143)" "$(printf ' 143%.0s' $(seq 20))" "$statuses"
if wait_for_counts "0 0 0 0"; then
        pass "the client lists are empty once the probes are gone"
else
        fail "the client lists are empty once the probes are gone (saw $counts)"
fi

# --- dead placements do not count: with nothing running the first instance is chosen again
m run -v -- true
check_eq "a run after everything exited" 0 "$rc"
check_contains "dead ledger entries are forgotten" "on 0:1:0 (" "$err"
check_contains "... and nothing is counted" "0 clients before this one" "$err"

# --- choices limited by a profile
m run -v --profile 1c.2g.12gb -- true
check_eq "--profile of the instances" 0 "$rc"
m run -v --on 2g.12gb -- true
check_eq "--on a GPU-instance profile" 0 "$rc"
check_contains "--on a profile chooses among its instances" "the least loaded" "$err"
m run --profile 1g.6gb -- true
check_eq "--profile that names nothing: exit 2" 2 "$rc"
check_contains "--profile that names nothing: says so" "--profile: no target matches '1g.6gb'" "$err"
m run --profile 0:1:0 -- true
check_eq "--profile given a target: exit 2" 2 "$rc"
m run --on 0:1:0 --profile 1c.2g.12gb -- true
check_eq "--on and --profile that agree" 0 "$rc"

m stop
check_eq "stop" 0 "$rc"
