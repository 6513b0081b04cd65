#!/bin/sh
# The README's demo: mpsmig on the simulated node of the seed document (an A30 cut into four
# MIG devices), from discovery to a client that provably goes through MPS, then stop.
# It keeps out of the reader's way: its own runtime folder and its own copy of the topology (its
# UUIDs end in random digits, so daemons the reader left running from the README's examples serve
# other devices), and it stops what it started however it ends, Ctrl-C included.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
build=$(cd "$build" && pwd)
mpsmig=$build/mpsmig
probe=$build/mpsmig-probe
# Short names: the runtime folder must leave room for a unix socket path under it.
private=$(mktemp -d "${TMPDIR:-/tmp}/mpsdemo.XXXXXX")
export MPSMIG_RUNTIME_DIR="$private/r"
# Every simulated daemon of this demo ends with this shell, even when it is killed (SIGKILL runs
# no trap): docs/simgpu-mps.md.
export SIMGPU_MPS_EXIT_WITH_PID=$$

# The seed node with private UUIDs: the last 12 hex digits of every UUID are this run's own.
# (MPSMIG_DEMO_TOPOLOGY: another topology file to copy, for tests/integration/demo.sh.)
suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
topology=$private/a30-seed.json
sed -E "s/((GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}/\1$suffix/g" \
        "${MPSMIG_DEMO_TOPOLOGY:-simgpu/topologies/a30-seed.json}" >"$topology"
run="$build/simgpu/run $topology --"

client=
cleanup() {
        status=$?
        trap - EXIT INT TERM HUP
        if [ -n "$client" ]; then
                kill "$client" 2>/dev/null || true
                wait "$client" 2>/dev/null || true
        fi
        $run "$mpsmig" stop >/dev/null 2>&1 || true
        rm -rf "$private"
        exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

phase() {
        printf '\n== %s\n' "$*"
}

step() {
        printf '\n$ mpsmig %s\n' "$*"
        $run "$mpsmig" "$@"
}

printf 'mpsmig demo over simgpu (an A30 with 4 MIG devices; runtime folder %s)\n' \
        "$MPSMIG_RUNTIME_DIR"

phase "1/4 Discover: the GPUs, their MIG devices, and the MPS targets"
step list
step list --whole-gpus --json

phase "2/4 Start one MPS control daemon per MIG device, and ask them"
step start
step status

phase "3/4 Run clients through MPS"
printf '\n$ mpsmig run --on 0:1:0 --threads 50 -- mpsmig-probe\n'
$run "$mpsmig" run --on 0:1:0 --threads 50 -- "$probe"
printf '\n$ mpsmig run -- mpsmig-probe --hold 2 &   (then status shows the client)\n'
$run "$mpsmig" run -- "$probe" --hold 2 >/dev/null &
client=$!
# Until the client is connected (status lists a client pid), at most 2 s.
tries=0
while [ $tries -lt 40 ] && ! $run "$mpsmig" status 2>/dev/null | grep -q ' 1: [0-9]'; do
        sleep 0.05
        tries=$((tries + 1))
done
$run "$mpsmig" status
wait "$client"

phase "4/4 Stop every daemon; a client without a daemon is refused"
step stop
printf '\n$ mpsmig run -- mpsmig-probe   (no daemon: refused instead of silently running without MPS)\n'
$run "$mpsmig" run -- "$probe" || echo "(exit status $?)"

cat <<EOF

== Done: the demo's daemons are stopped and its folders removed. What to try next:
  $build/simgpu/run h100x8-1g -- $mpsmig list     # 8 GPUs, 56 MIG devices
  $build/simgpu/run a30-seed -- $mpsmig help run  # every verb's options: mpsmig help VERB
  make check                                      # every test, as CI runs them
  docs/cli.md (the reference), docs/lifecycle.md (the design), docs/simgpu.md (the double)
EOF
