#!/bin/bash
# `mpsmig env TARGET`: export lines that sh (dash) and bash evaluate into exactly the target's
# variables, quoting proved by a runtime folder with a space and a quote in its name, a daemon
# reached through them, the JSON form, and the refusals (exit 1 when the daemon does not run,
# exit 2 when the name is not exactly one target).
. "$MPSMIG_SOURCE/tests/lib.sh"

topology=$(private_topology a30-seed)
m() { sim "$topology" "$MPSMIG" "$@"; }
uuid() { grep -oE "MIG-$1[0-9a-f-]{28}" "$topology"; }
U010=$(uuid 22f0c05f)
U021=$(uuid 235f71be)
TRY="Try 'mpsmig help env'."
# A folder name a shell would split and unquote if env printed it bare.
export MPSMIG_RUNTIME_DIR="$T/it's a dir"

m start
check_eq "start" 0 "$rc"

m env 0:1:0
check_eq "env: exit 0" 0 "$rc"
check_eq "env: nothing on stderr" "" "$err"
check_eq "env: three export lines, quoted where needed" "export CUDA_VISIBLE_DEVICES=$U010
export CUDA_MPS_PIPE_DIRECTORY='$T/it'\\''s a dir/$U010/pipe'
export CUDA_MPS_LOG_DIRECTORY='$T/it'\\''s a dir/$U010/log'" "$out"
lines=$out

expected="$U010
$MPSMIG_RUNTIME_DIR/$U010/pipe
$MPSMIG_RUNTIME_DIR/$U010/log"
show='printf "%s\n" "$CUDA_VISIBLE_DEVICES" "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"'
check_eq "eval in dash gives the values" "$expected" "$(env -i dash -c "eval \"\$1\"; $show" sh "$lines")"
check_eq "eval in bash gives the values" "$expected" "$(env -i bash -c "eval \"\$1\"; $show" sh "$lines")"
check_eq "the variables are exported to children" "$U010" \
        "$(env -i dash -c 'eval "$1"; dash -c "echo \$CUDA_VISIBLE_DEVICES"' sh "$lines")"

# the documented use: eval "$(mpsmig env TARGET)", then talk to the daemon through those variables
answer=$("$SIMRUN" "$topology" -- sh -c 'eval "$("$1" env 0:2:1)" &&
        echo get_default_active_thread_percentage | nvidia-cuda-mps-control &&
        echo "$CUDA_VISIBLE_DEVICES"' sh "$MPSMIG")
check_eq "eval \"\$(mpsmig env 0:2:1)\" reaches that daemon" "100.0
$U021" "$answer"

m env MIG-235f
check_contains "a UUID prefix" "export CUDA_VISIBLE_DEVICES=$U021" "$out"
m env "$U021"
check_contains "a full UUID" "export CUDA_VISIBLE_DEVICES=$U021" "$out"

m env --json 0:2:1
check_eq "--json: exit 0" 0 "$rc"
check_eq "--json: the document" "{
  \"schema_version\": 1,
  \"target\": \"0:2:1\",
  \"uuid\": \"$U021\",
  \"kind\": \"mig_device\",
  \"profile\": \"1c.2g.12gb\",
  \"daemon_pid\": $(cat "$MPSMIG_RUNTIME_DIR/$U021/pipe/nvidia-cuda-mps-control.pid"),
  \"answered_by\": \"direct\",
  \"environment\": {
    \"CUDA_VISIBLE_DEVICES\": \"$U021\",
    \"CUDA_MPS_PIPE_DIRECTORY\": \"$MPSMIG_RUNTIME_DIR/$U021/pipe\",
    \"CUDA_MPS_LOG_DIRECTORY\": \"$MPSMIG_RUNTIME_DIR/$U021/log\"
  }
}" "$out"

# --- refusals
m stop 0:1:0
check_eq "stop 0:1:0" 0 "$rc"
m env 0:1:0
check_eq "daemon stopped: exit 1" 1 "$rc"
check_eq "daemon stopped: nothing to eval" "" "$out"
check_eq "daemon stopped: says so and what to do" \
        "mpsmig: the MPS daemon of 0:1:0 ($U010) is not running, so the program would run without MPS; start it with \`mpsmig start 0:1:0\`" \
        "$err"
# eval "$(...)" of an empty output succeeds; a script that must stop uses vars=$(...) && eval
answer=$("$SIMRUN" "$topology" -- sh -c 'unset CUDA_VISIBLE_DEVICES; eval "$("$1" env 0:1:0)"; echo "[$CUDA_VISIBLE_DEVICES]"
        vars=$("$1" env 0:1:0) && eval "$vars" || echo "refused: $?"' sh "$MPSMIG" 2>/dev/null)
check_eq "a refusal sets nothing; vars=\$(mpsmig env) && eval shows the failure" "[]
refused: 1" "$answer"
m env --runtime-dir "$T/elsewhere" 0:2:1
check_eq "another runtime folder has no daemon: exit 1" 1 "$rc"
check_contains "... and the hint names it" "mpsmig start --runtime-dir $T/elsewhere 0:2:1" "$err"
m env --layout seed 0:2:1
check_eq "the seed layout has no daemon: exit 1" 1 "$rc"

usage() {
        what=$1
        expected=$2
        shift 2
        m "$@"
        check_eq "$what: exit 2" 2 "$rc"
        check_eq "$what: message" "$expected" "$err"
        check_eq "$what: nothing on stdout" "" "$out"
}
usage "no target" "mpsmig: env: name one target (as in mpsmig env 0:1:0)
$TRY" env
usage "two targets" "mpsmig: env: one target only, got '0:1:0' and '0:2:1'
$TRY" env 0:1:0 0:2:1
usage "auto" "mpsmig: 'auto' is only valid for \`mpsmig run --on\`: name the targets, or give none for all of them" env auto
usage "a profile of four" "mpsmig: '1c.2g.12gb' names 4 targets; name exactly one: 0:1:0 $U010, 0:1:1 $(uuid d74dcafc), 0:2:0 $(uuid 27be287f), 0:2:1 $U021" env 1c.2g.12gb
m env MIG-9
check_eq "unknown: exit 2" 2 "$rc"
check_contains "unknown: the candidates" "no target matches 'MIG-9'; targets: 0:1:0 MIG-22f0c05f-... (1c.2g.12gb), 0:1:1 MIG-d74dcafc-... (1c.2g.12gb)" "$err"
usage "--layout bogus" "mpsmig: env: --layout 'bogus': give default or seed
$TRY" env --layout bogus 0:2:1
usage "unknown option" "mpsmig: env: unknown option '--threads'
$TRY" env --threads 5 0:2:1

m help env
check_contains "help env" "Usage: mpsmig env [--layout default|seed] [--runtime-dir DIR] [--json] TARGET" "$out"

# A whole GPU's document says kind "gpu", as start/stop/status do.
m start 1
check_eq "start whole GPU 1" 0 "$rc"
m env --json 1
check_eq "whole GPU env --json: exit 0" 0 "$rc"
check_contains "whole GPU env --json: kind" '"kind": "gpu"' "$out"
check_contains "whole GPU env --json: no profile" '"profile": null' "$out"

m stop
check_eq "stop" 0 "$rc"
