#!/bin/bash
# Daemons as a non-root user (the configuration's `user =`, `group =`, `multiuser =`), started by
# root: each target's pipe and log folders belong to that user while <runtime>/<UUID> stays
# root's; the control program runs with the user's uid and gid and no supplementary group, with
# -M; root's stop and status still work, and so does a user's status; with -M, clients of root and
# of another user share one server; a user cannot start daemons as somebody else.
# Needs root to act as another user: without root it reports SKIP with exit status 77.
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root to run daemons as user nobody"
        exit 77
fi
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"

use_topology a30-seed
conf=$T/mpsmig.conf
printf '%s\n' "[global]
user = nobody
group = nogroup
multiuser = yes
threads = 50
start_server = root" >"$conf"
chmod 0644 "$conf"
c() { m --config "$conf" "$@"; }
# u ARGS...: as user nobody over the private topology.
u() { sim "$topology" setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
nobody_uid=$(id -u nobody)
nogroup_gid=$(getent group nogroup | cut -d: -f3)

c config check
check_contains "config check: the daemons' user" "daemons run as user nobody, group nogroup; layout default" "$out"
check_contains "config check: multi-user" "multi-user (-M)" "$out"

c start 0:1:0 0:1:1
check_eq "root starts two daemons as nobody: exit 0" 0 "$rc"
check_eq "... both started" 2 "$(rows started "$out")"
instance=$MPSMIG_RUNTIME_DIR/$UUID0
check_eq "the instance folder stays root's" "root root 755" "$(stat -c '%U %G %a' "$instance")"
check_eq "the pipe folder is nobody's" "nobody nogroup 755" "$(stat -c '%U %G %a' "$instance/pipe")"
check_eq "the log folder is nobody's" "nobody nogroup 755" "$(stat -c '%U %G %a' "$instance/log")"
check_eq "mpsmig's marker stays root's" "root" "$(stat -c '%U' "$instance/pipe/.mpsmig")"
check_eq "the daemon's files are nobody's" "nobody" "$(stat -c '%U' "$instance/pipe/nvidia-cuda-mps-control.pid")"

pid=$(pid_in "$instance/pipe")
status_of() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$pid/status" | tr -s '\t ' ' '; }
check_eq "the daemon's uids" "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" "$(status_of Uid)"
check_eq "the daemon's gids" "$nogroup_gid $nogroup_gid $nogroup_gid $nogroup_gid" "$(status_of Gid)"
check_eq "no supplementary group" "" "$(status_of Groups | tr -d ' ')"
check_eq "started with -d -M" "-d -M" "$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -d' ' -f2- | sed 's/ $//')"
check_contains "the limits were set and the server started" " 50% " "$(grep "^0:1:0 " <<<"$out")"

# root's status and a user's status reach the daemons in the handed folders
m status 0:1:0 0:1:1
check_eq "root's status: exit 0" 0 "$rc"
check_eq "root's status: both running" 2 "$(rows running "$out")"
u "$MPSMIG" status 0:1:0
check_eq "nobody's status of root's runtime folder: exit 0" 0 "$rc"
check_eq "nobody's status: running" 1 "$(rows running "$out")"

# With -M, root's client and nobody's client share the one server.
"$SIMRUN" "$topology" -- "$MPSMIG" run --on 0:1:0 -- "$PROBE" --hold 60 >"$T/root-probe" 2>&1 &
root_probe=$!
"$SIMRUN" "$topology" -- setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$MPSMIG" run --on 0:1:0 -- "$PROBE" --hold 60 >"$T/nobody-probe" 2>&1 &
nobody_probe=$!
until_true 30 grep -q "^ *sm_count" "$T/root-probe"
until_true 30 grep -q "^ *sm_count" "$T/nobody-probe"
check_eq "root's client: 50 % of 14 SMs" "6" "$(sed -n 's/^ *sm_count: //p' "$T/root-probe")"
check_eq "nobody's client: the same limits" "6" "$(sed -n 's/^ *sm_count: //p' "$T/nobody-probe")"
servers=$(ask "$instance/pipe" 'get_server_list\n')
check_eq "one server for both users" 1 "$(wc -w <<<"$servers")"
listed=$(clients "$UUID0" | tr '\n' ' ')
check_contains "root's client is listed" "$root_probe" "$listed"
check_contains "nobody's client is listed" "$nobody_probe" "$listed"
kill "$root_probe" "$nobody_probe" 2>/dev/null
wait "$root_probe" "$nobody_probe" 2>/dev/null

# root stops them: the daemons quit, the handed folders are removed with what nobody wrote there.
c stop
check_eq "root's stop: exit 0" 0 "$rc"
check_eq "root's stop: both stopped by quit" 2 "$(rows "stopped \(quit\)" "$out")"
check_eq "the instance folder is gone" no "$(test -e "$instance" && echo yes || echo no)"
check_eq "no daemon left" "" "$(daemons)"

# A user cannot start daemons as another user.
mkdir -m 0755 "$T/user"
chown nobody:nogroup "$T/user"
printf '[global]\nuser = root\n' >"$T/as-root.conf"
chmod 0644 "$T/as-root.conf"
u "$MPSMIG" --config "$T/as-root.conf" start --runtime-dir "$T/user" 0:2:0
check_eq "nobody's start with user = root: exit 2" 2 "$rc"
check_contains "... FILE:LINE and why" "$T/as-root.conf:2: user = root: only root can run the daemons as another user" "$err"
check_eq "... nothing started" "" "$(daemons)"
# Its own user is no other user: nobody's start with user = nobody runs as itself.
u "$MPSMIG" --config "$conf" start --runtime-dir "$T/user" 0:2:0
check_eq "nobody's start with user = nobody: exit 0" 0 "$rc"
check_eq "... a daemon of nobody's" "nobody" "$(stat -c '%U' "$T/user/$UUID2/pipe")"
u "$MPSMIG" --config "$conf" stop --runtime-dir "$T/user"
check_eq "nobody stops it" 0 "$rc"
check_eq "no daemon left" "" "$(daemons)"
