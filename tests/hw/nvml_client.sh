#!/bin/bash
# Reads the real GPU the way simgpu's `h200` topology is checked against it: the third-party
# NVML client (tests/thirdparty/nvml-client, built here by bundle.sh), nvidia-smi -L and
# --query-gpu, and mpsmig list --json. Read-only: it changes no GPU setting and starts no daemon.
# Usage: tests/hw/nvml_client.sh BUNDLE_DIR
# Writes to $OUT: nvml-client.txt (the transcript: system, glibc, the binary's libraries, every
# nvidia-smi field one by one), nvml-client-h200.txt (the client's output, compared with simgpu
# by tests/simgpu/nvml_client_h200.sh), nvml-client-beyond.txt (what simgpu does not model),
# nvidia-smi-L.txt, query-gpu.csv, list.json and list-whole-gpus.json (compared by
# tests/integration/list_h200_matches_hardware.sh). Keep them in docs/hardware/<date>/.
set -u
bundle=$(cd "${1:?Usage: tests/hw/nvml_client.sh BUNDLE_DIR}" && pwd)
out_dir=${OUT:-$(mktemp -d /tmp/mpsmig-hw-nvml-client.XXXXXX)}
mkdir -p "$out_dir"
exec > >(tee "$out_dir/nvml-client.txt") 2>&1
client=$bundle/nvml-client

say() { printf '\n### %s\n' "$*"; }

say "system"
uname -r
ldd --version 2>&1 | head -1
nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1

say "ldd nvml-client"
ldd "$client"
if ldd "$client" | grep -q 'not found'; then
        echo "a library is missing: the client cannot run here"
fi

say "nvml-client"
timeout 60 "$client" >"$out_dir/nvml-client-h200.txt" 2>&1
echo "[exit $?, $(wc -l <"$out_dir/nvml-client-h200.txt") lines in nvml-client-h200.txt]"
grep -c FailedToLoadSymbol "$out_dir/nvml-client-h200.txt" | sed 's/^/FailedToLoadSymbol lines: /'

say "nvml-client --beyond-simgpu"
timeout 60 "$client" --beyond-simgpu >"$out_dir/nvml-client-beyond.txt" 2>&1
echo "[exit $?, $(wc -l <"$out_dir/nvml-client-beyond.txt") lines in nvml-client-beyond.txt]"

say "nvidia-smi -L"
nvidia-smi -L >"$out_dir/nvidia-smi-L.txt" 2>&1
echo "[exit $?]"
cat "$out_dir/nvidia-smi-L.txt"

# The fields simgpu's nvidia-smi answers, in one query.
fields=index,uuid,name,memory.total,pci.bus_id,mig.mode.current,mig.mode.pending,compute_mode
fields=$fields,persistence_mode,driver_version,count
say "nvidia-smi --query-gpu=$fields --format=csv"
nvidia-smi --query-gpu="$fields" --format=csv >"$out_dir/query-gpu.csv" 2>&1
echo "[exit $?]"
cat "$out_dir/query-gpu.csv"

# More fields, one query each so that one the driver does not know spoils no other.
say "nvidia-smi --query-gpu=FIELD --format=csv,noheader, one field at a time"
for field in compute_cap serial vbios_version inforom.img pci.device_id pci.sub_device_id \
        pcie.link.gen.current pcie.link.gen.max pcie.link.width.current pcie.link.width.max \
        memory.reserved memory.used memory.free temperature.gpu power.draw power.limit \
        power.default_limit power.max_limit enforced.power.limit clocks.gr clocks.sm clocks.mem \
        clocks.video clocks.max.gr clocks.max.sm clocks.max.mem ecc.mode.current \
        ecc.mode.pending fan.speed utilization.gpu utilization.memory pstate; do
        printf '%s: %s\n' "$field" "$(nvidia-smi --query-gpu="$field" --format=csv,noheader 2>&1)"
done

say "mpsmig list --json"
"$bundle/mpsmig" list --json >"$out_dir/list.json" 2>&1
echo "[exit $?]"
cat "$out_dir/list.json"

say "mpsmig list --whole-gpus --json"
"$bundle/mpsmig" list --whole-gpus --json >"$out_dir/list-whole-gpus.json" 2>&1
echo "[exit $?]"
cat "$out_dir/list-whole-gpus.json"

say "nvidia-smi -q"
nvidia-smi -q 2>&1
echo "[exit $?]"
