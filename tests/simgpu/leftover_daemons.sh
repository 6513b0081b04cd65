#!/bin/bash
# No test leaves a control daemon behind, however it ends: SIMGPU_MPS_EXIT_WITH_PID ends a
# simulated daemon (a hung one too) when the process it names ends; and tests/lib.sh, in a test
# that started a daemon whose environment does not name the test's folder, ends it when the test
# ends on SIGTERM, on a Ctrl-C's SIGINT, and (through its watchdog) on SIGKILL, removing $T.
. "$MPSMIG_SOURCE/tests/lib.sh"

MIG0=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0
export CUDA_VISIBLE_DEVICES=$MIG0

alive() {
        [ -r "/proc/$1/stat" ] || return 1
        state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
        [ -n "$state" ] && [ "$state" != Z ]
}
gone() { ! alive "$1"; }

# --- SIMGPU_MPS_EXIT_WITH_PID: a hung daemon and its server end when the watched process does
mkdir -p "$T/w/pipe"
sleep 300 &
watched=$!
CUDA_MPS_PIPE_DIRECTORY=$T/w/pipe CUDA_MPS_LOG_DIRECTORY=$T/w/log SIMGPU_MPS_EXIT_WITH_PID=$watched \
        SIMGPU_MPS_HANG_ON_QUIT='*' "$SIMRUN" a30-seed -- nvidia-cuda-mps-control -d
daemon=$(cat "$T/w/pipe/nvidia-cuda-mps-control.pid")
printf 'start_server -uid 0\nquit\n' | CUDA_MPS_PIPE_DIRECTORY=$T/w/pipe timeout 10 \
        "$SIMRUN" a30-seed -- nvidia-cuda-mps-control >/dev/null
server=$(awk '/Starting new server/ { print $NF == "" ? "" : $(NF - 3) }' "$T/w/log/control.log")
alive "$daemon" && pass "the daemon hangs after quit" || fail "the daemon hangs after quit"
kill -9 "$watched"
wait "$watched" 2>/dev/null
until_true 10 gone "$daemon" && pass "the watched process ended: the daemon exits" ||
        fail "the watched process ended: the daemon $daemon still runs"
if [ -n "$server" ]; then
        until_true 10 gone "$server" && pass "its server exits too" || fail "its server $server still runs"
else
        fail "no server was started"
fi
check_contains "control.log says why" "Process $watched ended (SIMGPU_MPS_EXIT_WITH_PID)" \
        "$(cat "$T/w/log/control.log")"
[ ! -e "$T/w/pipe/nvidia-cuda-mps-control.pid" ] && pass "it removes its pid file" ||
        fail "it removes its pid file"

# --- tests/lib.sh: an inner test starts a daemon through a symbolic link outside its folder and
# without SIMGPU_MPS_EXIT_WITH_PID, so that neither the environment nor the daemon itself gives
# it away; it prints "ready FOLDER PID" and sleeps (a foreground command a signal does not end).
cat >"$T/inner.sh" <<'EOF'
. "$MPSMIG_SOURCE/tests/lib.sh"
mkdir -p "$T/pipe"
ln -s "$T" "$LINK"
env -u SIMGPU_MPS_EXIT_WITH_PID CUDA_MPS_PIPE_DIRECTORY="$LINK/pipe" CUDA_MPS_LOG_DIRECTORY="$LINK/log" \
        "$SIMRUN" a30-seed -- nvidia-cuda-mps-control -d
echo "ready $T $(cat "$T/pipe/nvidia-cuda-mps-control.pid")"
sleep 300 >"$T/sleep.out" # holds a file in $T: ended with the test too
EOF
# inner NAME SIGNAL TARGET: runs the inner test in its own session (SIGINT not ignored, as under
# a terminal), sends SIGNAL to the shell ("shell") or to its process group ("group", a Ctrl-C),
# and checks that its daemon is gone and its folder removed.
inner() {
        name=$1
        rm -f "$T/inner.out" "$T/link-$name"
        TMPDIR=$T LINK=$T/link-$name setsid env --default-signal=INT bash "$T/inner.sh" \
                >"$T/inner.out" 2>&1 &
        shell=$!
        if ! until_true 10 grep -q '^ready ' "$T/inner.out"; then
                fail "$name: the inner test did not start: $(cat "$T/inner.out")"
                kill -9 "$shell"
                return
        fi
        read -r _ folder pid < <(grep '^ready ' "$T/inner.out")
        case $3 in
        group) kill -"$2" -- -"$shell" ;;
        *) kill -"$2" "$shell" ;;
        esac
        inner_rc=0
        wait "$shell" 2>/dev/null || inner_rc=$?
        [ "$inner_rc" -ne 0 ] && pass "$name: the test fails" || fail "$name: the test passed"
        until_true 10 gone "$pid" && pass "$name: its daemon is ended" ||
                fail "$name: its daemon $pid still runs"
        until_true 10 test ! -e "$folder" && pass "$name: its folder is removed" ||
                fail "$name: its folder $folder stays"
}
inner "SIGTERM" TERM shell
check_contains "SIGTERM: the leftover is named" "FAIL: processes left behind:" "$(cat "$T/inner.out")"
inner "Ctrl-C" INT group
check_contains "Ctrl-C: the leftover is named" "FAIL: processes left behind:" "$(cat "$T/inner.out")"
inner "SIGKILL" KILL shell
