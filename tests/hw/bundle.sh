#!/bin/sh
# Builds what the hardware scripts need into .hw/ (ignored by git) for the device tool to carry:
# mpsmig, mpsmig-probe, the control-client unit test with libcmocka, and a copy of simgpu (with
# libjansson) so simgpu_h100.sh can diff the double against the real driver.
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
du -sh .hw
