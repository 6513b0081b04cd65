#!/bin/bash
# Runs the control-program client's unit test (tests/unit/driver/test_mps_control.c) against the
# REAL nvidia-cuda-mps-control on a GPU node: start, overview, setters, a server started and shut
# down, quit, "not running" after quit and after kill -9, refusals. It changes no GPU setting; each
# daemon lives in a fresh private folder and is quit; the script fails if one is left running.
# Usage: tests/hw/mps-control-client.sh BUNDLE_DIR
#   BUNDLE_DIR holds unit_driver_test_mps_control (built in any build folder) and, when the node
#   lacks it, libcmocka.so.0. Writes its transcript to $OUT/mps-control-client.txt when $OUT is set.
set -u
bundle=$(cd "${1:?Usage: tests/hw/mps-control-client.sh BUNDLE_DIR}" && pwd)
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-client-out.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/mps-control-client.txt") 2>&1

test_binary=$bundle/unit_driver_test_mps_control
[ -x "$test_binary" ] || { echo "FAIL: $test_binary is missing"; exit 1; }
control=$(command -v nvidia-cuda-mps-control) || { echo "FAIL: no nvidia-cuda-mps-control on PATH"; exit 1; }
uuid=$(nvidia-smi -L | grep -oE 'GPU-[0-9a-f-]+' | head -1)
[ -n "$uuid" ] || { echo "FAIL: nvidia-smi -L lists no GPU"; exit 1; }
private=$(mktemp -d /tmp/mpsmig-hw-client.XXXXXX)
echo "control program: $control"
echo "device: $uuid"
echo "private folder: $private"

# The test quits every daemon it starts; this reads the environment of every live control daemon
# and server to find one started under the private folder (zombies are gone for this purpose).
leftovers() {
        for pid in $(pgrep -x nvidia-cuda-mps); do
                state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
                [ "$state" = Z ] && continue
                if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null |
                        grep -q "^CUDA_MPS_PIPE_DIRECTORY=$private/"; then
                        echo "$pid"
                fi
        done
}

MPSMIG_MPS_CONTROL=$control MPSMIG_TEST_DEVICE_UUID=$uuid TMPDIR=$private \
        LD_LIBRARY_PATH=$bundle${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$test_binary"
status=$?
echo "test status: $status"

left=$(leftovers)
if [ -n "$left" ]; then
        echo "FAIL: processes left running under $private: $left"
        for pid in $left; do
                pipe=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^CUDA_MPS_PIPE_DIRECTORY=//p')
                echo quit | CUDA_MPS_PIPE_DIRECTORY=$pipe "$control"
        done
        status=1
fi
rm -rf "$private"
exit $status
