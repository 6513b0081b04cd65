#!/bin/bash
# The agent applies its configuration file (`mpsmig --config FILE daemon`): each daemon gets its
# limits by profile and by instance UUID and a server started ahead before it counts as ready
# (status --json reads them back through the agent); a daemon killed with SIGKILL comes back with
# them; SIGHUP with a changed file applies the change to the running daemons; SIGHUP with a bad
# file is one log line with FILE:LINE and the running configuration is kept; `mpsmig start` with
# the agent's file goes through the agent, with another file that sets limits it is refused;
# `mpsmig set` (direct path) tells the agent what the daemons read back.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
. "$MPSMIG_SOURCE/tests/integration/agent_helpers.bash"

use_topology a30-seed
conf=$T/mpsmig.conf
write_conf() {
        printf '%s\n' "$1" >"$conf.new"
        chmod 0644 "$conf.new"
        mv "$conf.new" "$conf"
}
write_conf "[global]
threads = 50
start_server = root

[profile 1c.2g.12gb]
pinned_mem = 2G
priority = 1

[instance $UUID1]
threads = 25"
agent_config=$conf
start_agent

# servers UUID: how many servers the agent's status shows for UUID.
servers() { field "$1" '.servers | length'; }

check_eq "0:1:0: threads from [global]" 50 "$(field "$UUID0" .default_active_thread_percentage)"
check_eq "0:1:0: pinned from [profile]" 2G "$(field "$UUID0" .default_pinned_mem_limit.text)"
check_eq "0:1:0: priority from [profile]" 1 "$(field "$UUID0" .default_client_priority)"
check_eq "0:1:1: threads from [instance UUID]" 25 "$(field "$UUID1" .default_active_thread_percentage)"
check_eq "0:1:1: pinned from [profile] too" 2G "$(field "$UUID1" .default_pinned_mem_limit.text)"
for u in "$UUID0" "$UUID1" "$UUID2" "$UUID3"; do
        check_eq "$u: a server started ahead, there when ready" 1 "$(servers "$u")"
done
check_eq "status answered by the agent" "ready" "$(field "$UUID0" .agent.supervision)"
check_eq "no mismatch" null "$(field "$UUID0" .agent.limits_mismatch)"
check_eq "the limits applied, one line each" 4 "$(log_count 'limits applied and read back')"
check_eq "the servers ready, one line each" 4 "$(log_count 'a server is ready ahead')"

# --- a daemon killed: back with its limits and its server
pipe=$MPSMIG_RUNTIME_DIR/$UUID1/pipe
old=$(pid_in "$pipe")
kill -9 "$old"
wait_gone "$old" 20
until_true 20 eval '[ "$(field "$UUID1" .agent.restarts)" = 1 ] &&
        [ "$(field "$UUID1" .agent.supervision)" = ready ]'
check_eq "after kill -9: restarted" 1 "$(field "$UUID1" .agent.restarts)"
check_eq "after kill -9: its threads again" 25 "$(field "$UUID1" .default_active_thread_percentage)"
check_eq "after kill -9: its pinned limit again" 2G "$(field "$UUID1" .default_pinned_mem_limit.text)"
check_eq "after kill -9: its server ahead again" 1 "$(servers "$UUID1")"
new_server=$(field "$UUID1" '.servers[0].pid')
check_eq "... the server is the new daemon's child" "$(pid_in "$pipe")" \
        "$(awk '{print $4}' "/proc/$new_server/stat" 2>/dev/null)"

# --- `mpsmig start` of a stopped target with the agent's file: through the agent, configured
m --config "$conf" stop 0:2:0
check_eq "stop 0:2:0 through the agent: exit 0" 0 "$rc"
m --config "$conf" start --json 0:2:0
check_eq "start 0:2:0 with the agent's file: exit 0" 0 "$rc"
check_eq "... answered by the agent" agent "$(jq -r .answered_by <<<"$out")"
check_eq "... its limits" 50 "$(field "$UUID2" .default_active_thread_percentage)"
check_eq "... its server ahead" 1 "$(servers "$UUID2")"
printf '[global]\nthreads = 10\n' >"$T/other.conf"
chmod 0644 "$T/other.conf"
m --config "$T/other.conf" start 0:2:0
check_eq "start with another file that sets limits: exit 2" 2 "$rc"
check_contains "... says which file the agent applies" "applies the configuration file $conf" "$err"

# --- `mpsmig set` on its direct path tells the agent: its status shows the new value at once
m --config "$conf" set --threads 20 0:1:0
check_eq "set 0:1:0 with the agent running: exit 0" 0 "$rc"
check_eq "the agent's status shows it at once" 20 "$(field "$UUID0" .default_active_thread_percentage)"
check_eq "the agent logged it" 1 "$(log_count 'mpsmig set (uid ')"

# --- SIGHUP with a changed file: the running daemons take the new limits
write_conf "[global]
threads = 40
start_server = root

[profile 1c.2g.12gb]
pinned_mem = 3G
priority = 1

[instance $UUID1]
threads = 30"
hup_and_wait "configuration $conf read"
until_true 20 eval '[ "$(field "$UUID1" .default_active_thread_percentage)" = 30 ] &&
        [ "$(field "$UUID3" .default_pinned_mem_limit.text)" = 3G ]'
check_eq "SIGHUP: 0:1:0 takes 40" 40 "$(field "$UUID0" .default_active_thread_percentage)"
check_eq "SIGHUP: 0:1:1 takes 30" 30 "$(field "$UUID1" .default_active_thread_percentage)"
check_eq "SIGHUP: 0:2:1 takes 3G" 3G "$(field "$UUID3" .default_pinned_mem_limit.text)"
check_eq "SIGHUP: no daemon restarted (0:1:0)" 0 "$(field "$UUID0" .agent.restarts)"
check_eq "SIGHUP: servers already running are named, keeping their old values" 4 \
        "$(log_count 'keeps the limits it started with')"

# --- SIGHUP with a bad file: one line with FILE:LINE, the running configuration kept
before=$(sim "$topology" "$MPSMIG" status --json && jq -c '[.targets[] | [.uuid, .default_active_thread_percentage, .default_pinned_mem_limit.text, .pid]]' <<<"$out")
write_conf "[global]
threads = 40
pinned_mem = lots"
hup_and_wait "the configuration is not reloaded"
check_eq "the bad file: one line, priority error, FILE:LINE" 1 \
        "$(grep -c "^<3>the configuration is not reloaded, the running one is kept: $conf:3: " "$T/agent.log")"
sim "$topology" "$MPSMIG" status --json
check_eq "status unchanged" "$before" \
        "$(jq -c '[.targets[] | [.uuid, .default_active_thread_percentage, .default_pinned_mem_limit.text, .pid]]' <<<"$out")"
# A daemon that dies now comes back with the configuration kept, not the bad file's.
old=$(pid_in "$MPSMIG_RUNTIME_DIR/$UUID0/pipe")
kill -9 "$old"
wait_gone "$old" 20
until_true 20 eval '[ "$(field "$UUID0" .agent.restarts)" = 1 ] &&
        [ "$(field "$UUID0" .agent.supervision)" = ready ]'
check_eq "a restart after the bad file: the kept limits" 40 \
        "$(field "$UUID0" .default_active_thread_percentage)"

stop_agent
check_eq "SIGTERM: the agent exits 0" 0 "$agent_rc"
check_eq "no daemon left" "" "$(agent_daemons)"
