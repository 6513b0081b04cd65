#!/bin/bash
# Control traffic on a busy node: simgpu's daemons serve one control client at a time and turn
# the others away, as the real ones do, so every mpsmig query must take its turn (and retry a
# refusal). 64 `run --on auto -- mpsmig-probe` at once over the seed's four instances, with 64
# `status --json` racing them, first as root, then as user nobody against root's daemons: no run
# refused, no status failed, every run an MPS client while it holds (16 on each instance), and
# bench/concurrency.sh's report kept in the log. Without the turns and the retry, runs and
# status calls fail here (refused by the busy daemon).
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

m start
check_eq "start: exit 0" 0 "$rc"

# bench USER: the benchmark as USER (root or nobody), 64 runs and 64 status calls, each probe held
# long enough for the last run to start on a loaded 2-CPU machine under ASan (the benchmark ends
# the probes once it has counted them).
bench() {
        local as=()
        [ "$1" = nobody ] && as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
        rc=0
        "$SIMRUN" "$topology" -- "${as[@]}" bash "$MPSMIG_SOURCE/bench/concurrency.sh" \
                "$MPSMIG" "$PROBE" 64 64 120 >"$T/bench.$1" 2>&1 || rc=$?
        cat "$T/bench.$1"
        out=$(cat "$T/bench.$1")
}

bench root
check_eq "root: exit 0" 0 "$rc"
check_contains "root: no run refused" "runs refused: 0 of 64" "$out"
check_contains "root: no status failed" "status calls failed: 0 of 64" "$out"
check_contains "root: every run an MPS client" "MPS clients once every run had started: 64" "$out"
check_contains "root: 16 on each instance" "clients per target then: 16 16 16 16" "$out"

if [ "$(id -u)" = 0 ]; then
        bench nobody
        check_eq "user: exit 0" 0 "$rc"
        check_contains "user: no run refused" "runs refused: 0 of 64" "$out"
        check_contains "user: no status failed" "status calls failed: 0 of 64" "$out"
        check_contains "user: every run an MPS client" "MPS clients once every run had started: 64" \
                "$out"
        check_contains "user: 16 on each instance" "clients per target then: 16 16 16 16" "$out"
else
        echo "not root: the user half is not run (it needs setpriv to user nobody)"
fi

m stop
check_eq "stop: exit 0" 0 "$rc"
