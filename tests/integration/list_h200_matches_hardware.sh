#!/bin/bash
# simgpu's h200 topology must read like the real H200 (the device machine) did: the readings
# tests/hw/nvml_client.sh kept in docs/hardware/2026-12-02/ (nvidia-smi -L, nvidia-smi
# --query-gpu, mpsmig list --json and --whole-gpus --json) against the same commands over
# simgpu. Compared: driver and CUDA versions, GPU count, per GPU name, PCI bus id, memory, SM
# count, MIG modes, compute and persistence modes, MIG devices and targets, and the listings'
# text. Never the UUIDs: they differ per board. Without the kept files this test FAILS.
source "$MPSMIG_SOURCE/tests/lib.sh"
FIELDS=$MPSMIG_SOURCE/tests/integration/list_fields.awk
KEPT=$MPSMIG_SOURCE/docs/hardware/2026-12-02
QUERY=index,uuid,name,memory.total,pci.bus_id,mig.mode.current,mig.mode.pending,compute_mode
QUERY=$QUERY,persistence_mode,driver_version,count

for file in h200-nvidia-smi-L.txt h200-query-gpu.csv h200-list-mig.json h200-list-whole-gpus.json; do
        if [ ! -s "$KEPT/$file" ]; then
                fail "docs/hardware/2026-12-02/$file is missing: run tests/hw/nvml_client.sh on the H200 and keep its output there"
                exit 1
        fi
done

# without_uuids: every GPU or MIG UUID as GPU-<uuid> / MIG-<uuid>
without_uuids() {
        sed -E 's/(GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/\1-<uuid>/g'
}

sim h200 nvidia-smi -L
check_eq "nvidia-smi -L: exit 0" 0 "$rc"
check_eq "nvidia-smi -L: the same listing, UUIDs aside" "$(without_uuids <"$KEPT/h200-nvidia-smi-L.txt")" \
        "$(printf '%s\n' "$out" | without_uuids)"

sim h200 nvidia-smi --query-gpu="$QUERY" --format=csv
check_eq "nvidia-smi --query-gpu: exit 0" 0 "$rc"
check_eq "nvidia-smi --query-gpu: the same header and values, UUIDs aside" \
        "$(without_uuids <"$KEPT/h200-query-gpu.csv")" "$(printf '%s\n' "$out" | without_uuids)"

# value FILE PATH
value() {
        awk -F '\t' -v path="$2" '$1 == path { print $2 }' "$1"
}

# compare_list KEPT_FILE [OPTION...]: `mpsmig list --json [OPTION...]` over simgpu against the
# kept JSON. The kept file holds stdout and stderr together (the device run kept both): a line
# before the JSON is mpsmig's message on stderr.
compare_list() {
        local kept=$1 what
        shift
        what="list --json${*:+ $*}"
        sed -n '/^{$/,$p' "$KEPT/$kept" | awk -f "$FIELDS" >"$T/real" 2>"$T/real.err" ||
                fail "$what: the kept $kept cannot be read: $(cat "$T/real.err")"
        sim h200 "$MPSMIG" list --json "$@"
        check_eq "$what: exit 0" 0 "$rc"
        check_eq "$what: the message on stderr" "$(sed -n '/^{$/q;p' "$KEPT/$kept")" "$err"
        printf '%s\n' "$out" | awk -f "$FIELDS" >"$T/sim"
        for path in schema_version driver_version cuda_version whole_gpus; do
                check_eq "$what: $path" "$(value "$T/real" "$path")" "$(value "$T/sim" "$path")"
        done
        check_eq "$what: GPU count" "$(grep -c $'^gpus\\.[0-9]*\\.index\t' "$T/real")" \
                "$(grep -c $'^gpus\\.[0-9]*\\.index\t' "$T/sim")"
        for key in name pci_bus_id lost error mig_mode_current mig_mode_pending compute_mode \
                sm_count memory_mib mig_devices; do
                check_eq "$what: GPU 0 $key" "$(value "$T/real" "gpus.0.$key")" "$(value "$T/sim" "gpus.0.$key")"
        done
        check_eq "$what: as many targets" "$(grep -c '^targets' "$T/real")" "$(grep -c '^targets' "$T/sim")"
}
compare_list h200-list-mig.json
compare_list h200-list-whole-gpus.json --whole-gpus
