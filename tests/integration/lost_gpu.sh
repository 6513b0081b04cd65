#!/bin/bash
# A GPU is lost while daemons run on it and on the others (NVML answers GPU_IS_LOST, even for its
# handle): every verb still serves the healthy GPUs. list and status show the lost GPU as a row
# with its PCI bus id (from the driver's GPU folder); status shows the lost GPU's MIG daemons as
# orphans and exits 1; env and run work on a healthy GPU; start serves the healthy targets and
# exits 1 naming the lost GPU, and naming it as a TARGET is a clear error; the node cache is
# removed rather than trusted; stop ends every daemon of the layout, the lost GPU's included (one
# of them hangs on quit and is escalated on), while several `status --json` run at once.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
fake_nvidia_gpus
run=$MPSMIG_RUNTIME_DIR
GPU1=$(grep -oE '"GPU-[0-9a-f-]{36}"' "$topology" | tr -d '"' | sed -n 2p)

SIMGPU_MPS_HANG_ON_QUIT=$UUID1 m start --wide --whole-gpus
check_eq "start --whole-gpus on a healthy node: exit 0" 0 "$rc"
check_eq "start: seven daemons" 7 "$(daemons | wc -l)"
hung=$(daemons "$UUID1")
lose_gpu 0

# --- list: the lost GPU is a row with its bus id; the others are listed
m list --whole-gpus
check_eq "list: exit 1" 1 "$rc"
check_eq "list: the lost GPU's row names its bus id" 1 "$(grep -cE '^GPU 0 +PCI 00000000:17:00.0 +lost ' <<<"$out")"
check_eq "list: three healthy GPUs, targets" 3 "$(grep -cE '^GPU [123] .* target ' <<<"$out")"
check_contains "list: stderr names the GPU and its bus id" \
        "mpsmig: GPU 0 (PCI 00000000:17:00.0) is lost: nvmlDeviceGetHandleByIndex(GPU 0): GPU is lost" "$err"
m list --json
check_contains "list --json: the lost GPU's bus id" '"pci_bus_id": "00000000:17:00.0",
      "lost": true' "$out"

# --- status: whole GPUs running, the lost GPU's MIG daemons orphaned, the lost GPU a row
m status --wide
check_eq "status: exit 1 (a lost GPU)" 1 "$rc"
check_eq "status: the three whole GPUs run" 3 "$(grep -cE '^[123] +GPU-[0-9a-f-]+ +running ' <<<"$out")"
check_eq "status: four orphans" 4 "$(grep -cE '^- +MIG-[0-9a-f-]+ +(running|not answering) \(orphaned: device gone\)' <<<"$out")"
check_eq "status: the lost GPU's row" 1 "$(grep -cE '^0 +- +gpu lost at 00000000:17:00.0 ' <<<"$out")"
check_contains "status: the summary" "7 running, 1 gpu lost, 4 orphaned" "$out"
check_contains "status: a note on the lost GPU" "mpsmig: GPU 0 (PCI 00000000:17:00.0) is lost" "$err"
check_contains "status: a note per orphan" "mpsmig: $UUID2: NVML no longer lists this device" "$err"
m status --json
check_contains "status --json: the lost GPU" '"kind": "lost_gpu"' "$out"
check_contains "status --json: its bus id" '"pci_bus_id": "00000000:17:00.0"' "$out"
check_eq "status --json: four orphans" 4 "$(grep -c '"notes": "orphaned: device gone"' <<<"$out")"
m status --wide 1
check_eq "status of a healthy GPU: exit 0" 0 "$rc"

# --- env and run on a healthy GPU
m env 1
check_eq "env 1: exit 0" 0 "$rc"
check_contains "env 1: its pipe folder" "CUDA_MPS_PIPE_DIRECTORY=$run/$GPU1/pipe" "$out"
m run --on 1 -- sh -c 'echo "$CUDA_VISIBLE_DEVICES"'
check_eq "run --on 1: exit 0" 0 "$rc"
check_eq "run --on 1: the GPU" "$GPU1" "$out"

# --- start: healthy targets served, the lost GPU named, exit 1; naming it is a clear error
# The node cache still lists GPU 0's MIG devices: their daemons (orphans now) are left alone.
check_eq "the node cache lists a lost GPU's device" 1 "$(grep -c "$UUID0" "$run/node.json")"
m start --wide --whole-gpus
check_eq "start: exit 1" 1 "$rc"
check_eq "start: three already running" 3 "$(rows 'already running' "$out")"
check_not_contains "start: nothing withdrawn" "node cache" "$err"
check_eq "start: the orphans' daemons untouched" 7 "$(daemons | wc -l)"
check_contains "start: names the lost GPU" \
        "mpsmig: GPU 0 (PCI 00000000:17:00.0) is lost: nvmlDeviceGetHandleByIndex(GPU 0): GPU is lost (it needs a reset or a reboot): nothing was started on it" "$err"
[ ! -e "$run/node.json" ] && pass "start: the node cache is removed, not trusted" ||
        fail "start: the node cache is removed, not trusted"
m start --wide 0
check_eq "start 0 (the lost GPU): exit 2" 2 "$rc"
check_contains "start 0: says it is lost" "'0' names GPU 0, which is lost" "$err"

# --- stop: everything of the layout ends, status asked meanwhile from several processes
for i in 1 2 3 4; do
        (sleep 0.$i; "$SIMRUN" "$topology" -- "$MPSMIG" status --json >"$T/status$i.json" 2>/dev/null
         echo $? >"$T/status$i.rc") &
done
m stop --wide --timeout 1
wait
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: seven stopped" 7 "$(grep -cE ' stopped \(' <<<"$out")"
check_eq "stop: the hung orphan escalated" 1 "$(grep -cE "^- +$UUID1 +stopped \(SIGTERM\) +$hung " <<<"$out")"
check_contains "stop: names the lost GPU" "the daemons of its devices are stopped as orphans" "$err"
check_eq "stop: no daemon left" "" "$(daemons)"
check_eq "stop: no daemon folder left" "" "$(ls -A "$run" | grep -E '^(MIG|GPU)-')"
for i in 1 2 3 4; do
        status_rc=$(cat "$T/status$i.rc")
        { [ "$status_rc" = 1 ] || [ "$status_rc" = 3 ]; } && tail -1 "$T/status$i.json" | grep -qx '}' &&
                pass "status --json $i during stop: a whole document, exit $status_rc" ||
                fail "status --json $i during stop: a whole document, exit $status_rc"
done
m start --wide --whole-gpus
check_eq "start on the node with a lost GPU: exit 1" 1 "$rc"
check_eq "start: the three healthy GPUs started" 3 "$(rows started "$out")"
check_contains "start: names the lost GPU" "mpsmig: GPU 0 (PCI 00000000:17:00.0) is lost" "$err"
m stop --wide
check_eq "stop them: exit 0" 0 "$rc"
check_eq "stop them: three stopped" 3 "$(rows 'stopped \(quit\)' "$out")"
m status --wide
check_eq "status after stop: exit 1 (the GPU is still lost)" 1 "$rc"
check_eq "status after stop: only the lost GPU's row" "0  -  gpu lost at 00000000:17:00.0" \
        "$(grep -E '^([0-9:]+|-)  ' <<<"$out" | awk '{ print $1 "  " $2 "  " $3, $4, $5, $6 }')"
