#!/bin/bash
# Checks `mpsmig list` against nvidia-smi on a real GPU node: per GPU the UUID, name, memory, MIG
# modes and compute mode, the SM count (132 on an H100, docs/driver-facts-mig-profiles.md), every MIG device's profile
# and UUID, and the targets; one "agree" or "DISAGREE: ..." line each. Read-only: it changes no
# GPU setting and starts no daemon.
# Usage: tests/hw/list.sh PATH_TO_MPSMIG
# Writes its transcript to $OUT/list.txt and mpsmig's JSON to $OUT/h100-list.json (kept as
# docs/hardware/h100-list.json and 2026-12-02/h200-list.json; the test comparing simgpu with the
# machine, tests/integration/list_h200_matches_hardware.sh, reads tests/hw/nvml_client.sh's).
set -u
mpsmig=${1:?Usage: tests/hw/list.sh PATH_TO_MPSMIG}
here=$(cd "$(dirname "$0")" && pwd)
fields_awk=$here/../integration/list_fields.awk
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-list.XXXXXX)}
mkdir -p "$out_dir"
json_file=$out_dir/h100-list.json
exec > >(tee "$out_dir/list.txt") 2>&1

say() { printf '\n### %s\n' "$*"; }
agreed=0
disagreed=0
agree() {
        agreed=$((agreed + 1))
        echo "agree: $1"
}
disagree() {
        disagreed=$((disagreed + 1))
        echo "DISAGREE: $1"
}
# same WHAT MPSMIG_VALUE NVIDIA_SMI_VALUE
same() {
        if [ "$2" = "$3" ]; then
                agree "$1: $2"
        else
                disagree "$1: mpsmig '$2', nvidia-smi '$3'"
        fi
}
# field PATH: one value of mpsmig's JSON ("" when absent).
field() {
        awk -F '\t' -v path="$1" '$1 == path { print $2 }' "$out_dir/fields"
}

say "system"
uname -r
"$mpsmig" --version
nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1

say "mpsmig list --whole-gpus"
"$mpsmig" list --whole-gpus
echo "[exit $?]"

say "mpsmig list --whole-gpus --json"
"$mpsmig" list --whole-gpus --json >"$json_file"
json_rc=$?
cat "$json_file"
echo "[exit $json_rc]"
if [ "$json_rc" -eq 0 ]; then
        agree "list --whole-gpus --json exit status 0"
else
        disagree "list --whole-gpus --json exit status $json_rc, expected 0"
fi
if awk -f "$fields_awk" "$json_file" >"$out_dir/fields"; then
        agree "the JSON is well-formed"
else
        disagree "the JSON could not be read (above)"
fi

say "nvidia-smi -L"
nvidia-smi -L | tee "$out_dir/smi-L.txt"

say "nvidia-smi --query-gpu"
nvidia-smi --query-gpu=index,uuid,name,memory.total,mig.mode.current,mig.mode.pending,compute_mode,pci.bus_id \
        --format=csv | tee "$out_dir/smi-query.csv"

say "comparison"
same "driver version" "$(field driver_version)" \
        "$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
gpu_count=$(($(wc -l <"$out_dir/smi-query.csv") - 1))
json_gpus=$(grep -c $'^gpus\.[0-9]*\.index\t' "$out_dir/fields")
same "GPU count" "$json_gpus" "$gpu_count"

# nvidia-smi words: "Enabled"/"Disabled", "[N/A]" on a GPU without MIG.
mig_word() {
        case $1 in
        Enabled) echo enabled ;;
        Disabled) echo disabled ;;
        *N/A*) echo unsupported ;;
        *) echo "$1" ;;
        esac
}

while IFS=, read -r index uuid name memory current pending compute bus_id; do
        index=${index# } uuid=${uuid# } name=${name# } memory=${memory# }
        current=${current# } pending=${pending# } compute=${compute# } bus_id=${bus_id# }
        g=gpus.$index
        same "GPU $index uuid" "$(field "$g.uuid")" "$uuid"
        same "GPU $index PCI bus id" "$(field "$g.pci_bus_id")" "$bus_id"
        same "GPU $index name" "$(field "$g.name")" "$name"
        same "GPU $index memory MiB" "$(field "$g.memory_mib")" "${memory% MiB}"
        same "GPU $index MIG mode current" "$(field "$g.mig_mode_current")" "$(mig_word "$current")"
        same "GPU $index MIG mode pending" "$(field "$g.mig_mode_pending")" "$(mig_word "$pending")"
        if [ "$(field "$g.compute_mode")" = null ]; then
                # NVML answers compute mode for MIG devices only once MIG is on (docs/json.md)
                echo "note: GPU $index compute mode not known to mpsmig; nvidia-smi says $compute"
        else
                same "GPU $index compute mode" "$(field "$g.compute_mode")" "$compute"
        fi
        case $name in
        *H100* | *H200*) same "GPU $index SM count (132 on an H100 and an H200: docs/driver-facts.md)" \
                "$(field "$g.sm_count")" 132 ;;
        *) echo "note: GPU $index SM count $(field "$g.sm_count"): no recorded fact for $name" ;;
        esac
        if [ "$(field "$g.mig_mode_current")" != enabled ]; then
                if grep -qx "$uuid" <(awk -F '\t' '$1 ~ /^targets\./ { print $2 }' "$out_dir/fields"); then
                        agree "GPU $index is a whole-GPU target"
                else
                        disagree "GPU $index has MIG off but is not in targets[] with --whole-gpus"
                fi
        fi
done < <(tail -n +2 "$out_dir/smi-query.csv")

# MIG devices: "  MIG 1g.10gb     Device  0: (UUID: MIG-...)" under "GPU N: ...".
awk '/^GPU [0-9]+:/ { gpu = $2; sub(/:$/, "", gpu) }
     /^  MIG / { device = $4; sub(/:$/, "", device); uuid = $NF; sub(/\)$/, "", uuid)
                 print gpu, device, $2, uuid }' "$out_dir/smi-L.txt" >"$out_dir/smi-mig.txt"
same "MIG device count" "$(grep -c $'^gpus\.[0-9]*\.mig_devices\.[0-9]*\.uuid\t' "$out_dir/fields")" \
        "$(wc -l <"$out_dir/smi-mig.txt")"
while read -r gpu device profile uuid; do
        position=$(awk -F '\t' -v want="$device" -v prefix="gpus.$gpu.mig_devices." \
                'index($1, prefix) == 1 && $1 ~ /\.index$/ && $2 == want {
                        p = substr($1, length(prefix) + 1); sub(/\..*/, "", p); print p }' \
                "$out_dir/fields")
        m=gpus.$gpu.mig_devices.$position
        same "GPU $gpu MIG device $device uuid" "$(field "$m.uuid")" "$uuid"
        same "GPU $gpu MIG device $device profile" "$(field "$m.profile")" "$profile"
done <"$out_dir/smi-mig.txt"

say "summary"
echo "$agreed agree, $disagreed DISAGREE"
[ "$disagreed" -eq 0 ]
