#!/bin/bash
# `mpsmig stop` escalates on a daemon that will not go: one that hangs on quit gets SIGTERM, one
# that also ignores SIGTERM gets SIGKILL, and the others quit normally at the same time; the
# hung daemon's leftovers are cleaned and every folder mpsmig made is removed. --force gives
# clients no time: a daemon hung on quit is gone within a few seconds.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

# The faults are read by each daemon from its environment when it starts.
SIMGPU_MPS_HANG_ON_QUIT="$UUID1,$UUID2" SIMGPU_MPS_IGNORE_TERM=$UUID2 m start
check_eq "start: exit 0" 0 "$rc"
pid1=$(daemons "$UUID1")
pid2=$(daemons "$UUID2")

started=$(date +%s%N)
m stop --timeout 1
elapsed=$((($(date +%s%N) - started) / 1000000))
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: nothing on stderr" "" "$err"
check_eq "stop: two quit normally" 2 "$(rows 'stopped \(quit\)' "$out")"
check_eq "stop: the one hung on quit got SIGTERM" 1 "$(grep -cE "^0:1:1 +$UUID1 +stopped \(SIGTERM\) +$pid1 " <<<"$out")"
check_eq "stop: the one ignoring SIGTERM got SIGKILL" 1 "$(grep -cE "^0:2:0 +$UUID2 +stopped \(SIGKILL\) +$pid2 " <<<"$out")"
alive "$pid1" && fail "the hung daemon is gone" || pass "the hung daemon is gone"
alive "$pid2" && fail "the daemon ignoring SIGTERM is gone" || pass "the daemon ignoring SIGTERM is gone"
check_eq "no daemon left" "" "$(daemons)"
check_eq "every folder removed, stale files included" "lock node.json" "$(ls -A "$MPSMIG_RUNTIME_DIR" | xargs)"
# quit -t 1, 1 + 2 s of waiting, shutdown_server (no servers), SIGTERM + 2 s, SIGKILL: about 5 s.
[ "$elapsed" -lt 15000 ] && pass "stop: bounded ($elapsed ms)" || fail "stop: bounded ($elapsed ms)"

# A hung daemon with a server: the escalation asks shutdown_server of a daemon that does not
# answer, then signals the server and the daemon (verified) together.
SIMGPU_MPS_HANG_ON_QUIT=$UUID0 m start 0:1:0
pipe0=$MPSMIG_RUNTIME_DIR/$UUID0/pipe
ask "$pipe0" 'start_server -uid 0\n' >/dev/null
server=$(ask "$pipe0" 'get_server_list\n')
[ -n "$server" ] && alive "$server" && pass "a server runs" || fail "a server runs"
started=$(date +%s%N)
m stop --force 0:1:0
elapsed=$((($(date +%s%N) - started) / 1000000))
check_eq "stop --force: exit 0" 0 "$rc"
check_eq "stop --force: escalated to SIGTERM" 1 "$(rows 'stopped \(SIGTERM\)' "$out")"
[ "$elapsed" -lt 8000 ] && pass "stop --force: quick ($elapsed ms)" || fail "stop --force: quick ($elapsed ms)"
wait_gone "$server" 30 && pass "the server is gone" || fail "the server is gone"
check_eq "no daemon left after --force" "" "$(daemons)"
