#!/bin/bash
# The agent restarts what dies: a control daemon killed with SIGKILL answers again within 2 s
# (the agent is its parent and sees the death through its pidfd, no polling), started anew as the
# agent's own child; six kills in a row, each of the restarted daemon, make the pause double
# (100, 200, 400 ms ...) and five turn into a crash loop that `status` shows with the next restart and
# the last exit cause, until the daemon is back. One log line per event, nothing in between.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
. "$MPSMIG_SOURCE/tests/integration/agent_helpers.bash"
use_topology a30-seed
start_agent
check_eq "one daemon per MIG device, each the agent's child" 4 "$(agent_daemons | wc -l)"
for pid in $(agent_daemons); do
        check_eq "daemon $pid's parent is the agent" "$agent" \
                "$(awk '{print $4}' "/proc/$pid/stat")"
done
lines=$(wc -l <"$T/agent.log")
sleep 1
check_eq "nothing logged in steady state" "$lines" "$(wc -l <"$T/agent.log")"

# --- one kill: answering again within 2 s
pipe=$MPSMIG_RUNTIME_DIR/$UUID0/pipe
old=$(pid_in "$pipe")
began=$(date +%s%N)
kill -9 "$old"
wait_gone "$old" 20
until_true 5 eval 'new=$(pid_in "$pipe"); [ -n "$new" ] && [ "$new" != "$old" ] && answers "$UUID0"'
took=$((($(date +%s%N) - began) / 1000000))
[ "$took" -le 2000 ] && pass "kill -9: answering again after $took ms (at most 2000)" ||
        fail "kill -9: answering again after $took ms (at most 2000)"
new=$(pid_in "$pipe")
check_eq "the new daemon is the agent's child" "$agent" "$(awk '{print $4}' "/proc/$new/stat")"
check_eq "the death is one log line, priority warning" 1 \
        "$(grep -c "^<4>0:1:0 $UUID0: the MPS control daemon (pid $old) was killed by signal 9" "$T/agent.log")"
check_eq "status: restarts 1" 1 "$(field "$UUID0" .agent.restarts)"
check_contains "status: the last exit cause" "killed by signal 9" "$(field "$UUID0" .agent.last_exit)"
check_eq "status: running again" running "$(field "$UUID0" .state)"

# --- kills in a row, each of the daemon the agent has just restarted: five make a crash loop, a
# sixth gives a 3.2 s pause, long enough to read even on a loaded machine
pipe=$MPSMIG_RUNTIME_DIR/$UUID1/pipe
for i in 1 2 3 4 5 6; do
        until_true 10 eval 'victim=$(pid_in "$pipe"); [ -n "$victim" ] && alive "$victim" && answers "$UUID1"'
        kill -9 "$victim"
        wait_gone "$victim" 20
done
m status 0:1:1
check_eq "status during the backoff: exit 3" 3 "$rc"
check_contains "the AGENT column shows the crash loop and its next restart" \
        "crash loop: restart in" "$out"
check_contains "... and the restarts" "6 restarts" "$out"
check_contains "a note says why on stderr" "was killed by signal 9" "$err"
m status --json 0:1:1
check_eq "JSON: supervision" "crash loop" "$(jq -r '.targets[0].agent.supervision' <<<"$out")"
check_eq "JSON: 6 restarts" 6 "$(jq -r '.targets[0].agent.restarts' <<<"$out")"
check_contains "JSON: the last exit cause" "killed by signal 9" \
        "$(jq -r '.targets[0].agent.last_exit' <<<"$out")"
next=$(jq -r '.targets[0].agent.next_restart_seconds' <<<"$out")
awk -v n="$next" 'BEGIN { exit !(n >= 0 && n <= 3.2) }' &&
        pass "JSON: the next restart in $next s (the sixth pause is 3.2 s)" ||
        fail "JSON: the next restart in $next s (the sixth pause is 3.2 s)"
check_eq "the pauses doubled: 100 200 400 800 1600 3200 ms" "100 200 400 800 1600 3200" \
        "$(grep -o "0:1:1 $UUID1: .*restart [0-9]* in [0-9]* ms" "$T/agent.log" | grep -o '[0-9]* ms$' | tr -d ' ms' | xargs)"
check_eq "the fifth and sixth deaths are logged as a crash loop, priority error" 2 \
        "$(grep -c "^<3>0:1:1 $UUID1: crash loop:" "$T/agent.log")"
until_true 10 answers "$UUID1" && pass "after the backoff it answers again" ||
        fail "after the backoff it answers again"
check_eq "the other daemons were never touched" 0 \
        "$(grep -c -e "^<4>0:2:" -e "^<3>0:2:" "$T/agent.log")"

stop_agent
check_eq "SIGTERM: the agent exits 0" 0 "$agent_rc"
check_eq "no daemon left" "" "$(agent_daemons)"
