# Shared helpers for the shell tests: private folders, assertions, and a check that no simulated
# daemon is left behind. Source it first thing; the test fails if any `check` failed.
set -u

: "${MPSMIG_BUILD:?MPSMIG_BUILD must name the build folder}"
: "${MPSMIG_SOURCE:?MPSMIG_SOURCE must name the source folder}"
MPSMIG=$MPSMIG_BUILD/mpsmig
SIMRUN=$MPSMIG_BUILD/simgpu/run
PROBE=$MPSMIG_BUILD/mpsmig-probe
TOPOLOGIES=$MPSMIG_SOURCE/simgpu/topologies
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

T=$(mktemp -d "${TMPDIR:-/tmp}/mpsmig-test.XXXXXX")
chmod 0755 "$T"
export MPSMIG_RUNTIME_DIR=$T/run
failures=0
checks=0

# Processes (any program) whose environment names a folder under $T.
processes_under_test_dir() {
        for environ in /proc/[0-9]*/environ; do
                pid=${environ#/proc/}
                pid=${pid%/environ}
                [ "$pid" = "$$" ] && continue
                { tr '\0' '\n' <"$environ" | grep -q "^CUDA_MPS_PIPE_DIRECTORY=$T/"; } 2>/dev/null &&
                        echo "$pid"
        done
}

finish() {
        status=$?
        left=$(processes_under_test_dir)
        if [ -n "$left" ]; then
                echo "FAIL: processes left behind: $left"
                for pid in $left; do
                        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null; echo
                        kill -9 "$pid" 2>/dev/null
                done
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
# digits, printed as a path. Tests run in parallel, and mpsmig rightly refuses to start a second
# daemon on a device another daemon serves; private UUIDs keep the tests out of each other's way.
private_topology() {
        suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
        sed -E "s/((GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}/\1$suffix/g" \
                "$TOPOLOGIES/$1.json" >"$T/$1.json"
        echo "$T/$1.json"
}
