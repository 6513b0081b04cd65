#!/bin/bash
# simgpu's nvidia-cuda-mps-control commands and their answers as on driver 580: servers that
# start lazily or by start_server, get_server_list / status / client list, ps, shutdown_server,
# thread percentages validated and read back, pinned limits rounded down on read-back, client
# priority, the daemon's own environment, -M.
. "$MPSMIG_SOURCE/tests/lib.sh"

MIG0=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0
export CUDA_MPS_PIPE_DIRECTORY=$T/pipe
export CUDA_MPS_LOG_DIRECTORY=$T/log
mkdir -p "$T/pipe" "$T/log"

ctl() { sim a30-seed nvidia-cuda-mps-control "$@"; }
ask() {
        rc=0
        printf '%b' "$1" | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
        err=$(cat "$T/.err")
}
alive() {
        [ -r "/proc/$1/stat" ] || return 1
        state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
        [ -n "$state" ] && [ "$state" != Z ]
}
wait_gone() {
        for _ in $(seq 100); do alive "$1" || return 0; sleep 0.05; done
        return 1
}

CUDA_VISIBLE_DEVICES=$MIG0 ctl -d
check_eq "daemon on a MIG instance starts" 0 "$rc"
daemon=$(cat "$T/pipe/nvidia-cuda-mps-control.pid")

# --- no server: the overview the real daemon answers
ask 'get_server_list\nps\nget_default_active_thread_percentage\nget_default_device_pinned_mem_limit 0\nget_default_client_priority\n'
check_eq "overview without a server" "Server not found
100.0
0" "$out"
check_eq "overview: status 0" 0 "$rc"
check_contains "unset pinned limit is logged" "No default pinned memory limit set for the device!" "$(cat "$T/log/control.log")"
ask 'get_server_status 4242\nget_client_list 4242\n'
check_eq "unknown server PID" "Server 4242 not found
Server 4242 not found" "$out"
check_eq "unknown server PID: status 0" 0 "$rc"

# --- thread percentage: accepted in (0,100], anything else prints the unchanged value
ask 'set_default_active_thread_percentage 50\n'
check_eq "set 50 prints 50.0" "50.0" "$out"
for bad in 0 150 abc -5 1e2 "" 100.5 0x20 inf; do
        ask "set_default_active_thread_percentage $bad\n"
        check_eq "set '$bad' is ignored, prints the current value" "50.0" "$out"
        check_eq "set '$bad': status 0" 0 "$rc"
done
ask 'set_default_active_thread_percentage 33.3\nget_default_active_thread_percentage\n'
check_eq "33.3 taken as given" "33.3
33.3" "$out"
ask 'set_default_active_thread_percentage 0.5\nset_default_active_thread_percentage 100\n'
check_eq "0.5 and 100" "0.5
100.0" "$out"

# --- pinned limits: read back rounded down to whole G from 1G up, M below; both keys
ask 'set_default_device_pinned_mem_limit 0 512M\nget_default_device_pinned_mem_limit 0\n'
check_eq "512M reads back 512M" "512M" "$out"
ask 'set_default_device_pinned_mem_limit 0 1500M\nget_default_device_pinned_mem_limit 0\n'
check_eq "1500M reads back 1G" "1G" "$out"
ask 'set_default_device_pinned_mem_limit 0 2G\nget_default_device_pinned_mem_limit 0\n'
check_eq "set prints nothing, 2G reads back 2G" "2G" "$out"
ask 'set_default_device_pinned_mem_limit 0 3071M\nget_default_device_pinned_mem_limit 0\n'
check_eq "3071M reads back 2G" "2G" "$out"
ask "get_default_device_pinned_mem_limit $MIG0\n"
check_eq "a limit keyed by 0 does not read back by UUID" "" "$out"
ask "set_default_device_pinned_mem_limit $MIG0 4G\nget_default_device_pinned_mem_limit $MIG0\nget_default_device_pinned_mem_limit 0\n"
check_eq "UUID and 0 read back separately" "4G
2G" "$out"
ask 'set_default_device_pinned_mem_limit 0 lots\nset_default_device_pinned_mem_limit 7 1G\nget_default_device_pinned_mem_limit 0\nget_default_device_pinned_mem_limit 7\n'
check_eq "bad value and bad device are ignored" "2G" "$out"
check_contains "set is logged" "set_default_device_pinned_mem_limit 0 2G." "$(cat "$T/log/control.log")"

# --- client priority
ask 'set_default_client_priority 1\nget_default_client_priority\n'
check_eq "priority 1" "1" "$out"
ask 'set_default_client_priority 2\nget_default_client_priority\n'
check_eq "priority 2 refused" "Invalid priority value - must be 0 or 1!
1" "$out"
check_eq "priority 2: status 0" 0 "$rc"

# --- servers: lazy, start_server, status, ps, per-server settings, shutdown_server
ask 'get_server_list\n'
check_eq "no server before a client or start_server" "" "$out"
ask 'start_server -uid 0\n'
check_eq "start_server prints nothing" "" "$out"
ask 'get_server_list\n'
server=$out
[[ $server =~ ^[0-9]+$ ]] && pass "start_server starts one server ($server)" || fail "start_server starts one server: '$server'"
check_eq "server comm" "nvidia-cuda-mps" "$(cat "/proc/$server/comm" 2>/dev/null)"
check_eq "server is the daemon's child" "$daemon" "$(awk '{print $4}' "/proc/$server/stat" 2>/dev/null)"
check_eq "server cmdline" "nvidia-cuda-mps-server" "$(tr '\0' ' ' <"/proc/$server/cmdline" | sed 's/ *$//')"
check_contains "control.log: server start" "Starting new server $server for user 0" "$(cat "$T/log/control.log")"
ask "get_server_status $server\nget_client_list $server\nps\nps -p $server\nps -p 1\n"
check_eq "server ACTIVE, no clients, ps prints nothing" "ACTIVE
Server not found" "$out"
ask 'start_server -uid 0\nget_server_list\n'
check_eq "a second start_server for the same user starts nothing" "$server" "$out"
ask "get_active_thread_percentage $server\n"
check_eq "the server took the default percentage at its start" "100.0" "$out"
ask "set_active_thread_percentage $server 40\nget_active_thread_percentage $server\nset_active_thread_percentage $server 0\n"
check_eq "per-server percentage" "40.0
40.0
40.0" "$out"
ask "set_device_pinned_mem_limit $server 0 1G\nget_device_pinned_mem_limit $server 0\nget_device_pinned_mem_limit $server $MIG0\n"
check_eq "per-server pinned limit" "1G
4G" "$out"
ask "get_default_active_thread_percentage\n"
check_eq "per-server settings leave the default alone" "100.0" "$out"
ask 'device_query\n'
check_contains "device_query: the Default table" "Default" "$out"
check_contains "device_query: the server's table" "Server $server" "$out"
check_contains "device_query: header" "Device Ordinal" "$out"
ask "shutdown_server $server\n"
check_eq "shutdown_server prints nothing" "" "$out"
wait_gone "$server" && pass "the server exits" || fail "the server exits"
ask 'get_server_list\nps\n'
check_eq "after shutdown_server" "Server not found" "$out"
check_contains "control.log: shutdown" "Try shutting down server $server" "$(cat "$T/log/control.log")"
check_contains "control.log: server exit" "Server $server exited with status 0" "$(cat "$T/log/control.log")"
ask "shutdown_server $server\n"
check_eq "shutdown_server of a gone server" "Server $server not found" "$out"

# --- quit stops servers too
ask 'start_server -uid 1000\nget_server_list\n'
server=$out
ask 'quit -t 5\n'
check_eq "quit -t 5 prints nothing" "" "$out"
wait_gone "$server" && pass "quit stops the server" || fail "quit stops the server"
wait_gone "$daemon" && pass "quit stops the daemon" || fail "quit stops the daemon"
check_contains "control.log: quit -t" "quit command issued with timeout of 5" "$(cat "$T/log/control.log")"

# --- the daemon's own environment: the percentage applies, the pinned limit does not
CUDA_VISIBLE_DEVICES=$MIG0 CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=40 CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="0=2G" ctl -d
ask "get_default_active_thread_percentage\nget_default_device_pinned_mem_limit 0\nget_default_device_pinned_mem_limit $MIG0\n"
check_eq "environment: 40.0, and no pinned limit under either key" "40.0" "$out"
ask 'quit\n'
CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=abc ctl -d
ask 'get_default_active_thread_percentage\nquit\n'
check_eq "a bad percentage in the environment is ignored" "100.0" "$out"

# --- without -M one user's server at a time: another user's start_server waits for it
ctl -d
ask 'start_server -uid 0\nget_server_list\n'
root_server=$out
ask 'start_server -uid 1000\n'
wait_gone "$root_server" && pass "an idle server of another user is shut down" || fail "an idle server of another user is shut down"
for _ in $(seq 50); do
        ask 'get_server_list\n'
        [ -n "$out" ] && break
        sleep 0.05
done
[[ $out =~ ^[0-9]+$ ]] && [ "$out" != "$root_server" ] && pass "then the other user's server starts" ||
        fail "then the other user's server starts: '$out'"
check_contains "control.log: the user of the new server" "for user 1000" "$(cat "$T/log/control.log")"
ask 'quit\n'

# --- with -M one server for everyone
ctl -d -M
ask 'start_server -uid 0\nstart_server -uid 1000\nget_server_list\n'
check_eq "-M: one server" 1 "$(wc -l <<<"$out")"
ask 'quit\n'
check_eq "-M daemon quits" 0 "$rc"
