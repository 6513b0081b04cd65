#!/bin/bash
# `mpsmig start` on the seed's A30 (four MIG devices): one daemon per instance with its own
# device and folders, started in parallel, answering; idempotent (a second start keeps the same
# daemons); TARGET arguments; --whole-gpus; the JSON report; then stop leaves nothing behind.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

m start
check_eq "start: exit 0" 0 "$rc"
check_eq "start: nothing on stderr" "" "$err"
check_eq "start: four started" 4 "$(rows started "$out")"
check_contains "start: summary" "4 targets, layout default in $MPSMIG_RUNTIME_DIR: 4 started" "$out"
check_eq "four daemons run" 4 "$(daemons | wc -l)"
for uuid in $uuids; do
        pipe=$MPSMIG_RUNTIME_DIR/$uuid/pipe
        check_eq "$uuid: exactly one daemon on its device" 1 "$(daemons "$uuid" | wc -l)"
        pid=$(daemons "$uuid")
        check_eq "$uuid: its pipe folder" "CUDA_MPS_PIPE_DIRECTORY=$pipe" \
                "$(tr '\0' '\n' <"/proc/$pid/environ" | grep '^CUDA_MPS_PIPE_DIRECTORY=')"
        check_eq "$uuid: its log folder" "CUDA_MPS_LOG_DIRECTORY=$MPSMIG_RUNTIME_DIR/$uuid/log" \
                "$(tr '\0' '\n' <"/proc/$pid/environ" | grep '^CUDA_MPS_LOG_DIRECTORY=')"
        check_eq "$uuid: the report gives its pid" 1 \
                "$(grep -cE "^[0-9:]+ +$uuid +started +$pid " <<<"$out")"
        check_eq "$uuid: pid file" "$pid" "$(pid_in "$pipe")"
        check_eq "$uuid: pipe folder mode" 755 "$(stat -c %a "$pipe")"
        check_eq "$uuid: log folder mode" 755 "$(stat -c %a "$MPSMIG_RUNTIME_DIR/$uuid/log")"
        [ -f "$pipe/.mpsmig" ] && pass "$uuid: pipe folder marked" || fail "$uuid: pipe folder marked"
        check_eq "$uuid: it answers" "100.0" "$(ask "$pipe" 'get_default_active_thread_percentage\n')"
done
before=$(daemons)

# Idempotent: the same daemons, reported as already running.
m start
check_eq "second start: exit 0" 0 "$rc"
check_eq "second start: nothing on stderr" "" "$err"
check_eq "second start: four already running" 4 "$(rows 'already running' "$out")"
check_eq "second start: the same daemons" "$before" "$(daemons)"

m status
check_eq "status: exit 0 when all run" 0 "$rc"
check_eq "status: four running" 4 "$(rows running "$out")"

m stop
check_eq "stop: exit 0" 0 "$rc"
check_eq "stop: four stopped by quit" 4 "$(rows 'stopped \(quit\)' "$out")"
check_eq "stop: no daemon left" "" "$(daemons)"
check_eq "stop: only the lock and the node cache are left in the runtime folder" "lock node.json" "$(ls -A "$MPSMIG_RUNTIME_DIR" | xargs)"

# TARGET arguments: GPU:GI:CI and a UUID prefix.
m start 0:2:1 "${UUID0:0:12}"
check_eq "start two targets: exit 0" 0 "$rc"
check_eq "start two targets: two started" 2 "$(rows started "$out")"
check_eq "start two targets: two daemons" "2" "$(daemons | wc -l)"
check_eq "start two targets: 0:1:0 is one" 1 "$(daemons "$UUID0" | wc -l)"
check_eq "start two targets: 0:2:1 is one" 1 "$(daemons "$UUID3" | wc -l)"
m start nonsense
check_eq "start of an unknown target: usage error" 2 "$rc"
check_eq "start of an unknown target: starts nothing more" "2" "$(daemons | wc -l)"

# --whole-gpus adds the three GPUs without MIG; --json reports each target.
m start --whole-gpus --json
check_eq "start --whole-gpus: exit 0" 0 "$rc"
check_eq "start --whole-gpus: seven daemons" 7 "$(daemons | wc -l)"
check_contains "json: schema" '"schema_version": 1' "$out"
check_contains "json: verb" '"verb": "start"' "$out"
check_eq "json: five started" 5 "$(count '"result": "started"' "$out")"
check_eq "json: two already running" 2 "$(count '"result": "already running"' "$out")"
check_eq "json: three whole GPUs" 3 "$(count '"kind": "gpu"' "$out")"
check_contains "json: summary" '"started": 5' "$out"
gpu1=$(grep -oE '"GPU-[0-9a-f-]{36}"' "$topology" | tr -d '"' | sed -n 2p)
check_eq "whole GPU 1 has its daemon" 1 "$(daemons "$gpu1" | wc -l)"

m stop 0:1:0 0:1:1 0:2:0 0:2:1
check_eq "stop of the MIG devices by name: exit 0" 0 "$rc"
check_eq "stop by name leaves the three whole-GPU daemons" 3 "$(daemons | wc -l)"
m stop --json
check_eq "plain stop: exit 0" 0 "$rc"
check_eq "plain stop json: the three whole GPUs with folders stopped" 3 \
        "$(count '"result": "stopped"' "$out")"
check_eq "plain stop json: the four MIG devices not running" 4 \
        "$(count '"result": "not running"' "$out")"
check_eq "no daemon left" "" "$(daemons)"
