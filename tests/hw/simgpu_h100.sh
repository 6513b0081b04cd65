#!/bin/bash
# Compares simgpu's `h100` topology with the real H100: the same read-only nvidia-smi commands
# on the real driver and, when the bundle carries simgpu (BUNDLE/simgpu/run with bin/, lib/ and
# libjansson.so.4 in lib/), under `simgpu/run h100`, then a diff. Changes no GPU setting.
# Usage: tests/hw/simgpu_h100.sh [BUNDLE_DIR]   (writes $OUT/simgpu_h100.txt when $OUT is set)
set -u
out=${OUT:-/tmp}/simgpu_h100.txt
exec > >(tee "$out") 2>&1
bundle=${1:-}
work=$(mktemp -d /tmp/mpsmig-simgpu-h100.XXXXXX)
trap 'rm -rf "$work"' EXIT

fields=index,uuid,name,memory.total,pci.bus_id,mig.mode.current,mig.mode.pending,compute_mode
commands=(
        "-L"
        "--query-gpu=$fields --format=csv"
        "--query-gpu=$fields --format=csv,noheader"
        "--query-gpu=$fields --format=csv,noheader,nounits"
        "--query-gpu=$fields --format=csv,nounits"
        "--query-gpu=persistence_mode,driver_version,count --format=csv"
        "--query-gpu=gpu_uuid,gpu_name,gpu_bus_id --format=csv"
        "--query-gpu=index,bogus --format=csv"
        "--query-gpu=index --format=xml"
        "--query-gpu=index"
)

# Runs every command with PREFIX (empty, or the simgpu wrapper), one block each: the command,
# its stdout and stderr verbatim, and its exit status.
transcript() {
        for c in "${commands[@]}"; do
                echo "\$ nvidia-smi $c"
                # shellcheck disable=SC2086 # the options are meant to split
                "$@" nvidia-smi $c 2>&1
                echo "[status $?]"
        done
}

echo "### real driver"
transcript | tee "$work/real"

if [ -n "$bundle" ] && [ -x "$bundle/simgpu/run" ]; then
        echo
        echo "### simgpu h100"
        transcript "$bundle/simgpu/run" h100 -- | tee "$work/sim"
        echo
        echo "### diff real simgpu"
        if diff "$work/real" "$work/sim"; then
                echo "identical"
        else
                echo "differences above (< real, > simgpu)"
        fi
else
        echo "### no simgpu in the bundle: real transcript only"
fi
