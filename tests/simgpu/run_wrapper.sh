# simgpu/simgpu-run: topology names and paths, the environment it sets, exec (same pid, same exit
# status), and the usage and unknown-topology errors; for the build copy, the source copy, a link
# to it elsewhere (as /usr/bin/simgpu-run is), and its old name in the build, run.
. "$MPSMIG_SOURCE/tests/lib.sh"

sim a30-seed sh -c 'echo "$SIMGPU_TOPOLOGY"'
check_eq "name resolves to the build's file" "$MPSMIG_BUILD/simgpu/topologies/a30-seed.json" "$out"

sim a30-seed sh -c 'echo "${LD_LIBRARY_PATH%%:*} ${PATH%%:*}"'
check_eq "lib and bin come first" "$MPSMIG_BUILD/simgpu/lib $MPSMIG_BUILD/simgpu/bin" "$out"

sim a30-seed sh -c 'command -v nvidia-smi'
check_eq "nvidia-smi is the double" "$MPSMIG_BUILD/simgpu/bin/nvidia-smi" "$out"

cp "$TOPOLOGIES/h100.json" "$T/mine.json"
(cd "$T" && "$SIMRUN" mine.json -- sh -c 'echo "$SIMGPU_TOPOLOGY"') >"$T/.out"
check_eq "relative path becomes absolute" "$T/mine.json" "$(cat "$T/.out")"

sim a30-seed sh -c 'exit 7'
check_eq "exit status passes through" 7 "$rc"

# exec: the command's pid is the one the caller started
"$SIMRUN" h100 -- sh -c 'echo $$' >"$T/pid" &
started=$!
wait "$started"
check_eq "command keeps the pid" "$started" "$(cat "$T/pid")"

sim no-such-topology true
check_eq "unknown topology exit status" 2 "$rc"
check_contains "unknown topology names it" "no topology 'no-such-topology'" "$err"
check_contains "unknown topology lists known names" "a30-seed" "$err"
check_eq "unknown topology: one line" 1 "$(printf '%s\n' "$err" | wc -l)"

run_capture "$SIMRUN" a30-seed true
check_eq "missing -- is a usage error" 2 "$rc"
run_capture "$SIMRUN"
check_eq "no arguments is a usage error" 2 "$rc"
check_contains "the usage names simgpu-run" "Usage: simgpu-run TOPOLOGY -- COMMAND" "$err"

# A link on PATH elsewhere: simgpu-run follows it to the folder with bin/ and lib/.
mkdir "$T/bin"
ln -s "$SIMRUN" "$T/bin/simgpu-run"
run_capture env PATH="$T/bin:$PATH" simgpu-run a30-seed -- sh -c 'echo "${LD_LIBRARY_PATH%%:*}"'
check_eq "through a link: the build's lib" "$MPSMIG_BUILD/simgpu/lib" "$out"

# The old name in the build folder still works (scripts written for it).
run_capture "$MPSMIG_BUILD/simgpu/run" a30-seed -- sh -c 'echo "$SIMGPU_TOPOLOGY"'
check_eq "build/simgpu/run still runs" "$MPSMIG_BUILD/simgpu/topologies/a30-seed.json" "$out"

# the source copy finds the build through SIMGPU_BUILD_DIR and the topologies beside it
SIMGPU_BUILD_DIR=$MPSMIG_BUILD run_capture "$MPSMIG_SOURCE/simgpu/simgpu-run" h100 -- sh -c 'echo "$SIMGPU_TOPOLOGY ${LD_LIBRARY_PATH%%:*}"'
check_eq "source copy" "$MPSMIG_SOURCE/simgpu/topologies/h100.json $MPSMIG_BUILD/simgpu/lib" "$out"
