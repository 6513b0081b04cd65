#!/bin/bash
# Starts and stops cut short (no file descriptors left, SIGINT, SIGTERM, SIGKILL at any moment)
# leave nothing a later `stop` cannot finish: a folder and its marker appear together, an empty
# folder an interrupted mpsmig left is recognised as its own, and the final stop removes every
# folder of the layout with exit 0.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

# --- out of file descriptors half-way: every folder made either has its marker or is gone
for _ in 1 2 3; do
        (ulimit -n 16; m start)
done
m stop
check_eq "stop after starts out of file descriptors: exit 0" 0 "$rc"
check_not_contains "stop after starts out of file descriptors: nothing failed" "failed" "$out"
check_eq "stop after starts out of file descriptors: no folder left" "lock node.json" \
        "$(ls "$MPSMIG_RUNTIME_DIR" | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "no daemon left" "" "$(daemons)"

# --- what a kill between mkdir and the marker leaves: empty folders without a marker
mkdir -p "$MPSMIG_RUNTIME_DIR/$UUID0/log" "$MPSMIG_RUNTIME_DIR/$UUID1"
m stop "$UUID0" "$UUID1"
check_eq "stop of half-made folders: exit 0" 0 "$rc"
check_eq "stop of half-made folders: removed" "" \
        "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"
mkdir -p "$MPSMIG_RUNTIME_DIR/$UUID0/log"
m start "$UUID0"
check_eq "start over a half-made folder: exit 0" 0 "$rc"
[ "$rc" = 0 ] || echo "$err"
check_eq "start over a half-made folder: marked now" yes \
        "$([ -f "$MPSMIG_RUNTIME_DIR/$UUID0/log/.mpsmig" ] && echo yes)"
m stop
check_eq "and stopped: exit 0" 0 "$rc"
check_eq "and stopped: no folder left" "" "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"

# --- signals at every moment of start and stop, six rounds
for round in 1 2 3 4 5 6; do
        for verb in start stop; do
                for signal in INT TERM KILL; do
                        "$SIMRUN" "$topology" -- "$MPSMIG" "$verb" >/dev/null 2>&1 &
                        pid=$!
                        sleep "0.0$((RANDOM % 6))$((RANDOM % 10))"
                        kill -"$signal" "$pid" 2>/dev/null
                        wait "$pid" 2>/dev/null
                done
        done
done
# A start killed half-way may leave a daemon running with its folders: stop ends it.
m stop
check_eq "stop after interrupted rounds: exit 0" 0 "$rc"
check_not_contains "stop after interrupted rounds: nothing failed" "failed" "$out$err"
check_eq "stop after interrupted rounds: no folder left" "" \
        "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"
check_eq "stop after interrupted rounds: no daemon left" "" "$(daemons)"
