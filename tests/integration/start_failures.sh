#!/bin/bash
# What `mpsmig start` refuses or cannot do, per instance, while the other instances start:
# a control program that fails (SIMGPU_MPS_FAIL_START: its own message in one sentence), a
# planted symbolic link in the runtime folder, a daemon that never answers; and, for the whole
# command, a runtime folder too long for the daemon's socket, refused before anything starts.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

# --- one instance's control program fails to start: that one fails, the others are up, exit 1
SIMGPU_MPS_FAIL_START=$UUID1 m start --wide
check_eq "fail start: exit 1" 1 "$rc"
check_eq "fail start: three started" 3 "$(rows started "$out")"
check_eq "fail start: one failed" 1 "$(rows failed "$out")"
check_eq "fail start: 0:1:1 is the failed one" 1 "$(grep -cE "^0:1:1 +$UUID1 +failed" <<<"$out")"
check_eq "fail start: one line on stderr" 1 "$(wc -l <<<"$err")"
check_contains "fail start: stderr names the instance" "0:1:1 ($UUID1)" "$err"
check_contains "fail start: stderr gives the control program's reason" "SIMGPU_MPS_FAIL_START" "$err"
check_eq "fail start: three daemons" 3 "$(daemons | wc -l)"
check_eq "fail start: none on the failed instance" "" "$(daemons "$UUID1")"
m status --wide
check_eq "status after a failed start: exit 3 (one down)" 3 "$rc"
check_eq "status: three running" 3 "$(rows running "$out")"
check_eq "status: one not running" 1 "$(rows 'not running' "$out")"
m start --wide
check_eq "start again without the fault: exit 0" 0 "$rc"
check_eq "start again: the failed one started" 1 "$(rows started "$out")"
check_eq "start again: three already running" 3 "$(rows 'already running' "$out")"
m stop --wide
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: no daemon left" "" "$(daemons)"

# --- a symbolic link planted where an instance's folder goes: refused, nothing written there
mkdir -p "$MPSMIG_RUNTIME_DIR" "$T/elsewhere"
ln -s "$T/elsewhere" "$MPSMIG_RUNTIME_DIR/$UUID2"
m start --wide
check_eq "planted link: exit 1" 1 "$rc"
check_eq "planted link: three started" 3 "$(rows started "$out")"
check_eq "planted link: 0:2:0 failed" 1 "$(grep -cE "^0:2:0 +$UUID2 +failed" <<<"$out")"
check_contains "planted link: the message names the link" "$MPSMIG_RUNTIME_DIR/$UUID2 is a symbolic link (to $T/elsewhere)" "$err"
check_eq "planted link: nothing written through it" "" "$(ls -A "$T/elsewhere")"
check_eq "planted link: no daemon on it" "" "$(daemons "$UUID2")"
m stop --wide
check_eq "planted link: stop exits 1 (the link is not removed)" 1 "$rc"
check_contains "planted link: stop says it left the link" "symbolic link" "$err"
check_eq "planted link: stop still stopped the others" 3 "$(rows stopped "$out")"
[ -L "$MPSMIG_RUNTIME_DIR/$UUID2" ] && pass "planted link: left in place" || fail "planted link: left in place"
check_eq "planted link: no daemon left" "" "$(daemons)"
rm "$MPSMIG_RUNTIME_DIR/$UUID2"

# --- a runtime folder too long for <pipe>/control_privileged in a unix socket path
long=$T/$(printf 'x%.0s' $(seq 80))
m start --wide --runtime-dir "$long"
check_eq "too long: exit 2" 2 "$rc"
check_contains "too long: says why" "control_privileged" "$err"
check_contains "too long: says what to do" "choose a runtime folder" "$err"
[ ! -e "$long" ] && pass "too long: nothing made" || fail "too long: nothing made"
check_eq "too long: no daemon" "" "$(daemons)"
MPSMIG_RUNTIME_DIR=$long m status --wide
check_eq "too long (from the environment), status: exit 2" 2 "$rc"

# --- a daemon that starts but never answers: reported failed after --timeout and stopped again
# (a start reported failed leaves no daemon behind), the rest run
SIMGPU_MPS_NO_ANSWER=$UUID3 m start --wide --timeout 1
check_eq "no answer: exit 1" 1 "$rc"
check_eq "no answer: three started" 3 "$(rows started "$out")"
check_contains "no answer: says it was not ready" "was not ready in time" "$err"
check_contains "no answer: says it was stopped again" "was stopped again" "$err"
check_eq "no answer: no daemon left on it" "" "$(daemons "$UUID3")"
m status --wide --timeout 0.5
check_eq "no answer: status exit 3" 3 "$rc"
check_eq "no answer: status says not running" 1 "$(grep -cE "^0:2:1 +$UUID3 +not running" <<<"$out")"
m stop --wide
check_eq "no answer: stop exit 0" 0 "$rc"
check_eq "no answer: no daemon left" "" "$(daemons)"

# --- a daemon slower than --timeout: the -d is cut off, and the daemon it forked does not come
# up later on its own
SIMGPU_MPS_SLOW_START_MS=2500 m start --wide --timeout 1 "$UUID0"
check_eq "slow start: exit 1" 1 "$rc"
sleep 2.5
check_eq "slow start: no daemon came up after the report" "" "$(daemons)"
m stop --wide
check_eq "slow start: stop exit 0" 0 "$rc"

# --- a control program that exits at once without starting anything is never "started"
printf '#!/bin/sh\nexit 0\n' >"$T/fake-control"
chmod 0755 "$T/fake-control"
MPSMIG_MPS_CONTROL=$T/fake-control m start --wide --timeout 1 "$UUID0"
check_eq "a program that exits at once: exit 1" 1 "$rc"
check_eq "a program that exits at once: not reported started" 0 "$(rows started "$out")"
check_contains "a program that exits at once: says what was missing" "no live daemon's pid" "$err"
m stop --wide
check_eq "a program that exits at once: stop exit 0" 0 "$rc"
