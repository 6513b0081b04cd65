#!/bin/bash
# `mpsmig run` becomes the program: the same pid, its exit status (0, 3, a signal), CMD's options
# left alone, CMD found through PATH, the environment passed on with the client's variables set
# over it, and the usage errors of its own options (exit 2) and of CMD (126, 127).
. "$MPSMIG_SOURCE/tests/lib.sh"

topology=$(private_topology a30-seed)
m() { sim "$topology" "$MPSMIG" "$@"; }
uuid_021=$(grep -oE 'MIG-235f71be[0-9a-f-]{28}' "$topology")
uuid_010=$(grep -oE 'MIG-22f0c05f[0-9a-f-]{28}' "$topology")
TRY="Try 'mpsmig help run'."

m start
check_eq "start" 0 "$rc"

# --- exit statuses are the program's own
m run -- sh -c 'exit 0'
check_eq "exit 0 passes through" 0 "$rc"
m run -- sh -c 'exit 3'
check_eq "exit 3 passes through" 3 "$rc"
m run -- sh -c 'kill -TERM $$'
check_eq "killed by SIGTERM: the shell sees 143" 143 "$rc"
m run -- sh -c 'kill -KILL $$'
check_eq "killed by SIGKILL: the shell sees 137" 137 "$rc"
m run --on 0:2:1 -- sh -c 'echo out; echo err >&2; exit 7'
check_eq "stdout is the program's" "out" "$out"
check_eq "stderr is the program's, nothing of mpsmig's" "err" "$err"
check_eq "exit 7" 7 "$rc"

# --- the same process: the pid the caller started is the one that runs the program
"$SIMRUN" "$topology" -- "$MPSMIG" run -- sh -c 'echo $$ >"$0"; exec sleep 0.3' "$T/pid" &
started=$!
wait "$started"
check_eq "the program runs in the pid the caller started" "$started" "$(cat "$T/pid")"

# a signal sent to that pid reaches the program: it is no child of a waiting mpsmig
"$SIMRUN" "$topology" -- "$MPSMIG" run -- sh -c 'trap "echo got-term >\"\$0\"; exit 9" TERM; touch "$0.ready"; while :; do sleep 0.1; done' "$T/term" &
started=$!
for _ in $(seq 100); do [ -e "$T/term.ready" ] && break; sleep 0.1; done
kill -TERM "$started"
rc=0
wait "$started" || rc=$?
check_eq "SIGTERM to the run's pid reaches the program's handler" "got-term" "$(cat "$T/term" 2>/dev/null)"
check_eq "and its exit status comes back" 9 "$rc"

# --- CMD's options are its own, with or without --
m run -- sh -c 'printf "%s|" "$@"' argv0 --on 0:1:0 -v --threads 0 --help
check_eq "options after -- go to CMD" "--on|0:1:0|-v|--threads|0|--help|" "$out"
m run --on 0:2:1 sh -c 'printf "%s|" "$@"; echo "$CUDA_VISIBLE_DEVICES"' argv0 -x --json
check_eq "options after CMD go to CMD (no --)" "-x|--json|$uuid_021" "$out"
m run --on=0:2:1 --threads=30 -- printenv CUDA_MPS_ACTIVE_THREAD_PERCENTAGE
check_eq "--opt=value forms" "30" "$out"

# --- the environment: inherited, with the client's variables set over it
FOO='a b'"'"'c' CUDA_VISIBLE_DEVICES=bogus CUDA_MPS_PIPE_DIRECTORY=/nowhere \
        m run --on 0:2:1 -- sh -c 'printf "%s\n" "$FOO" "$CUDA_VISIBLE_DEVICES" "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"'
check_eq "the environment is passed on, the client's variables replace the caller's" \
        "a b'c
$uuid_021
$MPSMIG_RUNTIME_DIR/$uuid_021/pipe
$MPSMIG_RUNTIME_DIR/$uuid_021/log" "$out"
m run --on 0:2:1 -- sh -c 'env | grep -c "^CUDA_VISIBLE_DEVICES="'
check_eq "each variable once" "1" "$out"
m run --on 0:1:0 -- sh -c 'env | grep -E "^CUDA_MPS_(ACTIVE|PINNED|CLIENT)" | sort'
check_eq "no limit variables unless asked" "" "$out"
m run --on 0:1:0 --threads 25 --pinned-mem 512M --priority 1 -- \
        sh -c 'env | grep -E "^CUDA_MPS_(ACTIVE|PINNED|CLIENT)" | sort'
check_eq "the limits asked for" "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25
CUDA_MPS_CLIENT_PRIORITY=1
CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=512M" "$out"
m run --on 0:1:0 --pinned-mem 2048M --priority 0 -- sh -c 'env | grep -E "^CUDA_MPS_(PINNED|CLIENT)" | sort'
check_eq "sizes in whole G are written in G" "CUDA_MPS_CLIENT_PRIORITY=0
CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G" "$out"
m run --on MIG-22f0 -- printenv CUDA_VISIBLE_DEVICES
check_eq "--on a UUID prefix" "$uuid_010" "$out"

# --- CMD through PATH, like execvp
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "mytool $*"\n' >"$T/bin/mytool"
chmod +x "$T/bin/mytool"
printf '#!/bin/sh\necho never\n' >"$T/bin/noexec"
PATH="$T/bin:$PATH" m run -- mytool one two
check_eq "CMD found in PATH" "mytool one two" "$out"
check_eq "... exit 0" 0 "$rc"
m run -- "$T/bin/mytool" three
check_eq "CMD by path" "mytool three" "$out"
m run -- no-such-program-anywhere
check_eq "CMD not found: 127" 127 "$rc"
check_eq "CMD not found: says so" "mpsmig: cannot run 'no-such-program-anywhere': not found in PATH" "$err"
PATH="$T/bin:$PATH" m run -- noexec
check_eq "CMD not executable: 126" 126 "$rc"
check_contains "CMD not executable: says so" "cannot run 'noexec': permission denied" "$err"
m run -- "$T/bin"
check_eq "CMD a folder: 126" 126 "$rc"
m run -- "$T/bin/missing"
check_eq "CMD a missing path: 127" 127 "$rc"

# --- usage errors: one line, the hint, exit 2, CMD never run
usage() {
        what=$1
        expected=$2
        shift 2
        m "$@" touch "$T/ran"
        check_eq "$what: exit 2" 2 "$rc"
        check_eq "$what: message" "$expected
$TRY" "$err"
        [ -e "$T/ran" ] && fail "$what: CMD did not run" || pass "$what: CMD did not run"
}
usage "--threads 0" "mpsmig: run: --threads '0': give a whole percentage from 1 to 100" run --threads 0 --
usage "--threads 101" "mpsmig: run: --threads '101': give a whole percentage from 1 to 100" run --threads 101 --
usage "--threads 2.5" "mpsmig: run: --threads '2.5': give a whole percentage from 1 to 100" run --threads 2.5 --
usage "--threads empty" "mpsmig: run: --threads '': give a whole percentage from 1 to 100" run --threads= --
usage "--pinned-mem 0" "mpsmig: run: --pinned-mem '0': give a size with a unit, such as 2G or 512M" run --pinned-mem 0 --
usage "--pinned-mem abc" "mpsmig: run: --pinned-mem 'abc': give a size with a unit, such as 2G or 512M" run --pinned-mem abc --
usage "--pinned-mem 2" "mpsmig: run: --pinned-mem '2': the unit is missing: give 2G or 2048M" run --pinned-mem 2 --
usage "--pinned-mem 100K" "mpsmig: run: --pinned-mem '100K': give a whole number of MiB, such as 512M" run --pinned-mem 100K --
usage "--priority 2" "mpsmig: run: --priority '2': give 0 (normal) or 1 (below normal)" run --priority 2 --
usage "--priority -1" "mpsmig: run: --priority '-1': give 0 (normal) or 1 (below normal)" run --priority -1 --
usage "--layout bogus" "mpsmig: run: --layout 'bogus': give default or seed" run --layout bogus --
usage "unknown option" "mpsmig: run: unknown option '--bogus'" run --bogus --
m run --on
check_eq "missing value: exit 2" 2 "$rc"
check_eq "missing value: message" "mpsmig: run: option needs an argument: '--on'
$TRY" "$err"
m run
check_eq "no CMD: exit 2" 2 "$rc"
check_eq "no CMD: message" "mpsmig: run: no command given (mpsmig run [OPTIONS] -- CMD [ARGS...])
$TRY" "$err"
m run --
check_eq "only --: exit 2" 2 "$rc"

# --- names that resolve to nothing are usage errors too (exit 2), listing the candidates
m run --on MIG-9 -- touch "$T/ran"
check_eq "--on MIG-9: exit 2" 2 "$rc"
check_contains "--on MIG-9: the candidates" "no target matches 'MIG-9'; targets: 0:1:0 MIG-22f0c05f-... (1c.2g.12gb)" "$err"
m run --on 0 -- touch "$T/ran"
check_eq "--on a GPU in MIG mode: exit 2" 2 "$rc"
[ -e "$T/ran" ] && fail "no name error ran CMD" || pass "no name error ran CMD"

m help run
check_eq "help run" 0 "$rc"
check_contains "help run: the usage line" "Usage: mpsmig run [OPTIONS] [--] CMD [ARGS...]" "$out"
m run --help
check_contains "run --help" "--pinned-mem SIZE" "$out"

m stop
check_eq "stop" 0 "$rc"
