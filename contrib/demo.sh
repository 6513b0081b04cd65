#!/bin/sh
# The README's demo: mpsmig on the simulated node of the seed document (an A30 cut into four
# MIG devices), from discovery to a client that provably goes through MPS, then stop.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
build=$(cd "$build" && pwd)
run="$build/simgpu/run a30-seed --"
runtime=$(mktemp -d "${TMPDIR:-/tmp}/mpsmig-demo.XXXXXX")
export MPSMIG_RUNTIME_DIR="$runtime/run"
cleanup() {
        $run "$build/mpsmig" stop >/dev/null 2>&1 || true
        rm -rf "$runtime"
}
trap cleanup EXIT

step() {
        printf '\n$ %s\n' "$*"
        $run "$@"
}

step "$build/mpsmig" list
step "$build/mpsmig" list --whole-gpus --json
step "$build/mpsmig" start
step "$build/mpsmig" status
step "$build/mpsmig" run --on 0:1:0 --threads 50 -- "$build/mpsmig-probe"
printf '\n$ mpsmig run -- mpsmig-probe --hold 2 &   (then status shows the client)\n'
$run "$build/mpsmig" run -- "$build/mpsmig-probe" --hold 2 >/dev/null &
sleep 1
$run "$build/mpsmig" status
wait
step "$build/mpsmig" stop
printf '\n$ mpsmig run -- mpsmig-probe   (no daemon: refused instead of silently running without MPS)\n'
$run "$build/mpsmig" run -- "$build/mpsmig-probe" || echo "(exit status $?)"
