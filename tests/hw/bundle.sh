#!/bin/sh
# Builds the binaries the hardware scripts need into .hw/ (ignored by git), for the device tool
# to carry: `tests/hw/bundle.sh && <device> bash tests/hw/all.sh .hw`.
set -eu
cd "$(dirname "$0")/../.."
cmake -S . -B build-hw -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-hw -j 2 --target mpsmig mpsmig-probe >/dev/null
rm -rf .hw
mkdir -p .hw
cp build-hw/mpsmig build-hw/mpsmig-probe .hw/
echo "bundle ready in .hw/"
