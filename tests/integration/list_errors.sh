#!/bin/bash
# `mpsmig list` when things are broken: no driver, a library that is missing or is not NVML, a
# corrupt topology, a lost GPU, an unwritable stdout. Each gives one clear line and the
# documented exit status, and never a crash (the sanitizer build runs this too).
source "$MPSMIG_SOURCE/tests/lib.sh"
LIBRARY=$MPSMIG_BUILD/simgpu/lib/libnvidia-ml.so.1

# check_one_line WHAT: stderr is exactly one line, with the prefix.
check_one_line() {
        check_eq "$1: one line on stderr" 1 "$(printf '%s\n' "$err" | wc -l)"
        check_contains "$1: prefixed" "mpsmig: " "${err:0:8}"
}

# The kernel module is missing (the library loads, nvmlInit says DRIVER_NOT_LOADED).
for json in "" --json; do
        sim driver-missing "$MPSMIG" list $json
        check_eq "driver-missing $json: exit 2" 2 "$rc"
        check_eq "driver-missing $json: message" \
                "mpsmig: cannot initialize NVML: nvmlInit: Driver Not Loaded (is the NVIDIA kernel module loaded?)" \
                "$err"
        check_eq "driver-missing $json: nothing on stdout" "" "$out"
done

# MPSMIG_NVML_LIBRARY names a file that is not there.
run_capture env MPSMIG_NVML_LIBRARY="$T/nowhere/libnvidia-ml.so.1" "$MPSMIG" list
check_eq "missing override: exit 2" 2 "$rc"
check_one_line "missing override"
check_contains "missing override: names the file" "cannot load $T/nowhere/libnvidia-ml.so.1: " "$err"
check_contains "missing override: names the variable" "(named by MPSMIG_NVML_LIBRARY)" "$err"
check_eq "missing override: nothing on stdout" "" "$out"

# No driver installed at all: the default name does not resolve (unless this machine has one).
if ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml\.so\.1 '; then
        echo "note: a real libnvidia-ml.so.1 is installed here; the no-driver case is not run"
else
        run_capture env -u MPSMIG_NVML_LIBRARY -u LD_LIBRARY_PATH "$MPSMIG" list --json
        check_eq "no driver: exit 2" 2 "$rc"
        check_eq "no driver: message" \
                "mpsmig: cannot load libnvidia-ml.so.1: libnvidia-ml.so.1: cannot open shared object file: No such file or directory (is the NVIDIA driver installed?)" \
                "$err"
fi

# A library that is not NVML at all.
run_capture env MPSMIG_NVML_LIBRARY=libc.so.6 "$MPSMIG" list
check_eq "not NVML: exit 2" 2 "$rc"
check_eq "not NVML: message" \
        "mpsmig: cannot use libc.so.6: it has no nvmlInit_v2 (is it NVIDIA's NVML, from driver 450 or newer?)" \
        "$err"

# A truncated topology: simgpu's nvmlInit fails; mpsmig says so in one line and exits 2.
head -c 300 "$TOPOLOGIES/a30-seed.json" >"$T/truncated.json"
sim "$T/truncated.json" "$MPSMIG" list
check_eq "corrupt topology: exit 2" 2 "$rc"
check_eq "corrupt topology: nothing on stdout" "" "$out"
mpsmig_lines=$(printf '%s\n' "$err" | grep -c '^mpsmig: ')
check_eq "corrupt topology: one mpsmig line" 1 "$mpsmig_lines"
check_contains "corrupt topology: nvmlInit named" "mpsmig: cannot initialize NVML: nvmlInit: " "$err"

# A topology file that is not there at all.
sim "$T/absent.json" "$MPSMIG" list
check_eq "absent topology: exit 2 (from simgpu's run)" 2 "$rc"

# A lost GPU: the healthy GPU is listed, the lost one is marked, one line says why, exit 1.
for json in "" --json; do
        sim lost-gpu "$MPSMIG" list --whole-gpus --wide $json
        check_eq "lost GPU $json: exit 1" 1 "$rc"
        check_one_line "lost GPU $json"
        check_contains "lost GPU $json: names GPU 1 and the NVML error" \
                "mpsmig: GPU 1 is lost: nvmlDevice" "$err"
        check_contains "lost GPU $json: the NVML string" "(GPU 1): GPU is lost (it needs a reset or a reboot)" "$err"
        check_contains "lost GPU $json: the healthy GPU is listed" \
                "GPU-434e4ea5-63be-fa43-f283-088940fa7ed2" "$out"
done
sim lost-gpu "$MPSMIG" list --whole-gpus
check_eq "lost GPU: marked in the table" 1 "$(printf '%s\n' "$out" | grep -cE '^GPU 1 +- +lost ')"

# Data that cannot be written is a failure, not silence.
if [ -w /dev/full ]; then
        rc=0
        "$SIMRUN" a30-seed -- "$MPSMIG" list >/dev/full 2>"$T/.err" || rc=$?
        check_eq "stdout full: exit 1" 1 "$rc"
        check_contains "stdout full: says so" "mpsmig: cannot write " "$(cat "$T/.err")"
fi
