#!/bin/bash
# simgpu's nvidia-cuda-mps-control commands and their answers as on driver 580: servers that
# start lazily or by start_server and are ready after a start time, get_server_list / status /
# client list, ps, shutdown_server, terminate_client, device_query, thread percentages validated
# and read back, pinned limits (units, rounding down on read-back), client priority, the daemon's
# own environment, -M (docs/hardware/2026-11-25/mps_control_unknowns.txt for the answers).
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
# wait_ready: ps stops answering "Server not found" (bounded: 5 s). get_server_status cannot
# tell: driver 580 says ACTIVE from the start (mps_control_unknowns2.txt).
wait_ready() {
        for _ in $(seq 100); do
                ask "ps\n"
                [ "$out" != "Server not found" ] && return 0
                sleep 0.05
        done
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
ask 'ps -p 1\n'
check_eq "ps -p unknown: the pid twice and an empty line" "Server 1 not found
Server 1 not found

." "$(cat "$T/.out"; echo .)"
ask 'terminate_client 1 2\nshutdown_server 1\nset_active_thread_percentage 1 50\nget_active_thread_percentage 1\n'
check_eq "unknown server: terminate_client, shutdown_server, thread percentages" "Server 1 not found
Server 1 not found!
1
Server 1 not found
Server 1 not found
Server 1 not found" "$out"
ask 'get_device_client_list\n'
check_eq "get_device_client_list without clients prints nothing" "" "$out"
ask 'start_server\nstart_server -uid\nstart_server -uid abc\nget_server_list\n'
check_eq "start_server without a uid" "A user id (UID) is required to start a new server
A user id (UID) is required to start a new server
A user id (UID) is required to start a new server" "$out"
check_eq "start_server without a uid: status 0" 0 "$rc"
ask 'device_query\n'
check_eq "device_query without a server, columns as driver 580" "Default
Device Ordinal  PCI IDs        UUID                                      Name                              Attributes
0               0000:17.00.00  $MIG0  NVIDIA A30 MIG 1c.2g.12gb         N/A" "$out"

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
check_eq "a value without digits is ignored; ordinal 7 is kept on a one-device daemon" "2G
1G" "$out"
ask 'set_default_device_pinned_mem_limit 1 512K\nget_default_device_pinned_mem_limit 1\nset_default_device_pinned_mem_limit 1 1048576\nget_default_device_pinned_mem_limit 1\nset_default_device_pinned_mem_limit 1 2GB\nget_default_device_pinned_mem_limit 1\n'
check_eq "units: 512K reads 512M, a bare number is MiB, 2GB is 2G" "512M
1024G
2G" "$out"
# ... and the third reading (mps_control_unknowns2.txt): only G or g is GiB; T, X and the '.' of
# 1.5G leave MiB; 0 clears the limit, after which the getter prints nothing
ask 'set_default_device_pinned_mem_limit 1 1T\nget_default_device_pinned_mem_limit 1\nset_default_device_pinned_mem_limit 1 3t\nget_default_device_pinned_mem_limit 1\nset_default_device_pinned_mem_limit 1 2g\nget_default_device_pinned_mem_limit 1\nset_default_device_pinned_mem_limit 1 2X\nget_default_device_pinned_mem_limit 1\nset_default_device_pinned_mem_limit 1 1.5G\nget_default_device_pinned_mem_limit 1\nset_default_device_pinned_mem_limit 1 0\nget_default_device_pinned_mem_limit 1\n'
check_eq "units: 1T 1M, 3t 3M, 2g 2G, 2X 2M, 1.5G 1M, then 0 clears" "1M
3M
2G
2M
1M" "$out"
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
ask 'start_server -uid 0\nps\n'
check_eq "start_server prints nothing; ps does not see the starting server" "Server not found" "$out"
ask 'get_server_list\n'
server=$out
ask "get_server_status $server\n"
check_eq "a starting server is ACTIVE already, as on driver 580" "ACTIVE" "$out"
[[ $server =~ ^[0-9]+$ ]] && pass "start_server starts one server ($server)" || fail "start_server starts one server: '$server'"
check_eq "server comm" "nvidia-cuda-mps" "$(cat "/proc/$server/comm" 2>/dev/null)"
check_eq "server is the daemon's child" "$daemon" "$(awk '{print $4}' "/proc/$server/stat" 2>/dev/null)"
check_eq "server cmdline" "nvidia-cuda-mps-server" "$(tr '\0' ' ' <"/proc/$server/cmdline" | sed 's/ *$//')"
check_contains "control.log: server start" "Starting new server $server for user 0" "$(cat "$T/log/control.log")"
wait_ready && pass "the server becomes ready" || fail "the server becomes ready"
check_contains "control.log: ready" "NEW SERVER $server: Ready" "$(cat "$T/log/control.log")"
check_contains "server.log: started" "Server has started" "$(cat "$T/log/server.log")"
ask "get_server_status $server\nget_client_list $server\nps\nps -p $server\nps -p 1\n"
check_eq "server ACTIVE, no clients, ps prints nothing" "ACTIVE
Server 1 not found
Server 1 not found" "$out"
ask "get_device_client_list\nget_device_client_list $server\nterminate_client $server 1\n"
check_eq "a server without clients: no device lines; terminate_client of no client: 201" "201" "$out"
check_contains "server.log: the failed termination" "Client termination failed with invalid device context." "$(cat "$T/log/server.log")"
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
row="0               0000:17.00.00  $MIG0  NVIDIA A30 MIG 1c.2g.12gb         N/A"
header="Device Ordinal  PCI IDs        UUID                                      Name                              Attributes"
check_eq "device_query: Default, a blank line, the server's table" "Default
$header
$row

Server $server
$header
$row" "$out"
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

# --- quit without -t: driver 580 logs no "quit command issued", but each server's shutdown
ctl -d
daemon=$(cat "$T/pipe/nvidia-cuda-mps-control.pid")
ask 'start_server -uid 0\nget_server_list\n'
server=$out
ask 'quit\n'
wait_gone "$server" && pass "quit stops the starting server" || fail "quit stops the starting server"
# The daemon writes its last line as it exits, after the server's.
wait_gone "$daemon" && pass "quit stops the daemon, again" || fail "quit stops the daemon, again"
log=$(sed -n '/Cmd:quit$/,$p' "$T/log/control.log" | sed 's/^\[[^]]*\] //')
check_eq "control.log after quit" "Cmd:quit
Try shutting down server $server, backoff is disabled
Server $server exited with status 0
Exit with status 0" "$log"

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
