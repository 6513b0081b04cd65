#!/bin/bash
# Text from outside is shown safely, never a reason to fail: a GPU name with control characters
# (a terminal escape, a newline that would forge a table row) reaches no table raw, and a runtime
# folder whose name is not valid UTF-8 works for start, status and stop, in JSON too (U+FFFD).
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
sed -i 's/"name": "NVIDIA A30"/"name": "NVIDIA A30\\u001b[31m\\nFAKE ROW\\u0007"/' "$topology"
grep -q 'FAKE ROW' "$topology" || fail "the test could not plant the name"

esc=$(printf '\033')
bel=$(printf '\007')
m list
check_eq "list with a control character in the name: exit 0" 0 "$rc"
check_not_contains "list: no escape character" "$esc" "$out"
check_not_contains "list: no bell" "$bel" "$out"
check_eq "list: the newline forged no row" 0 "$(grep -c '^FAKE ROW' <<<"$out")"
check_contains "list: the name shown with ? for each" "NVIDIA A30?[31m?FAKE ROW?" "$out"
m list --json
check_eq "list --json: exit 0" 0 "$rc"
check_not_contains "list --json: no raw escape" "$esc" "$out"

odd=$T/run-$(printf '\377\376')
m start --runtime-dir "$odd"
check_eq "start in a runtime folder that is not UTF-8: exit 0" 0 "$rc"
check_eq "start: four started" 4 "$(rows started "$out")"
m status --runtime-dir "$odd" --json
check_eq "status --json in it: exit 0" 0 "$rc"
check_contains "status --json: the folder with U+FFFD" "$T/run-$(printf '\357\277\275\357\277\275')" "$out"
m status --runtime-dir "$odd"
check_eq "status in it: exit 0" 0 "$rc"
check_not_contains "status: no raw escape" "$esc" "$out"
m stop --runtime-dir "$odd" --json
check_eq "stop --json in it: exit 0" 0 "$rc"
check_eq "stop: no daemon left" "" "$(daemons)"
