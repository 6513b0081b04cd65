#!/bin/bash
# Placement through the agent is race-safe for every user: 64 simultaneous `run --on auto`, half
# of them root's and half user nobody's, each a probe that holds its client, are all placed (none
# refused) by the agent, which records each by its pid (SO_PEERCRED) and counts it until the pid
# exits: 16 clients on each of the four daemons. Nothing is written into a ledger: the agent's
# loop is the one place where placements are decided.
# Needs root to act as another user: without root it reports SKIP with exit status 77.
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root to run as user nobody"
        exit 77
fi
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
. "$MPSMIG_SOURCE/tests/integration/agent_helpers.bash"
use_topology a30-seed
HOLD=60
start_agent

# burst WHO: 64 runs at once, each a probe holding its client; "root", "nobody", or "both" (every
# other one nobody's); their pids in $pids.
burst() {
        pids=
        rm -f "$T"/probe.*
        for i in $(seq 64); do
                if [ "$1" = nobody ] || { [ "$1" = both ] && [ $((i % 2)) = 0 ]; }; then
                        "$SIMRUN" "$topology" -- setpriv --reuid=nobody --regid=nogroup \
                                --clear-groups "$MPSMIG" run -v -- "$PROBE" --hold "$HOLD" \
                                >"$T/probe.$i" 2>&1 &
                else
                        "$SIMRUN" "$topology" -- "$MPSMIG" run -v -- "$PROBE" --hold "$HOLD" \
                                >"$T/probe.$i" 2>&1 &
                fi
                pids="$pids $!"
        done
}

end_burst() {
        for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
        for pid in $pids; do wait "$pid" 2>/dev/null; done
        wait_for_counts "0 0 0 0" || fail "the probes left the client lists (saw $counts)"
        m status --json
        check_eq "$1: each placement is forgotten once its program exits" "0 0 0 0" \
                "$(jq -r '[.targets[].agent.reservations] | map(tostring) | join(" ")' <<<"$out")"
}

placed() {
        check_eq "$1: none refused, every run placed by the agent" 64 \
                "$(grep -l 'placed by the agent' "$T"/probe.* | wc -l)"
        m status --json
        check_eq "$1: the agent counts 16 placements on each instance" "16 16 16 16" \
                "$(jq -r '[.targets[].agent.reservations] | map(tostring) | join(" ")' <<<"$out")"
}

for who in root nobody; do
        burst "$who"
        if wait_for_counts "16 16 16 16"; then
                pass "$who's 64 simultaneous runs: 16 clients on each daemon"
        else
                fail "$who's 64 simultaneous runs: 16 clients on each daemon (saw $counts)"
                grep -h 'mpsmig:' "$T"/probe.* | sort | uniq -c | head
        fi
        placed "$who"
        end_burst "$who"
done

# Both users at once: a daemon without -M serves one user's server at a time and keeps the other
# user's clients pending (docs/driver-facts.md), so the client lists cannot show 16 each; the
# placements can, and each program is counted from its placement on.
burst both
until_true 30 eval '[ "$(grep -l "placed by the agent" "$T"/probe.* | wc -l)" = 64 ]'
placed "root and nobody at once"
check_eq "no ledger was written" "" "$(ls "$MPSMIG_RUNTIME_DIR"/placements 2>/dev/null)"
end_burst "root and nobody at once"

stop_agent
check_eq "SIGTERM: exit 0" 0 "$agent_rc"
check_eq "no daemon left" "" "$(agent_daemons)"
