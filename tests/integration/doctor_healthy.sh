#!/bin/bash
# `mpsmig doctor` on a healthy node: the seed's A30 with four MIG daemons, then a whole H100 with
# its limits set before its server starts. No error, exit 0, each target's probe client listed by
# its daemon, the SM count and pinned limit as the daemon reports them held, timings said to be
# simulated; the JSON document for monitoring; no daemon or client left behind.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
export SIMGPU_STATE_DIR=$T

m start
check_eq "start: exit 0" 0 "$rc"
m doctor
check_eq "healthy MIG node: exit 0" 0 "$rc"
check_contains "the summary" "0 errors," "$out"
check_contains "timings labelled" "timings simulated by simgpu" "$out"
check_eq "each of the four probe clients went through its daemon" 4 \
        "$(grep -cE '^  ok +client +a probe client \(pid [0-9]+\) went through the daemon' <<<"$out")"
check_eq "compute modes do not apply on MIG" 4 \
        "$(grep -cE '^  ok +compute-mode +a MIG device' <<<"$out")"
check_eq "14 SMs each at 100 %" 4 "$(grep -cE '^  ok +threads +the client saw 14 of 14 SMs' <<<"$out")"
check_contains "the driver" "NVIDIA driver 545.23.08 (CUDA 12.3) loads: 4 GPUs, 4 MIG devices" "$out"
check_eq "nothing on stderr" "" "$err"

m doctor --json 0:1:0
check_eq "json: exit 0" 0 "$rc"
check_contains "json: verb" '"verb": "doctor"' "$out"
check_contains "json: simulated" '"timings": "simulated"' "$out"
check_contains "json: a finding" '"check": "client",' "$out"
check_contains "json: no errors" '"error": 0' "$out"
check_eq "json: one target" 1 "$(grep -c '"target": "0:1:0"' <<<"$out")"
# An ordinary user looks at root's daemons: its probe client waits for root's idle server to
# drain and goes through a server of its own, as on driver 580 without -M.
if [ "$(id -u)" = 0 ]; then
        chmod 0755 "$MPSMIG_RUNTIME_DIR"
        run_capture as_nobody "$SIMRUN" "$topology" -- "$MPSMIG" doctor 0:1:0
        check_eq "as nobody: exit 0" 0 "$rc"
        check_contains "as nobody: the probe went through root's daemon" "went through the daemon" "$out"
        check_contains "as nobody: the daemon is root's" "(user root) runs and answers" "$out"
fi
m stop
check_eq "stop: exit 0" 0 "$rc"

# A whole GPU, with a thread percentage and a pinned limit set before any server starts.
topology=$(private_topology h100)
uuid=$(grep -oE '"GPU-[0-9a-f-]{36}"' "$topology" | tr -d '"' | head -1)
m start --whole-gpus
check_eq "whole GPU start: exit 0" 0 "$rc"
ask "$MPSMIG_RUNTIME_DIR/$uuid/pipe" \
        'set_default_active_thread_percentage 40\nset_default_device_pinned_mem_limit 0 2G\n' >/dev/null
m doctor 0
check_eq "whole GPU with limits: exit 0" 0 "$rc"
check_contains "EXCLUSIVE_PROCESS advised, as a warning" "warning  compute-mode   GPU 0 is in compute mode Default" "$out"
check_contains "40 % gives 52 of 132 SMs" "the client saw 52 of 132 SMs, as an active thread percentage of 40 (daemon) gives" "$out"
check_contains "the 2G limit holds" "a client's allocation of 3072 MiB, above the pinned limit 2G (daemon, key 0), was refused" "$out"
check_contains "the client's exit lines in server.log are no error" "ok       logs" "$out"
m stop --whole-gpus
check_eq "whole GPU stop: exit 0" 0 "$rc"

m doctor --bogus
check_eq "unknown option: exit 2" 2 "$rc"
check_contains "unknown option: said" "doctor: unknown option '--bogus'" "$err"
m help doctor
check_eq "help doctor: exit 0" 0 "$rc"
