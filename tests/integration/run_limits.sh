#!/bin/bash
# Per-client limits of `mpsmig run`, as the client itself sees them through simgpu's libcuda: on
# the H100 topology (a whole GPU, 132 SMs) --threads 25 gives 32 SMs and 40 gives 52 (the figures
# read on the real H100), --pinned-mem 2G makes a 3 GiB allocation fail (exit 3) and lets 1 GiB
# through; on a MIG instance the probe sees the instance, and the client is in its daemon's list.
. "$MPSMIG_SOURCE/tests/lib.sh"

# field NAME: the value of "  NAME: value" in the probe's output ($out).
field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p" | head -1; }

h100=$(private_topology h100)
gpu=$(grep -oE 'GPU-[0-9a-f-]{36}' "$h100" | head -1)
h() { sim "$h100" "$MPSMIG" "$@"; }

h start --whole-gpus
check_eq "start the whole H100" 0 "$rc"

h run --on 0 -- "$PROBE"
check_eq "probe through MPS: exit 0" 0 "$rc"
check_eq "no limit: 132 SMs" 132 "$(field sm_count)"
check_eq "the probe sees the GPU it was given" "$gpu" "$(field uuid)"
h run --on 0 --threads 25 -- "$PROBE"
check_eq "--threads 25: exit 0" 0 "$rc"
check_eq "--threads 25: 32 SMs" 32 "$(field sm_count)"
h run --on 0 --threads 40 -- "$PROBE"
check_eq "--threads 40: 52 SMs" 52 "$(field sm_count)"
h run --on 0 --threads 100 -- "$PROBE"
check_eq "--threads 100: 132 SMs" 132 "$(field sm_count)"

h run --on 0 --pinned-mem 2G -- "$PROBE" --alloc 3G
check_eq "--pinned-mem 2G, --alloc 3G: refused, exit 3" 3 "$rc"
check_contains "--pinned-mem 2G, --alloc 3G: out of memory" "CUDA_ERROR_OUT_OF_MEMORY" "$out"
h run --on 0 --pinned-mem 2G -- "$PROBE" --alloc 1G
check_eq "--pinned-mem 2G, --alloc 1G: exit 0" 0 "$rc"
h run --on 0 -- "$PROBE" --alloc 3G
check_eq "no --pinned-mem, --alloc 3G: exit 0" 0 "$rc"
h run --on 0 --pinned-mem 2560M -- "$PROBE" --alloc 3G
check_eq "--pinned-mem 2560M, --alloc 3G: exit 3" 3 "$rc"

# --priority reaches the client's environment (the probe cannot see a priority)
h run --on 0 --priority 1 -- printenv CUDA_MPS_CLIENT_PRIORITY
check_eq "--priority 1" 1 "$out"

# a held client is listed by its daemon while it runs, and gone after it exits
"$SIMRUN" "$h100" -- "$MPSMIG" run --on 0 -- "$PROBE" --hold 60 >"$T/held" 2>&1 &
held=$!
listed=
for _ in $(seq 200); do
        h status --whole-gpus --json
        case $out in *"\"clients\": ["*"$held"*) listed=yes; break ;; esac
        sleep 0.1
done
check_eq "a held client shows in status --json" yes "$listed"
kill -9 "$held"
wait "$held" 2>/dev/null
gone=
for _ in $(seq 200); do
        h status --whole-gpus --json
        case $out in *"$held"*) sleep 0.1 ;; *) gone=yes; break ;; esac
done
check_eq "a client killed with -9 leaves the list" yes "$gone"

h stop --whole-gpus
check_eq "stop" 0 "$rc"

# --- a MIG instance: the probe sees the instance's SMs and memory
a30=$(private_topology a30-seed)
mig=$(grep -oE 'MIG-27be287f[0-9a-f-]{28}' "$a30")
a() { sim "$a30" "$MPSMIG" "$@"; }
a start 0:2:0
check_eq "start 0:2:0" 0 "$rc"
a run --on 0:2:0 -- "$PROBE"
check_eq "probe on 0:2:0: exit 0" 0 "$rc"
check_eq "probe on 0:2:0: one device" 1 "$(field device_count)"
check_eq "probe on 0:2:0: its UUID" "$mig" "$(field uuid)"
check_eq "probe on 0:2:0: its 14 SMs" 14 "$(field sm_count)"
a run --on 0:2:0 --pinned-mem 1G -- "$PROBE" --alloc 2G
check_eq "--pinned-mem on a MIG instance: exit 3" 3 "$rc"
a stop
check_eq "stop the MIG instance" 0 "$rc"
