#!/bin/bash
# simgpu's libcuda through mpsmig-probe, without MPS: one device per CUDA_VISIBLE_DEVICES entry
# (GPU or MIG UUIDs, unique prefixes, indexes) with the topology's name, SMs and memory, the
# real driver's handling of unknown entries, silence without a daemon, and the probe's own
# options, output formats and exit statuses.
. "$MPSMIG_SOURCE/tests/lib.sh"

# A pipe folder with no daemon behind it: the client must run without MPS and say nothing.
export CUDA_MPS_PIPE_DIRECTORY=$T/no-daemon
mkdir -p "$CUDA_MPS_PIPE_DIRECTORY"

A30_MIG0=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0
A30_MIG3=MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733
A30_GPU0=GPU-8f8bff94-112e-9541-43da-cfd453333404 # MIG enabled: no CUDA device itself
A30_GPU1=GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38
A30_GPU2=GPU-a90c6e94-391e-0fc3-8fc5-e2ef46ec6d2d
A30_GPU3=GPU-46d1eefe-dfc8-2f00-16a9-95c08e019d47
H100=GPU-3ab0472d-bd05-e2d4-148c-43f225223de1
NO_DEVICE="mpsmig-probe: cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)"

# probe TOPOLOGY VISIBLE ARGS...: the probe with CUDA_VISIBLE_DEVICES=VISIBLE ("-" leaves it unset)
probe() {
        topology=$1
        visible=$2
        shift 2
        if [ "$visible" = - ]; then
                sim "$topology" env -u CUDA_VISIBLE_DEVICES "$PROBE" "$@"
        else
                sim "$topology" env CUDA_VISIBLE_DEVICES="$visible" "$PROBE" "$@"
        fi
}
# field KEY: the values of "  KEY: value" lines in $out, one a line
field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p"; }

# --- every GPU with MIG disabled when CUDA_VISIBLE_DEVICES is unset
probe a30-seed -
check_eq "unset: exit 0" 0 "$rc"
check_eq "unset: nothing on stderr" "" "$err"
check_eq "unset: the three GPUs without MIG" "3" "$(field device_count)"
check_eq "unset: their UUIDs in order" "$A30_GPU1 $A30_GPU2 $A30_GPU3" "$(field uuid | tr '\n' ' ' | sed 's/ $//')"
check_eq "unset: 56 SMs each" "56 56 56" "$(field sm_count | tr '\n' ' ' | sed 's/ $//')"
check_eq "unset: 24576 MiB each" "25769803776" "$(field total_memory | sort -u)"
check_eq "unset: the kernel ran on each" "ok ok ok" "$(field kernel | tr '\n' ' ' | sed 's/ $//')"
check_eq "unset: driver's CUDA version" "12030" "$(field cuda_driver_version)"
check_eq "unset: the pid line is the probe's own" "1" "$(field pid | grep -c '^[0-9][0-9]*$')"

# --- one MIG device by UUID: its own name, UUID, SMs and memory
probe a30-seed "$A30_MIG0"
check_eq "MIG UUID: exit 0" 0 "$rc"
check_eq "MIG UUID: one device" "1" "$(field device_count)"
check_eq "MIG UUID: name" "NVIDIA A30 MIG 1c.2g.12gb" "$(field name)"
check_eq "MIG UUID: uuid" "$A30_MIG0" "$(field uuid)"
check_eq "MIG UUID: 14 SMs" "14" "$(field sm_count)"
check_eq "MIG UUID: 11968 MiB" "$((11968 * 1024 * 1024))" "$(field total_memory)"
check_eq "MIG UUID: kernel" "ok" "$(field kernel)"

probe a30-seed "$A30_GPU2"
check_eq "GPU UUID: the GPU itself" "$A30_GPU2 56" "$(field uuid) $(field sm_count)"

probe a30-seed "GPU-a90c"
check_eq "a unique UUID prefix names the GPU" "0 $A30_GPU2" "$rc $(field uuid)"
probe a30-seed "$A30_MIG3,$A30_GPU1"
check_eq "a MIG device and a GPU, in the order given" "$A30_MIG3 $A30_GPU1" \
        "$(field uuid | tr '\n' ' ' | sed 's/ $//')"
probe a30-seed "$A30_MIG0,$A30_MIG3"
check_eq "only one MIG device is enumerated" "1 $A30_MIG0" "$(field device_count) $(field uuid)"
probe a30-seed "2,1"
check_eq "indexes: nvidia-smi's GPU numbers, in the order given" "$A30_GPU2 $A30_GPU1" \
        "$(field uuid | tr '\n' ' ' | sed 's/ $//')"

# --- entries the driver does not know: the list stops there; nothing left fails cuInit
probe a30-seed "GPU-deadbeef-0000-0000-0000-000000000000"
check_eq "unknown UUID: exit 1" 1 "$rc"
check_eq "unknown UUID: the cuInit error" "$NO_DEVICE" "$err"
check_contains "unknown UUID: stdout says it failed" "status: failed" "$out"
probe a30-seed "$A30_GPU1,GPU-deadbeef,$A30_GPU3"
check_eq "the list stops at an unknown entry" "0 1 $A30_GPU1" "$rc $(field device_count) $(field uuid)"
probe a30-seed "$A30_GPU0"
check_eq "a GPU in MIG mode is no CUDA device" "1 $NO_DEVICE" "$rc $err"
probe a30-seed "0"
check_eq "index of a GPU in MIG mode" "1 $NO_DEVICE" "$rc $err"
probe a30-seed "GPU-"
check_eq "an ambiguous prefix" "1 $NO_DEVICE" "$rc $err"
probe a30-seed ""
check_eq "an empty CUDA_VISIBLE_DEVICES" "1 $NO_DEVICE" "$rc $err"
probe no-gpu -
check_eq "no GPU at all" "1 $NO_DEVICE" "$rc $err"
probe driver-missing -
check_eq "driver not loaded" "1 $NO_DEVICE" "$rc $err"

# --- the H100 as read on the device machine
probe h100 "$H100"
check_eq "h100: name" "NVIDIA H100 80GB HBM3" "$(field name)"
check_eq "h100: 132 SMs" "132" "$(field sm_count)"
check_eq "h100: 81559 MiB" "$((81559 * 1024 * 1024))" "$(field total_memory)"
check_eq "h100: CUDA 13.0 driver" "13000" "$(field cuda_driver_version)"

# --- without a daemon the MPS variables change nothing, and nobody says a word
sim a30-seed env CUDA_VISIBLE_DEVICES="$A30_MIG0" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25 \
        CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G "$PROBE" --alloc 3G
check_eq "no daemon: exit 0" 0 "$rc"
check_eq "no daemon: all SMs despite 25 %" "14" "$(field sm_count)"
check_eq "no daemon: 3G allocated despite a 2G limit" "ok (3221225472 bytes)" "$(field alloc)"
check_eq "no daemon: silent" "" "$err"
sim a30-seed env CUDA_VISIBLE_DEVICES="$A30_MIG0" CUDA_MPS_PIPE_DIRECTORY="$T/missing" "$PROBE"
check_eq "pipe folder missing: runs, silent" "0 14 " "$rc $(field sm_count) $err"
: >"$T/no-daemon/control" # a stale file where the socket was
probe a30-seed "$A30_MIG0"
check_eq "stale control file: runs, silent" "0 14 " "$rc $(field sm_count) $err"

# --- device memory bounds an allocation
probe a30-seed "$A30_MIG0" --alloc 12G
check_eq "12G on an 11968 MiB device: exit 3" 3 "$rc"
check_eq "12G: the CUresult name" "CUDA_ERROR_OUT_OF_MEMORY (12884901888 bytes)" "$(field alloc)"
check_eq "12G: stderr names the refusal" \
        "mpsmig-probe: the allocation of 12884901888 bytes was refused: CUDA_ERROR_OUT_OF_MEMORY" "$err"
probe a30-seed "$A30_MIG0" --alloc 11G
check_eq "11G fits" "0 ok (11811160064 bytes)" "$rc $(field alloc)"

# --- --device
probe a30-seed - --device 1
check_eq "--device 1: only that device" "device 1: $A30_GPU2" "$(printf '%s\n' "$out" | grep '^device ') $(field uuid)"
probe a30-seed - --device 3
check_eq "--device past the last: exit 1" 1 "$rc"
check_eq "--device past the last: the cuDeviceGet error" \
        "mpsmig-probe: cuDeviceGet failed: CUDA_ERROR_INVALID_DEVICE (invalid device ordinal)" "$err"

# --- JSON: one object on one line, strings quoted
probe a30-seed "$A30_MIG0,$A30_GPU1" --json --alloc 1G
check_eq "json: exit 0" 0 "$rc"
check_eq "json: one line" "1" "$(printf '%s\n' "$out" | wc -l)"
check_contains "json: first device" \
        "{\"index\":0,\"name\":\"NVIDIA A30 MIG 1c.2g.12gb\",\"uuid\":\"$A30_MIG0\",\"sm_count\":14,\"total_memory\":12549357568,\"kernel\":\"ok\",\"alloc\":{\"bytes\":1073741824,\"result\":\"ok\"}}" "$out"
check_contains "json: second device" "{\"index\":1,\"name\":\"NVIDIA A30\",\"uuid\":\"$A30_GPU1\"" "$out"
check_contains "json: counts" "\"cuda_driver_version\":12030,\"device_count\":2," "$out"
check_contains "json: status last" ",\"status\":\"ok\"}" "$out"
probe a30-seed "nothing" --json
check_eq "json on failure: exit 1" 1 "$rc"
check_contains "json on failure: the count is null" "\"device_count\":null,\"devices\":[]" "$out"
check_contains "json on failure: the error" \
        "\"status\":\"failed\",\"error\":\"cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)\"}" "$out"

# --- usage errors: one line, the hint, exit 2
for args in "--alloc" "--alloc 0" "--alloc 3X" "--alloc -1" "--hold abc" "--hold -1" \
        "--device x" "--device -1" "--bogus" "extra"; do
        # shellcheck disable=SC2086
        probe a30-seed - $args
        check_eq "usage '$args': exit 2" 2 "$rc"
        check_eq "usage '$args': the hint" "Try 'mpsmig-probe --help'." "$(printf '%s\n' "$err" | tail -1)"
        check_eq "usage '$args': two lines" "2" "$(printf '%s\n' "$err" | wc -l)"
done
probe a30-seed - --alloc 3X
check_eq "usage: the specific line" "mpsmig-probe: --alloc wants a size like 1024, 512M or 3G, not '3X'" \
        "$(printf '%s\n' "$err" | head -1)"
probe a30-seed - --help
check_eq "--help: exit 0" 0 "$rc"
check_contains "--help: the options" "--hold SECONDS" "$out"

# --- no libcuda: one clear line, exit 2
rc=0
env -u LD_LIBRARY_PATH MPSMIG_CUDA_LIBRARY="$T/libcuda.so.1" "$PROBE" >"$T/.out" 2>"$T/.err" || rc=$?
check_eq "no libcuda: exit 2" 2 "$rc"
check_eq "no libcuda: one line" "1" "$(wc -l <"$T/.err")"
check_contains "no libcuda: names the library" "cannot load the CUDA driver library $T/libcuda.so.1" \
        "$(cat "$T/.err")"
check_eq "no libcuda: nothing on stdout" "" "$(cat "$T/.out")"
sim a30-seed env MPSMIG_CUDA_LIBRARY="$MPSMIG_BUILD/simgpu/lib/libcuda.so.1" "$PROBE" --device 0
check_eq "MPSMIG_CUDA_LIBRARY names the library" "0 $A30_GPU1" "$rc $(field uuid)"
