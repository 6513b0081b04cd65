#!/bin/bash
# `make demo` (contrib/demo.sh) whatever the reader left running: daemons of the same node in
# another runtime folder do not make it fail, it stops everything it started (also when it is
# interrupted), shows its phases and ends with what to try next.
source "$MPSMIG_SOURCE/tests/lib.sh"
source "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

# The reader's daemons: every MIG device of the node served, from another runtime folder.
m start --runtime-dir "$T/reader"
check_eq "the reader's daemons run" 0 "$rc"
reader=$(daemons)
check_eq "4 reader daemons" 4 "$(wc -w <<<"$reader")"

# The demo over the same node (its copy of it), its private folders under $T so that anything
# it leaves behind is found by lib.sh.
TMPDIR=$T MPSMIG_DEMO_TOPOLOGY=$topology run_capture "$MPSMIG_SOURCE/contrib/demo.sh" "$MPSMIG_BUILD"
check_eq "demo: exit 0 with the reader's daemons running" 0 "$rc"
[ "$rc" = 0 ] || printf "%s\n" "$err"
check_not_contains "demo: no start failed" "cannot start" "$err"
check_contains "demo: phase headers" "== 2/4 Start one MPS control daemon" "$out"
check_contains "demo: what to try next" "What to try next:" "$out"
check_eq "demo: the reader's daemons untouched" "$reader" "$(daemons)"
check_eq "demo: its folder removed" "" "$(find "$T" -maxdepth 1 -name 'mpsdemo.*')"

# Interrupted once its daemons run: it still stops them and removes its folder.
TMPDIR=$T MPSMIG_DEMO_TOPOLOGY=$topology "$MPSMIG_SOURCE/contrib/demo.sh" "$MPSMIG_BUILD" \
        >"$T/demo.out" 2>&1 &
demo=$!
until_true 20 grep -q '^== 3/4' "$T/demo.out" || fail "demo: reached its third phase"
kill -TERM "$demo"
wait "$demo"
check_eq "interrupted demo: exit 143" 143 "$?"
check_eq "interrupted demo: only the reader's daemons are left" "$reader" "$(daemons)"
check_eq "interrupted demo: its folder removed" "" "$(find "$T" -maxdepth 1 -name 'mpsdemo.*')"

m stop --runtime-dir "$T/reader"
check_eq "the reader's daemons stopped" 0 "$rc"
