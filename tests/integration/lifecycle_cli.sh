#!/bin/bash
# The command line of start, stop and status: help, usage errors (exit 2, one line and the
# hint), no driver (exit 2), a node without targets (exit 0 and a note), and the runtime folder
# chosen from --runtime-dir over $MPSMIG_RUNTIME_DIR.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

for verb in start stop status; do
        run_capture "$MPSMIG" "$verb" --help
        check_eq "$verb --help: exit 0" 0 "$rc"
        check_contains "$verb --help: usage" "Usage: mpsmig $verb" "$out"
        check_contains "$verb --help: exit status documented" "Exit status" "$out"
        help=$out
        run_capture "$MPSMIG" help "$verb"
        check_eq "help $verb: the same text" "$help" "$out"

        m "$verb" --layout tmp
        check_eq "$verb --layout tmp: usage error" 2 "$rc"
        check_eq "$verb --layout tmp: the line" \
                "mpsmig: $verb: --layout takes 'default' or 'seed', not 'tmp'
Try 'mpsmig help $verb'." "$err"
        for bad in 0 -1 abc 1e9 5x; do
                m "$verb" --timeout "$bad"
                check_eq "$verb --timeout $bad: usage error" 2 "$rc"
        done
        m "$verb" --bogus
        check_eq "$verb --bogus: usage error" 2 "$rc"
        check_contains "$verb --bogus: names it" "$verb: unknown option '--bogus'" "$err"
        m "$verb" --runtime-dir
        check_eq "$verb --runtime-dir without a folder: usage error" 2 "$rc"
done
m start --force
check_eq "start --force: not an option of start" 2 "$rc"
m status --force
check_eq "status --force: not an option of status" 2 "$rc"

# No driver: exit 2 before anything is made.
run_capture "$SIMRUN" driver-missing -- "$MPSMIG" start
check_eq "no driver: exit 2" 2 "$rc"
[ ! -e "$MPSMIG_RUNTIME_DIR" ] && pass "no driver: nothing made" || fail "no driver: nothing made"

# No MIG devices: nothing to do, a note, exit 0.
run_capture "$SIMRUN" mig-empty -- "$MPSMIG" start
check_eq "no targets: exit 0" 0 "$rc"
check_contains "no targets: the note" "no MPS targets" "$err"
check_eq "no targets: no report" "" "$out"

# --runtime-dir wins over $MPSMIG_RUNTIME_DIR.
m start --runtime-dir "$T/other" 0:1:0
check_eq "--runtime-dir: exit 0" 0 "$rc"
[ -d "$T/other/$UUID0/pipe" ] && pass "--runtime-dir: folders there" || fail "--runtime-dir: folders there"
[ ! -e "$MPSMIG_RUNTIME_DIR/$UUID0" ] && pass "--runtime-dir: not in \$MPSMIG_RUNTIME_DIR" \
        || fail "--runtime-dir: not in \$MPSMIG_RUNTIME_DIR"
m status 0:1:0
check_eq "status without --runtime-dir does not see it: exit 3" 3 "$rc"
m stop --runtime-dir "$T/other/" 0:1:0
check_eq "stop --runtime-dir: exit 0" 0 "$rc"
check_eq "stop --runtime-dir: stopped" 1 "$(rows 'stopped \(quit\)' "$out")"
check_eq "no daemon left" "" "$(daemons)"

# A plain stop also ends the daemons of whole GPUs started with --whole-gpus, and lists no idle
# whole GPU.
m start --whole-gpus
check_eq "start --whole-gpus: exit 0" 0 "$rc"
check_eq "start --whole-gpus: 7 started" 7 "$(rows started "$out")"
m stop
check_eq "plain stop after --whole-gpus: exit 0" 0 "$rc"
check_eq "plain stop: all 7 stopped" 7 "$(rows 'stopped \(quit\)' "$out")"
check_eq "plain stop: no daemon left" "" "$(daemons)"
m start
check_eq "start: exit 0" 0 "$rc"
m stop
check_eq "plain stop of MIG daemons: 4 rows, no idle whole GPU" 4 "$(rows '.*' "$out")"
check_eq "plain stop of MIG daemons: 4 stopped" 4 "$(rows 'stopped \(quit\)' "$out")"
check_eq "no daemon left at the end" "" "$(daemons)"
