#!/bin/bash
# simgpu's control daemon serves one control client at a time, as driver 580 does
# (docs/driver-facts.md, 2026-12-02): while one holds it, the others print `Cannot send command to
# MPS control daemon process` and exit 1; clients one after another are never refused, nor are
# CUDA clients; a ps asked while a server starts is answered once it is ready, so that its asker
# holds the daemon that much longer, and control.log says `Server <pid> is <busy>`.
. "$MPSMIG_SOURCE/tests/lib.sh"

MIG0=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0
export CUDA_VISIBLE_DEVICES=$MIG0
export CUDA_MPS_PIPE_DIRECTORY=$T/pipe
export CUDA_MPS_LOG_DIRECTORY=$T/log
mkdir -p "$T/pipe" "$T/log"
BUSY="Cannot send command to MPS control daemon process"

ask() {
        rc=0
        printf '%b' "$1" | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
        err=$(cat "$T/.err")
}
lines_at_least() { [ "$(wc -l <"$2")" -ge "$1" ]; }
# concurrent K LINE: K clients at once, each asking LINE; sets $served, $refused, $other
concurrent() {
        pids=()
        for i in $(seq "$1"); do
                {
                        r=0
                        printf '%s\n' "$2" | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control \
                                >"$T/c$i.out" 2>"$T/c$i.err" || r=$?
                        echo "$r" >"$T/c$i.rc"
                } &
                pids+=($!)
        done
        wait "${pids[@]}"
        served=0 refused=0 other=0
        for i in $(seq "$1"); do
                if [ "$(cat "$T/c$i.rc")" = 0 ] && [ ! -s "$T/c$i.err" ]; then
                        served=$((served + 1))
                elif [ "$(cat "$T/c$i.rc")" = 1 ] && [ ! -s "$T/c$i.out" ] &&
                        printf '%s\n' "$BUSY" | cmp -s - "$T/c$i.err"; then
                        refused=$((refused + 1))
                else
                        other=$((other + 1))
                        echo "  client $i: status $(cat "$T/c$i.rc"), out '$(cat "$T/c$i.out")', err '$(cat "$T/c$i.err")'"
                fi
        done
}
# hold LINE: a client-mode program reading the fifo $T/hold, kept open on fd 7, sends LINE; it
# holds the daemon once LINE is answered (its answer in $T/hold.out) until fd 7 is closed
hold() {
        rm -f "$T/hold" "$T/hold.out"
        mkfifo "$T/hold"
        "$SIMRUN" a30-seed -- nvidia-cuda-mps-control <"$T/hold" >"$T/hold.out" 2>"$T/hold.err" &
        holder=$!
        exec 7>"$T/hold"
        printf '%s\n' "$1" >&7
}
release() {
        exec 7>&-
        holder_rc=0
        wait "$holder" || holder_rc=$?
}

sim a30-seed nvidia-cuda-mps-control -d
check_eq "daemon started" 0 "$rc"

# --- one client holds the daemon: every other control client is refused, with the exact message
hold get_default_client_priority
until_true 10 test -s "$T/hold.out"
check_eq "the holder is served" "0" "$(cat "$T/hold.out")"
concurrent 16 get_server_list
check_eq "16 clients while one holds: all refused" "0 16 0" "$served $refused $other"
printf '%s\n' "$BUSY" | cmp -s - "$T/c1.err" && pass "refused: exactly the message and a newline on stderr" ||
        fail "refused: stderr is '$(od -c "$T/c1.err" | head -n3)'"
ask 'get_server_list\nget_default_client_priority\n'
check_eq "refused with several commands: nothing on stdout, status 1" "1 $BUSY" "$rc $out$err"
check_not_contains "the refused commands were not run" "Cmd:get_server_list" "$(cat "$T/log/control.log")"

# --- a CUDA client is not refused while a control client holds the daemon
rc=0
"$SIMRUN" a30-seed -- "$PROBE" >"$T/probe.out" 2>"$T/probe.err" || rc=$?
probe=$(sed -n 's/^pid: //p' "$T/probe.out")
check_eq "a CUDA client while held: runs its kernel" "0   kernel: ok" "$rc $(grep kernel: "$T/probe.out")"
check_contains "a CUDA client while held: attached through MPS" "NEW CLIENT $probe from user" \
        "$(cat "$T/log/control.log")"
# the holder goes on being served
printf 'get_server_list\n' >&7
until_true 10 lines_at_least 2 "$T/hold.out"
server=$(sed -n 2p "$T/hold.out")
[ -n "$server" ] && pass "the holder is served again: server $server" || fail "the holder is served again"
release
check_eq "the holder exits 0" 0 "$holder_rc"

# --- clients one after another: none refused
refused=0
for _ in $(seq 100); do
        ask 'get_server_list\n'
        [ "$rc" = 0 ] && [ "$out" = "$server" ] || refused=$((refused + 1))
done
check_eq "100 clients one after another: none refused" 0 "$refused"

# --- clients at once, nothing held on purpose: each is served or refused with the message
concurrent 32 get_server_list
check_eq "32 clients at once: each served or refused as driver 580 ($served served)" "32 0" \
        "$((served + refused)) $other"

ask 'quit\n'
check_eq "quit" 0 "$rc"
until_true 10 test ! -e "$T/pipe/nvidia-cuda-mps-control.pid"

# --- while a server starts: the asker of ps holds the daemon until the server is ready
SIMGPU_MPS_SERVER_START_MS=2000 sim a30-seed nvidia-cuda-mps-control -d
check_eq "daemon with a 2 s server start" 0 "$rc"
start_ns=$(date +%s%N)
printf 'start_server -uid 0\nps\n' | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >"$T/s.out" 2>&1 &
starter=$!
until_true 10 grep -q ' is <busy>$' "$T/log/control.log"
ask 'get_server_list\n'
if kill -0 "$starter" 2>/dev/null; then
        check_eq "while the server starts: another control client is refused" "1 $BUSY" "$rc $out$err"
else
        echo "note: the 2 s start was over before the second client asked (a very slow machine)"
fi
starter_rc=0
wait "$starter" || starter_rc=$?
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
check_eq "ps while the server starts: the answer of that moment" "0 Server not found" "$starter_rc $(cat "$T/s.out")"
[ "$elapsed_ms" -ge 2000 ] && pass "ps was answered once the server was ready ($elapsed_ms ms)" ||
        fail "ps was answered after $elapsed_ms ms, before the 2 s start"
daemon=$(cat "$T/pipe/nvidia-cuda-mps-control.pid")
server=$(printf 'get_server_list\n' | "$SIMRUN" a30-seed -- nvidia-cuda-mps-control)
grep -qE "^\[[-0-9]+ [:.0-9]+ Control +$daemon\] Server $server is <busy>\$" "$T/log/control.log" &&
        pass "control.log: Server $server is <busy>" ||
        fail "control.log: no busy line for $server: $(grep busy "$T/log/control.log")"
check_contains "the server became ready after the busy line" "NEW SERVER $server: Ready" \
        "$(sed -n '/is <busy>/,$p' "$T/log/control.log")"
ask 'ps\n'
check_eq "after the start: ps is served at once" "0 " "$rc $out"
ask 'quit\n'
check_eq "quit" 0 "$rc"
until_true 10 test ! -e "$T/pipe/nvidia-cuda-mps-control.pid"
