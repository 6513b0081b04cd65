#!/bin/bash
# simgpu's h100 topology must list like the real H100 did: `mpsmig list --whole-gpus --json` over
# simgpu against docs/hardware/h100-list.json, which tests/hw/list.sh wrote on the real machine.
# Compared: driver and CUDA versions, GPU count, and per GPU name, memory, SM count, MIG modes and
# compute mode. Not the UUIDs: they differ per machine. Without the kept file this test FAILS.
source "$MPSMIG_SOURCE/tests/lib.sh"
FIELDS=$MPSMIG_SOURCE/tests/integration/list_fields.awk
KEPT=$MPSMIG_SOURCE/docs/hardware/h100-list.json

if [ ! -f "$KEPT" ]; then
        fail "docs/hardware/h100-list.json is missing: run tests/hw/list.sh on the H100 and keep its \$OUT/h100-list.json there"
        exit 1
fi

if awk -f "$FIELDS" "$KEPT" >"$T/real" 2>"$T/real.err"; then
        pass "the kept hardware listing is well-formed"
else
        fail "the kept hardware listing cannot be read: $(cat "$T/real.err")"
fi
check_eq "the kept listing has schema_version 1" 1 \
        "$(awk -F '\t' '$1 == "schema_version" { print $2 }' "$T/real")"

sim h100 "$MPSMIG" list --whole-gpus --json
check_eq "simulated list: exit 0" 0 "$rc"
printf '%s\n' "$out" | awk -f "$FIELDS" >"$T/sim"

# value FILE PATH
value() {
        awk -F '\t' -v path="$2" '$1 == path { print $2 }' "$1"
}

for path in driver_version cuda_version; do
        check_eq "$path" "$(value "$T/real" "$path")" "$(value "$T/sim" "$path")"
done
real_gpus=$(grep -c $'^gpus\.[0-9]*\.index\t' "$T/real")
check_eq "GPU count" "$real_gpus" "$(grep -c $'^gpus\.[0-9]*\.index\t' "$T/sim")"
for ((i = 0; i < real_gpus; i++)); do
        for key in name memory_mib sm_count mig_mode_current mig_mode_pending compute_mode; do
                check_eq "GPU $i $key" "$(value "$T/real" "gpus.$i.$key")" "$(value "$T/sim" "gpus.$i.$key")"
        done
done
