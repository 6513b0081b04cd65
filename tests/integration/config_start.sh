#!/bin/bash
# What start does with the configuration file: each new daemon gets its target's limits (set by
# command, the pinned one keyed by device 0), read back and shown by start and status --json;
# clients see them (SMs, a refused allocation); a server is started ahead for the configured user
# and is ready before start returns; a daemon that does not take its limits is reported (exit 1);
# include/exclude choose the targets, and the command line wins over the file.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"

# field NAME: the value of "  NAME: value" in the probe's output ($out).
field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p" | head -1; }

use_topology a30-seed
conf=$T/mpsmig.conf
write_conf() {
        printf '%s\n' "$1" >"$conf"
        chmod 0644 "$conf"
}
c() { m --config "$conf" "$@"; }

write_conf "[global]
threads = 50
pinned_mem = 2G
start_server = root

[profile 1c.2g.12gb]
priority = 1

[instance $UUID1]
threads = 25
pinned_mem = 1500M

[instance $UUID3]
start_server = nobody"

c start --wide
check_eq "start: exit 0" 0 "$rc"
row0=$(grep "^0:1:0 " <<<"$out")
row1=$(grep "^0:1:1 " <<<"$out")
check_contains "start 0:1:0: threads read back" " 50% " "$row0"
check_contains "start 0:1:0: pinned read back" " 2G " "$row0"
check_contains "start 0:1:0: priority read back" " 1  " "$row0"
check_contains "start 0:1:1: its own threads" " 25% " "$row1"
check_contains "start 0:1:1: 1500M reads back 1G" " 1G " "$row1"
check_contains "start: the rounding is a note, not an error" \
        "note: 1 pinned limit is not a whole number of G; the control program reads it back rounded down (0:1:1: 1500M reads back as 1G)" "$err"
server0=$(awk '{print $(NF-1)}' <<<"$row0")
check_contains "start 0:1:0: a server for root" " $server0 root" "$row0"
server3=$(grep "^0:2:1 " <<<"$out" | awk '{print $(NF-1)}')
check_contains "start 0:2:1: a server for nobody, as the daemon logs it" \
        "Starting new server $server3 for user $(id -u nobody)" \
        "$(cat "$MPSMIG_RUNTIME_DIR/$UUID3/log/control.log")"

# The server runs and takes clients before any client came: ps finds it (not "Server not found").
ps_answer=$(ask "$MPSMIG_RUNTIME_DIR/$UUID0/pipe" 'get_server_list\nps\n')
check_eq "the server ahead is listed and ready" "$server0" "$ps_answer"

m status --json
check_eq "status --json: exit 0" 0 "$rc"
block1=$(awk -v u="\"uuid\": \"$UUID1\"" 'index($0, u) { on = 1 } on && /"orphaned"/ { exit } on' <<<"$out")
check_contains "status --json 0:1:1: threads read back" '"default_active_thread_percentage": 25.0' "$block1"
check_contains "status --json 0:1:1: pinned read back" '"text": "1G",
        "bytes": 1073741824' "$block1"
check_contains "status --json 0:1:1: priority read back" '"default_client_priority": 1' "$block1"

# Clients of the daemon get what the configuration gave it.
m run --on 0:1:0 -- "$PROBE"
check_eq "probe on 0:1:0: exit 0" 0 "$rc"
check_eq "probe on 0:1:0: 50% of 14 SMs, whole TPCs of 2" 6 "$(field sm_count)"
check_eq "the probe went through the server started ahead" "$server0" \
        "$(ask "$MPSMIG_RUNTIME_DIR/$UUID0/pipe" 'get_server_list\n')"
m run --on 0:1:0 -- "$PROBE" --alloc 3G
check_eq "probe on 0:1:0: 3G past the 2G limit: exit 3" 3 "$rc"
m run --on 0:1:0 -- "$PROBE" --alloc 1G
check_eq "probe on 0:1:0: 1G within it: exit 0" 0 "$rc"

# A second start keeps the daemons and applies the file again, idempotently.
c start
check_eq "start again: exit 0" 0 "$rc"
check_eq "start again: all already running" 4 "$(rows "already running" "$out")"
c stop
check_eq "stop" 0 "$rc"

# A daemon that does not take its limits (the driver ignores a value silently): exit 1, said.
write_conf "[global]
threads = 30
priority = 1"
SIMGPU_MPS_IGNORE_DEFAULTS=$UUID2 c start
check_eq "limits not taken: exit 1" 1 "$rc"
check_contains "limits not taken: named" "0:2:0 ($UUID2): its daemon runs, but not as the configuration says: the daemon did not take the limits asked for: the active thread percentage reads back 100.0, not 30; the client priority reads back 0, not 1" "$err"
check_eq "limits not taken: one message" 1 "$(count "not as the configuration says" "$err")"
check_eq "limits not taken: every daemon still runs" 4 "$(rows started "$out")"
c start --json
check_contains "json: the failure counted" '"limits_failed": 1' "$out"
check_contains "json: the read-back" '"read_back": {
          "threads": 100.0' "$out"
c stop
check_eq "stop" 0 "$rc"

# include/exclude choose the targets; TARGETs on the command line win.
write_conf "[global]
include = 0:1:0, 0:2:0, 0:2:1
exclude = $UUID3"
c start
check_eq "include/exclude: exit 0" 0 "$rc"
check_eq "include/exclude: two started" "0:1:0 0:2:0" "$(grep -oE '^0:[0-9]:[0-9]' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
c status
check_eq "status follows the same choice" 2 "$(rows running "$out")"
c start 0:1:1
check_eq "a TARGET outside include: started" 1 "$(rows started "$out")"
c stop 0:1:1
c stop
check_eq "stop: exit 0" 0 "$rc"
check_eq "no daemon left" "" "$(daemons)"

# The command line wins over the file: --runtime-dir and --layout over runtime_dir and layout;
# $MPSMIG_RUNTIME_DIR over runtime_dir.
mkdir -m 0755 "$T/file-run" "$T/cli-run"
outer=$failures
write_conf "[global]
runtime_dir = $T/file-run
start_timeout = 7"
(
        unset MPSMIG_RUNTIME_DIR
        c start 0:1:0
        check_eq "runtime_dir from the file" 1 "$(rows started "$out")"
        test -d "$T/file-run/$UUID0/pipe"
        check_eq "... its folders there" 0 "$?"
        c env 0:1:0
        check_contains "env finds the daemon in the file's runtime_dir" \
                "CUDA_MPS_PIPE_DIRECTORY=$T/file-run/$UUID0/pipe" "$out"
        c run --on 0:1:0 -- "$PROBE"
        check_eq "run finds it too" 0 "$rc"
        c stop --runtime-dir "$T/cli-run" 0:1:0
        check_eq "--runtime-dir wins: nothing there to stop" 1 "$(rows "not running" "$out")"
        c stop 0:1:0
        check_eq "stop in the file's folder" 1 "$(rows stopped "$out")"
        exit $((failures - outer))
)
failures=$((failures + $?))
c start 0:1:0
check_contains "\$MPSMIG_RUNTIME_DIR wins over the file" "$MPSMIG_RUNTIME_DIR" "$out"
c stop
