# Shared helpers for the shell tests: private folders, assertions, and a check that no simulated
# daemon is left behind. Source it first thing; the test fails if any `check` failed.
set -u

: "${MPSMIG_BUILD:?MPSMIG_BUILD must name the build folder}"
: "${MPSMIG_SOURCE:?MPSMIG_SOURCE must name the source folder}"
MPSMIG=$MPSMIG_BUILD/mpsmig
SIMRUN=$MPSMIG_BUILD/simgpu/simgpu-run
PROBE=$MPSMIG_BUILD/mpsmig-probe
TOPOLOGIES=$MPSMIG_SOURCE/simgpu/topologies
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T=$(mktemp -d "${TMPDIR:-/tmp}/mpsmig-test.XXXXXX")
chmod 0755 "$T"
export MPSMIG_RUNTIME_DIR=$T/run
failures=0
checks=0

# Every simulated control daemon started from this test (directly or through mpsmig, which passes
# SIMGPU_* on) ends by itself when this shell does, however it ends: SIGKILL from ctest's timeout
# included, where no trap runs (docs/simgpu-mps.md).
export SIMGPU_MPS_EXIT_WITH_PID=$$

# Processes of this test still running (this shell aside): those whose environment names a pipe
# folder under $T, and those holding a file or their working folder under $T, which finds a
# control daemon (it holds control_lock and control.log) however its pipe folder was named: a
# symbolic link, a path that does not start with $T, variables a test set by hand. One grep and
# one find, so that the scan stays cheap on a machine with many processes.
processes_under_test_dir() {
        local self=$BASHPID real found pid seen=" "
        real=$(cd "$T" 2>/dev/null && pwd -P) || real=$T
        found=$(
                grep -lszF "CUDA_MPS_PIPE_DIRECTORY=$T/" /proc/[0-9]*/environ
                find /proc/[0-9]*/fd /proc/[0-9]*/cwd -maxdepth 1 \( -lname "$T" -o -lname "$T/*" \
                        -o -lname "$real" -o -lname "$real/*" \) 2>/dev/null
        )
        # The scan's own processes are gone by now; so is anything that exited meanwhile.
        for path in $found; do
                pid=${path#/proc/}
                pid=${pid%%/*}
                case $seen in *" $pid "*) continue ;; esac
                seen="$seen$pid "
                [ "$pid" = "$$" ] || [ "$pid" = "$self" ] || [ ! -e "/proc/$pid" ] || echo "$pid"
        done
}

# Ends what processes_under_test_dir finds (SIGKILL: a test's leftovers get no grace) and says
# which they were.
end_leftovers() {
        local left
        left=$(processes_under_test_dir)
        [ -n "$left" ] || return 1
        echo "FAIL: processes left behind: $left"
        for pid in $left; do
                tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null
                echo
                kill -9 "$pid" 2>/dev/null
        done
        return 0
}

# Runs on every exit: the end of the script, an `exit`, and the signals that end bash (SIGINT
# from a terminal's Ctrl-C, SIGTERM, SIGHUP), for which bash runs this EXIT trap before it dies
# of the signal. Explicit INT/TERM traps would be worse: bash defers a trapped
# signal until the foreground command ends, while the EXIT trap of a fatal signal runs at once.
finish() {
        status=$?
        if end_leftovers; then
                failures=$((failures + 1))
        fi
        rm -rf "$T"
        echo "$checks checks, $failures failed"
        if [ "$failures" -ne 0 ] || [ "$status" -ne 0 ]; then
                exit 1
        fi
        exit 0
}
trap finish EXIT

# SIGKILL (ctest's timeout) runs no trap: a watchdog, outside the signals of a Ctrl-C, ends what
# is left once this shell is gone and removes $T. After a normal finish it finds nothing. Started
# through a subshell that exits at once, so that it is not one of this shell's jobs: a test's
# plain `wait` must not wait for it.
( (
        trap '' INT TERM HUP
        tail --pid=$$ -f /dev/null
        [ -d "$T" ] || exit 0
        end_leftovers
        rm -rf "$T"
) </dev/null >/dev/null 2>&1 & )

pass() {
        checks=$((checks + 1))
        echo "ok: $1"
}

fail() {
        checks=$((checks + 1))
        failures=$((failures + 1))
        echo "FAIL: $1"
}

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
        if [ "$2" = "$3" ]; then
                pass "$1"
        else
                fail "$1"
                echo "  expected: $2"
                echo "  actual:   $3"
        fi
}

# check_contains WHAT NEEDLE HAYSTACK
check_contains() {
        case "$3" in
        *"$2"*) pass "$1" ;;
        *)
                fail "$1"
                echo "  expected to contain: $2"
                echo "  actual: $3"
                ;;
        esac
}

# check_not_contains WHAT NEEDLE HAYSTACK
check_not_contains() {
        case "$3" in
        *"$2"*)
                fail "$1"
                echo "  expected not to contain: $2"
                echo "  actual: $3"
                ;;
        *) pass "$1" ;;
        esac
}

# run_capture CMD...: runs CMD, sets $out (stdout), $err (stderr) and $rc.
run_capture() {
        rc=0
        "$@" >"$T/.out" 2>"$T/.err" || rc=$?
        out=$(cat "$T/.out")
        err=$(cat "$T/.err")
}

# sim TOPOLOGY CMD...: run_capture under simgpu.
sim() {
        topology=$1
        shift
        run_capture "$SIMRUN" "$topology" -- "$@"
}

# private_topology NAME: a copy of a shipped topology whose UUIDs end in this test's own 12 hex
# digits (PRIVATE_SUFFIX when set, so that two topologies of one test name the same devices),
# printed as a path. Tests run in parallel, and mpsmig rightly refuses to start a second
# daemon on a device another daemon serves; private UUIDs keep the tests out of each other's way.
private_topology() {
        suffix=${PRIVATE_SUFFIX:-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')}
        sed -E "s/((GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}/\1$suffix/g" \
                "$TOPOLOGIES/$1.json" >"$T/$1.json"
        echo "$T/$1.json"
}

# until_true SECONDS COMMAND...: polls COMMAND every 0.05 s until it succeeds or time is up
until_true() {
        tries=$(($1 * 20))
        shift
        for _ in $(seq "$tries"); do
                "$@" && return 0
                sleep 0.05
        done
        return 1
}
