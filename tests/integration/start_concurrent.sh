#!/bin/bash
# Ten `mpsmig start` at once on the seed's A30: the node lock serialises them, so there are
# exactly four daemons (one per instance), every run exits 0, prints no error, and reports each
# instance as started (four times in all) or already running (every other time).
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

for n in $(seq 10); do
        ("$SIMRUN" "$topology" -- "$MPSMIG" start >"$T/out.$n" 2>"$T/err.$n"; echo $? >"$T/rc.$n") &
done
wait

started=0
running=0
for n in $(seq 10); do
        check_eq "run $n: exit 0" 0 "$(cat "$T/rc.$n")"
        check_eq "run $n: nothing on stderr" "" "$(cat "$T/err.$n")"
        s=$(rows started "$(cat "$T/out.$n")")
        a=$(rows 'already running' "$(cat "$T/out.$n")")
        check_eq "run $n: four instances reported, each started or already running" 4 $((s + a))
        started=$((started + s))
        running=$((running + a))
done
check_eq "four started in all" 4 "$started"
check_eq "thirty-six already running in all" 36 "$running"
check_eq "exactly four daemons" 4 "$(daemons | wc -l)"
for uuid in $uuids; do
        check_eq "$uuid: one daemon" 1 "$(daemons "$uuid" | wc -l)"
done

# Ten stops at once: every daemon stopped exactly once, the rest find nothing to stop.
for n in $(seq 10); do
        ("$SIMRUN" "$topology" -- "$MPSMIG" stop >"$T/out.$n" 2>"$T/err.$n"; echo $? >"$T/rc.$n") &
done
wait
stopped=0
for n in $(seq 10); do
        check_eq "stop $n: exit 0" 0 "$(cat "$T/rc.$n")"
        check_eq "stop $n: nothing on stderr" "" "$(cat "$T/err.$n")"
        stopped=$((stopped + $(rows stopped "$(cat "$T/out.$n")")))
done
check_eq "four stopped in all" 4 "$stopped"
check_eq "no daemon left" "" "$(daemons)"
