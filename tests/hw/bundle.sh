#!/bin/sh
# Builds what the hardware scripts need into .hw/ (ignored by git) for the device tool to carry:
# mpsmig, mpsmig-probe, the control-client unit test with libcmocka, and a copy of simgpu (with
# libjansson) so simgpu_h100.sh can diff the double against the real driver and bench/ can run
# there; the third-party NVML client (nvml_client.sh) when this machine has Debian's cargo and
# nvml-wrapper; strace when this machine has it (start_trace.sh).
# Then, on the GPU machine: bash tests/hw/all.sh .hw
set -eu
cd "$(dirname "$0")/../.."
cmake -S . -B build-hw -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-hw -j 2 >/dev/null
rm -rf .hw
mkdir -p .hw
cp build-hw/mpsmig build-hw/mpsmig-probe build-hw/tests/unit_driver_test_mps_control .hw/
cp -L /usr/lib/x86_64-linux-gnu/libcmocka.so.0 .hw/
cp -r build-hw/simgpu .hw/simgpu
rm -rf .hw/simgpu/CMakeFiles .hw/simgpu/*.cmake .hw/simgpu/Makefile .hw/simgpu/*.a
cp -L /usr/lib/x86_64-linux-gnu/libjansson.so.4 .hw/simgpu/lib/
# bench/lifecycle.sh reads the build type from the cache of the build it is given.
cp build-hw/CMakeCache.txt .hw/
# Debian's rustc links glibc (and libgcc_s) dynamically, as gcc does for mpsmig: the GPU machine
# runs the bundle's other binaries with its own glibc, so this one runs there too.
if client=$(bash tests/thirdparty/build-nvml-client.sh build-hw); then
        cp "$client" .hw/
fi
# start_trace.sh needs strace, which the GPU machine lacks: this machine's, with its libraries,
# when it has one (run with PATH and LD_LIBRARY_PATH including .hw/tools).
if command -v strace >/dev/null; then
        mkdir -p .hw/tools
        cp -L "$(command -v strace)" .hw/tools/
        ldd "$(command -v strace)" | awk '$3 ~ /^\// && $1 !~ /^lib(c|m|dl|pthread)\.so/ { print $3 }' |
                xargs -r -I{} cp -L {} .hw/tools/
fi
du -sh .hw
