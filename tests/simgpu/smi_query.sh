# simgpu's nvidia-smi --query-gpu: the CSV header, units, noheader/nounits, MIG modes and the
# errors for unknown fields and formats.
. "$MPSMIG_SOURCE/tests/lib.sh"

fields=index,uuid,name,memory.total,pci.bus_id,mig.mode.current,mig.mode.pending,compute_mode

sim h100 nvidia-smi --query-gpu=$fields --format=csv
check_eq "h100 exit status" 0 "$rc"
check_eq "h100 csv" "index, uuid, name, memory.total [MiB], pci.bus_id, mig.mode.current, mig.mode.pending, compute_mode
0, GPU-3ab0472d-bd05-e2d4-148c-43f225223de1, NVIDIA H100 80GB HBM3, 81559 MiB, 00000000:00:06.0, Disabled, Disabled, Default" "$out"

sim h100 nvidia-smi --query-gpu=memory.total,mig.mode.current --format=csv,noheader,nounits
check_eq "h100 noheader,nounits" "81559, Disabled" "$out"

sim a30-seed nvidia-smi --query-gpu=index,pci.bus_id,mig.mode.current,memory.total --format=csv,noheader
check_eq "a30-seed rows" "0, 00000000:17:00.0, Enabled, 24576 MiB
1, 00000000:65:00.0, Disabled, 24576 MiB
2, 00000000:CA:00.0, Disabled, 24576 MiB
3, 00000000:E3:00.0, Disabled, 24576 MiB" "$out"

sim mig-pending nvidia-smi --query-gpu mig.mode.current,mig.mode.pending --format=csv,noheader
check_eq "mig-pending modes" "Disabled, Enabled
Enabled, Disabled" "$out"

# a topology file given by path: a GPU without MIG support answers [N/A]
cat >"$T/nomig.json" <<'JSON'
{"driver": {"loaded": true, "version": "580.159.04", "cuda_version": 13000},
 "gpus": [{"name": "NVIDIA L4", "uuid": "GPU-11111111-2222-3333-4444-555555555555",
           "pci_bus_id": "00000000:01:00.0", "memory_mib": 23034, "sm_count": 58,
           "compute_mode": "Exclusive_Process", "persistence_mode": false}]}
JSON
sim "$T/nomig.json" nvidia-smi --query-gpu=mig.mode.current,compute_mode --format=csv,noheader
check_eq "no MIG support" "[N/A], Exclusive_Process" "$out"

sim h100 nvidia-smi --query-gpu=index,bogus --format=csv
check_eq "unknown field exit status" 2 "$rc"
check_contains "unknown field message" 'Field "bogus" is not a valid field to query.' "$out"

sim h100 nvidia-smi --query-gpu=index
check_eq "missing --format exit status" 2 "$rc"

sim h100 nvidia-smi --query-gpu=index --format=xml
check_eq "bad format exit status" 2 "$rc"

# a broken topology: one line naming the file and the place
printf '{"driver": {"loaded": true,\n  "version": 580}, "gpus": []}\n' >"$T/broken.json"
sim "$T/broken.json" nvidia-smi -L
check_eq "broken topology exit status" 9 "$rc"
check_eq "broken topology message" "simgpu: $T/broken.json:2:14: driver.version: expected a string" "$err"
