#!/bin/bash
# `cmake --install` to a prefix gives a working mpsmig and a self-contained simgpu beside it.
. "$MPSMIG_SOURCE/tests/lib.sh"

prefix=$T/prefix
run_capture cmake --install "$MPSMIG_BUILD" --prefix "$prefix"
check_eq "install: exit 0" 0 "$rc"
for file in bin/mpsmig bin/mpsmig-probe libexec/mpsmig/simgpu/run \
        libexec/mpsmig/simgpu/lib/libnvidia-ml.so.1 libexec/mpsmig/simgpu/lib/libcuda.so.1 \
        libexec/mpsmig/simgpu/bin/nvidia-cuda-mps-control libexec/mpsmig/simgpu/bin/nvidia-smi \
        libexec/mpsmig/simgpu/topologies/a30-seed.json; do
        [ -e "$prefix/$file" ] && pass "installed: $file" || fail "installed: $file"
done

run_capture "$prefix/libexec/mpsmig/simgpu/run" a30-seed -- "$prefix/bin/mpsmig" list --json
check_eq "installed mpsmig over installed simgpu: exit 0" 0 "$rc"
check_contains "the seed's first MIG device" "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0" "$out"
run_capture "$prefix/bin/mpsmig" --version
check_contains "version" "mpsmig " "$out"
