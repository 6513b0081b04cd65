#!/bin/bash
# `mpsmig set`: new default limits on running daemons, read back and reported; the servers that
# run meanwhile are named, as they keep their old limits (a client of such a server still gets
# them), while a new server gets the new ones; a daemon that is not running, or that does not
# take a value, makes the exit status 1; bad options are usage errors.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"

field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p" | head -1; }

use_topology a30-seed
m start 0:1:0 0:1:1 0:2:0
check_eq "start three of four" 0 "$rc"

m set
check_eq "set without a limit: usage error" 2 "$rc"
check_contains "... says what to give" "nothing to set: give --threads, --pinned-mem or --priority" "$err"
m set --threads 0
check_eq "set --threads 0: usage error" 2 "$rc"
m set --pinned-mem 4
check_eq "set --pinned-mem 4: usage error" 2 "$rc"
check_contains "... the unit is missing" "the unit is missing: give 4G or 4096M" "$err"
m set --priority 2
check_eq "set --priority 2: usage error" 2 "$rc"

# A client holds root's server on 0:1:0 while the defaults change.
"$SIMRUN" "$topology" -- "$MPSMIG" run --on 0:1:0 -- "$PROBE" --hold 60 >"$T/held" 2>&1 &
held=$!
until_true 30 grep -q "^ *sm_count" "$T/held"
server=$(ask "$MPSMIG_RUNTIME_DIR/$UUID0/pipe" 'get_server_list\n')
check_eq "the held client made a server" 1 "$(wc -w <<<"$server")"

m set --threads 50 --pinned-mem 1500M --priority 1 0:1:0 0:1:1 --wide
check_eq "set on two: exit 0" 0 "$rc"
check_contains "set: summary" "2 targets: 2 set" "$out"
row0=$(grep "^0:1:0 " <<<"$out" | tr -s ' ')
row1=$(grep "^0:1:1 " <<<"$out" | tr -s ' ')
check_contains "0:1:0: read back" "set 50% 1G 1 $server root" "$row0"
check_contains "0:1:1: read back, no server" "set 50% 1G 1 -" "$row1"
check_contains "the server that keeps its old limits is named" \
        "0:1:0 ($UUID0): server $server (root) runs and keeps the limits it started with" "$err"
check_contains "the rounding is a note" "1500M reads back as 1G" "$err"

# The running server keeps 100 %: the next client of root joins it and sees every SM.
m run --on 0:1:0 -- "$PROBE"
check_eq "a client of the running server: its old 14 SMs" 14 "$(field sm_count)"
# A new server gets the new defaults: 0:1:1 had none.
m run --on 0:1:1 -- "$PROBE"
check_eq "a client of a new server: 50 % of 14 SMs (whole TPCs)" 6 "$(field sm_count)"
m run --on 0:1:1 -- "$PROBE" --alloc 1536M
check_eq "a client of a new server: 1536M past 1500M, refused" 3 "$rc"
kill "$held"
wait "$held" 2>/dev/null

m set --pinned-mem 50% --json
check_eq "set on every target, one not running: exit 1" 1 "$rc"
check_contains "json: 50% of 11968 MiB" '"text": "5984M"' "$out"
check_contains "json: read back 5G" '"text": "5G",
          "bytes": 5368709120' "$out"
check_contains "json: the one not running" '"result": "not running"' "$out"
check_contains "json: summary" '"set": 3,
    "not_running": 1' "$out"
check_contains "not running: said with what to do" "0:2:1 ($UUID3): not running, nothing set: start it with \`mpsmig start 0:2:1\`" "$err"

m status --json 0:2:0
check_contains "status reads back what set left" '"default_active_thread_percentage": 100.0' "$out"
check_contains "status reads back the pinned limit" '"text": "5G"' "$out"

m stop
check_eq "stop" 0 "$rc"

# A daemon that ignores the values: reported as not taken, exit 1.
SIMGPU_MPS_IGNORE_DEFAULTS=$UUID2 m start 0:2:0
check_eq "start one that ignores defaults" 0 "$rc"
m set --threads 20 0:2:0
check_eq "not taken: exit 1" 1 "$rc"
check_contains "not taken: the result" "not taken" "$(grep "^0:2:0 " <<<"$out")"
check_contains "not taken: why" "the active thread percentage reads back 100.0, not 20" "$err"

# A configuration that does not fit the node changes nothing.
printf '[instance MIG-ffffffff-0000-5000-8000-000000000000]\nthreads = 5\n' >"$T/bad.conf"
chmod 0644 "$T/bad.conf"
m --config "$T/bad.conf" set --threads 30 0:2:0
check_eq "a bad configuration: exit 2" 2 "$rc"
check_contains "... FILE:LINE" "$T/bad.conf:1: [instance MIG-ffffffff" "$err"
m status --json 0:2:0
check_contains "... nothing changed" '"default_active_thread_percentage": 100.0' "$out"
m stop
check_eq "stop" 0 "$rc"
