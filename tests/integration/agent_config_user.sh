#!/bin/bash
# The agent run by root with a file that names the daemons' user (`user = nobody`, `group =`,
# `multiuser = yes`): each daemon it starts as its child runs as nobody with -M, in pipe and log
# folders handed to nobody, with the file's limits and a server started ahead; a daemon
# killed with SIGKILL comes back as nobody, configured again; SIGTERM leaves nothing.
# Needs root to act as another user: without root it reports SKIP with exit status 77.
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root to run daemons as user nobody"
        exit 77
fi
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
. "$MPSMIG_SOURCE/tests/integration/agent_helpers.bash"

use_topology a30-seed
conf=$T/mpsmig.conf
printf '%s\n' "[global]
user = nobody
group = nogroup
multiuser = yes
threads = 50
start_server = root" >"$conf"
chmod 0644 "$conf"
nobody_uid=$(id -u nobody)
nogroup_gid=$(getent group nogroup | cut -d: -f3)
agent_config=$conf
start_agent

# ids PID FIELD: the real, effective, saved and file ids of PID (Uid or Gid).
ids() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '\t ' ' '; }
check_daemon() {
        local pid=$1 what=$2
        check_eq "$what: the agent's child" "$agent" "$(awk '{print $4}' "/proc/$pid/stat")"
        check_eq "$what: uids nobody" "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" "$(ids "$pid" Uid)"
        check_eq "$what: gids nogroup" "$nogroup_gid $nogroup_gid $nogroup_gid $nogroup_gid" "$(ids "$pid" Gid)"
        check_eq "$what: started with -f -M" "-f -M" \
                "$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -d' ' -f2- | sed 's/ $//')"
}

check_eq "four daemons" 4 "$(agent_daemons | wc -l)"
pipe=$MPSMIG_RUNTIME_DIR/$UUID0/pipe
pid=$(pid_in "$pipe")
check_daemon "$pid" "0:1:0"
check_eq "the pipe folder is nobody's" "nobody nogroup" "$(stat -c '%U %G' "$pipe")"
check_eq "the instance folder stays root's" "root root" "$(stat -c '%U %G' "$MPSMIG_RUNTIME_DIR/$UUID0")"
check_eq "limits applied" 50 "$(field "$UUID0" .default_active_thread_percentage)"
# With -M the one server is shared by every user and runs as the daemon's user.
check_eq "the server started ahead, run as nobody (-M)" "1 $nobody_uid" \
        "$(field "$UUID0" '[(.servers | length), .servers[0].uid] | map(tostring) | join(" ")')"

kill -9 "$pid"
wait_gone "$pid" 20
until_true 20 eval '[ "$(field "$UUID0" .agent.restarts)" = 1 ] &&
        [ "$(field "$UUID0" .agent.supervision)" = ready ]'
new=$(pid_in "$pipe")
check_daemon "$new" "0:1:0 after kill -9"
check_eq "after kill -9: limits again" 50 "$(field "$UUID0" .default_active_thread_percentage)"
check_eq "after kill -9: a server ahead again" 1 "$(field "$UUID0" '.servers | length')"

stop_agent
check_eq "SIGTERM: the agent exits 0" 0 "$agent_rc"
check_eq "no daemon left" "" "$(agent_daemons)"
check_eq "folders removed" "" "$(ls -d "$MPSMIG_RUNTIME_DIR"/MIG-* 2>/dev/null)"
