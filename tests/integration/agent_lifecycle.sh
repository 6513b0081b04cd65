#!/bin/bash
# The agent among the other ways of running daemons, and with systemd: a daemon `mpsmig start`
# left is adopted (never doubled) and restarted as the agent's own child once it dies; the seed
# scripts' daemon on an instance is reported and left alone (never doubled); a second agent on the
# runtime folder is refused. status, env, run, start and stop are answered through the agent
# (and say so); stop holds a daemon down until start. The notify messages (READY=1, STATUS=,
# RELOADING=1, STOPPING=1) reach a socket the test listens on. SIGTERM stops every daemon the
# agent serves and removes their folders; then the verbs take their direct path again.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
. "$MPSMIG_SOURCE/tests/integration/agent_helpers.bash"
use_topology a30-seed
trap 'for pid in $(daemons "$UUID3"); do kill -9 "$pid" 2>/dev/null; done;
      rm -rf "/tmp/mps_$UUID3" "/tmp/mps_log_$UUID3"; finish' EXIT

# --- before the agent: a daemon of the default layout, and one of the seed layout
m start 0:1:0
check_eq "a direct start of 0:1:0" 0 "$rc"
adopted=$(daemons "$UUID0")
m start --layout seed 0:2:1
check_eq "a seed-layout daemon on 0:2:1" 0 "$rc"
seed_pid=$(daemons "$UUID3")

"$NOTIFY_LISTEN" "$T/notify.sock" >"$T/notify.log" 2>&1 &
listener=$!
until_true 10 test -S "$T/notify.sock"
export NOTIFY_SOCKET=$T/notify.sock
start_agent
unset NOTIFY_SOCKET

check_eq "the running daemon is adopted" 1 \
        "$(grep -c "^<6>0:1:0 $UUID0: adopted the MPS control daemon already running (pid $adopted)" "$T/agent.log")"
check_eq "... not doubled" "$adopted" "$(daemons "$UUID0")"
check_eq "... no daemon of the agent's on it" "" "$(agent_daemons "$UUID0")"
check_eq "the seed daemon is reported" 1 \
        "$(grep -c "^<4>0:2:1 $UUID3: cannot start its MPS control daemon: another MPS control daemon (pid $seed_pid, pipe folder /tmp/mps_$UUID3) already serves" "$T/agent.log")"
check_eq "... and left alone, not doubled" "$seed_pid" "$(daemons "$UUID3")"
check_eq "... no daemon of the agent's on it" "" "$(agent_daemons "$UUID3")"
check_eq "the two others are the agent's children" 2 "$(agent_daemons | wc -l)"
until_true 10 grep -q '^READY=1' "$T/notify.log"
check_eq "notify: READY=1 with the status, once every target has settled" \
        "READY=1|STATUS=3 of 4 MPS control daemons answer (0 restarting, 1 refused)" \
        "$(grep '^READY=1' "$T/notify.log" | head -1)"

# --- a second agent on the same runtime folder
sim "$topology" "$MPSMIG" daemon
check_eq "a second agent: exit 2" 2 "$rc"
check_contains "... says which folder is taken" "another agent serves $MPSMIG_RUNTIME_DIR" "$err"

# --- the verbs through the agent
m status
check_eq "status: exit 3 (0:2:1 is not served)" 3 "$rc"
check_contains "status says the agent answered" "(answered by the agent)" "$out"
check_contains "status: 0:2:1 refused" "refused" "$(grep '^0:2:1' <<<"$out")"
check_contains "status: 0:1:0 adopted" "ready, adopted" "$(grep '^0:1:0' <<<"$out")"
check_eq "status --json says the agent answered" agent "$(sim "$topology" "$MPSMIG" status --json; jq -r .answered_by <<<"$out")"
m env --json 0:1:1
check_eq "env --json: answered by the agent" "0 agent" "$rc $(jq -r .answered_by <<<"$out")"
check_eq "env: the instance's pipe folder" "$MPSMIG_RUNTIME_DIR/$UUID1/pipe" \
        "$(jq -r .environment.CUDA_MPS_PIPE_DIRECTORY <<<"$out")"
m run -v --on 0:1:1 -- true
check_eq "run --on 0:1:1: exit 0" 0 "$rc"
check_contains "run -v: placed by the agent" "placed by the agent" "$err"
m run --on 0:2:1 -- true
check_eq "run on the refused instance: exit 1" 1 "$rc"
check_contains "... saying why" "0:2:1 ($UUID3) cannot be started, so the program would run without MPS: another MPS control daemon" "$err"

m stop 0:1:1
check_eq "stop 0:1:1 through the agent: exit 0" 0 "$rc"
check_contains "... quit" "stopped (quit)" "$out"
check_eq "... its daemon is gone" "" "$(agent_daemons "$UUID1")"
sleep 0.5
check_eq "... and stays down" "" "$(agent_daemons "$UUID1")"
m run --on 0:1:1 -- true
check_eq "run on the stopped instance: exit 1" 1 "$rc"
check_contains "... says what to do" "is stopped, so the program would run without MPS; start it with \`mpsmig start 0:1:1\`" "$err"
m start 0:1:1
check_eq "start 0:1:1 through the agent: exit 0" 0 "$rc"
check_contains "... started" "started" "$(grep '^0:1:1' <<<"$out")"
check_eq "... the agent's child again" 1 "$(agent_daemons "$UUID1" | wc -l)"
answers "$UUID1" && pass "... and it answers" || fail "... and it answers"
m start --json
check_eq "start of everything: the others already run" "1 3" \
        "$rc $(jq '[.targets[] | select(.result == "already running")] | length' <<<"$out")"

# --- the adopted daemon dies: restarted as the agent's own
kill -9 "$adopted"
until_true 5 eval '[ -n "$(agent_daemons "$UUID0")" ] && answers "$UUID0"' &&
        pass "the adopted daemon, killed, is restarted as the agent's child" ||
        fail "the adopted daemon, killed, is restarted as the agent's child"
check_contains "... its exit status unknown to the agent" "exit status is unknown" \
        "$(grep "0:1:0 $UUID0: the MPS control daemon (pid $adopted)" "$T/agent.log")"

# --- SIGHUP: RELOADING=1, then READY=1 again
kill -HUP "$agent"
until_true 10 eval '[ "$(grep -c "^READY=1" "$T/notify.log")" -ge 2 ]'
check_contains "notify: RELOADING=1 on SIGHUP" "RELOADING=1|MONOTONIC_USEC=" "$(cat "$T/notify.log")"
check_eq "notify: READY=1 again after the reload" 2 "$(grep -c '^READY=1' "$T/notify.log")"
check_eq "notify: RELOADING=1 before the second READY=1" "RELOADING READY" \
        "$(grep -o -e '^RELOADING' -e '^READY' "$T/notify.log" | tail -2 | xargs)"

# --- SIGTERM
stop_agent
check_eq "SIGTERM: exit 0" 0 "$agent_rc"
check_contains "notify: STOPPING=1" "STOPPING=1" "$(cat "$T/notify.log")"
check_eq "no daemon of the agent's left" "" "$(agent_daemons)"
check_eq "no daemon of the default layout left" "" "$(daemons "$UUID0")$(daemons "$UUID1")$(daemons "$UUID2")"
check_eq "no folder left" "" "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"
check_eq "no socket left" "" "$(ls "$MPSMIG_RUNTIME_DIR"/agent.sock 2>/dev/null)"
check_eq "the seed daemon was never the agent's to stop" "$seed_pid" "$(daemons "$UUID3")"
check_eq "one line per event: no line without a priority" 0 "$(grep -cv '^<[0-7]>' "$T/agent.log")"
kill -TERM "$listener"
wait "$listener" 2>/dev/null

# --- without the agent, the direct path again
m status --json
check_eq "status after the agent: answered directly" direct "$(jq -r .answered_by <<<"$out")"
m stop --layout seed 0:2:1
check_eq "the seed daemon is stopped" 0 "$rc"
