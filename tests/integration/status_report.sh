#!/bin/bash
# `mpsmig status` on the seed's A30: the states (running, not running, stale after kill -9,
# not answering) and the exit status monitoring relies on (0 all up, 3 some down), servers with
# their users and clients (mpsmig-probe clients held through the daemons), default limits,
# uptime, the JSON document; and the kill -9 paths of start (recovered) and stop (stale cleaned).
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

m status --wide
check_eq "nothing started: exit 3" 3 "$rc"
check_eq "nothing started: four not running" 4 "$(rows 'not running' "$out")"
check_eq "nothing started: no notes" "" "$err"
[ ! -e "$MPSMIG_RUNTIME_DIR/$UUID0" ] && pass "status makes no folders" || fail "status makes no folders"

m start --wide
check_eq "start: exit 0" 0 "$rc"
m status --wide
check_eq "all running: exit 0" 0 "$rc"
check_eq "all running: no notes" "" "$err"
check_eq "all running: four rows" 4 "$(rows running "$out")"
check_contains "all running: summary" "4 targets, layout default in $MPSMIG_RUNTIME_DIR: 4 running" "$out"
check_contains "all running: the header" "TARGET  UUID" "$out"
pid0=$(daemons "$UUID0")
check_eq "the row gives the pid, no server, no client, 100% threads, no pinned limit" 1 \
        "$(grep -cE "^0:1:0 +$UUID0 +running +$pid0 +[0-9]+s +- +0 +100% +-$" <<<"$out")"

# Clients: a probe holding its context on 0:1:0 as root and, as root can, one on 0:2:0 as nobody.
pipe0=$MPSMIG_RUNTIME_DIR/$UUID0/pipe
pipe2=$MPSMIG_RUNTIME_DIR/$UUID2/pipe
CUDA_MPS_PIPE_DIRECTORY=$pipe0 CUDA_VISIBLE_DEVICES=$UUID0 \
        "$SIMRUN" "$topology" -- "$PROBE" --hold 4 >"$T/probe0.out" 2>&1 &
probe0=$!
if [ "$(id -u)" = 0 ]; then
        CUDA_MPS_PIPE_DIRECTORY=$pipe2 CUDA_VISIBLE_DEVICES=$UUID2 \
                "$SIMRUN" "$topology" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
                "$PROBE" --hold 4 >"$T/probe2.out" 2>&1 &
        probe2=$!
fi
for _ in $(seq 50); do
        m status --json
        [ "$(count '"client_count": 1' "$out")" -ge "$([ -n "${probe2:-}" ] && echo 2 || echo 1)" ] && break
        sleep 0.1
done
m status --wide
server0=$(ask "$pipe0" 'get_server_list\n')
check_eq "with a client: exit 0" 0 "$rc"
check_eq "with a client: the server and its user, the client's pid" 1 \
        "$(grep -cE "^0:1:0 +$UUID0 +running +$pid0 +[0-9]+s +$server0 root +1: $probe0 +100% +-$" <<<"$out")"
m status --json 0:1:0
check_contains "json: running" '"state": "running"' "$out"
check_contains "json: pid" "\"pid\": $pid0," "$out"
check_contains "json: server pid" "\"pid\": $server0," "$out"
check_contains "json: server user" '"user": "root"' "$out"
check_contains "json: server uid" '"uid": 0,' "$out"
check_contains "json: the client" "$probe0" "$out"
check_contains "json: client count" '"client_count": 1' "$out"
check_contains "json: thread percentage" '"default_active_thread_percentage": 100.0' "$out"
check_contains "json: no pinned limit" '"default_pinned_mem_limit": null' "$out"
check_contains "json: priority" '"default_client_priority": 0' "$out"
check_contains "json: no other daemon" '"other_daemons": []' "$out"
check_contains "json: no error" '"error": null' "$out"
check_contains "json: pipe folder" "\"pipe_dir\": \"$pipe0\"" "$out"
check_contains "json: summary" '"running": 1' "$out"
uptime=$(grep -oE '"uptime_seconds": [0-9.]+' <<<"$out" | grep -oE '[0-9.]+$')
awk -v u="$uptime" 'BEGIN { exit !(u >= 0 && u < 120) }' && pass "json: uptime ($uptime s)" \
        || fail "json: uptime ($uptime s)"
if [ -n "${probe2:-}" ]; then
        # The user shown is the one the server process runs as (simgpu's servers keep the daemon's
        # uid, docs/simgpu-mps.md; real ones run as the client's user): compared with ps.
        m status --wide 0:2:0
        server2=$(ask "$pipe2" 'get_server_list\n')
        check_eq "another user's client: its server and the user ps gives it" 1 \
                "$(grep -cE "^0:2:0 +$UUID2 +running .* $server2 $(ps -o user= -p "$server2") +1: [0-9]+ " <<<"$out")"
else
        echo "note: not root: the check of a server of another user was not run"
fi
wait

# Default limits set on the daemon show up.
ask "$pipe0" 'set_default_active_thread_percentage 50\nset_default_device_pinned_mem_limit 0 2G\n' >/dev/null
m status --wide 0:1:0
check_eq "limits: 50% and 2G" 1 "$(grep -cE "^0:1:0 .* 50% +2G$" <<<"$out")"
m status --json 0:1:0
check_contains "json: pinned limit" '"bytes": 2147483648' "$out"

# kill -9: stale (pid file without its daemon), exit 3, a note; start recovers it.
pid3=$(daemons "$UUID3")
kill -9 "$pid3"
wait_gone "$pid3"
m status --wide
check_eq "stale: exit 3" 3 "$rc"
check_eq "stale: the row" 1 "$(grep -cE "^0:2:1 +$UUID3 +stale +$pid3 " <<<"$out")"
check_contains "stale: a note" "names pid $pid3, which has died" "$err"
m start --wide
check_eq "start after kill -9: exit 0" 0 "$rc"
check_eq "start after kill -9: recovered" 1 \
        "$(grep -cE "^0:2:1 +$UUID3 +recovered from stale \(pid $pid3 had died\)" <<<"$out")"
check_eq "start after kill -9: one daemon again" 1 "$(daemons "$UUID3" | wc -l)"
m status --wide
check_eq "after recovery: exit 0" 0 "$rc"

# kill -9 again, then stop: stale cleaned, folders removed.
pid3=$(daemons "$UUID3")
kill -9 "$pid3"
wait_gone "$pid3"
m stop --wide
check_eq "stop with a stale one: exit 0" 0 "$rc"
check_eq "stop: the stale one cleaned" 1 "$(grep -cE "^0:2:1 +$UUID3 +stale cleaned \(pid $pid3 had died\)" <<<"$out")"
check_eq "stop: three stopped" 3 "$(rows stopped "$out")"
check_eq "stop: every folder removed (the lock and the node cache stay)" "lock node.json" "$(ls -A "$MPSMIG_RUNTIME_DIR" | xargs)"
m status --wide
check_eq "all stopped: exit 3" 3 "$rc"
m stop --wide
check_eq "stop again: exit 0" 0 "$rc"
check_eq "stop again: four not running" 4 "$(rows 'not running' "$out")"
