#!/bin/bash
# The MPS limits as a client of the simulated control daemon sees them: the SM count under an
# active thread percentage (whole TPCs: 2*floor(SMs*pct/100/2), but at least 8/132 of the SMs in
# whole TPCs and one TPC; fitted to the H100's 132/66/52/32/8 at 100/50/40/25/1 %), the
# pinned-memory limit from the client's environment or the daemon's default
# (cuMemAlloc past it fails with CUDA_ERROR_OUT_OF_MEMORY: the probe exits 3), and bad values
# ignored silently as on driver 580.
. "$MPSMIG_SOURCE/tests/lib.sh"

A30_MIG=MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0 # 14 SMs
H100=GPU-3ab0472d-bd05-e2d4-148c-43f225223de1     # 132 SMs
export CUDA_MPS_LOG_DIRECTORY=$T/log
daemons=""

# start_daemon NAME TOPOLOGY DEVICE [VAR=VALUE...]: a control daemon in $T/NAME for DEVICE
start_daemon() {
        name=$1
        topology=$2
        device=$3
        shift 3
        mkdir -p "$T/$name"
        rc=0
        env CUDA_VISIBLE_DEVICES="$device" CUDA_MPS_PIPE_DIRECTORY="$T/$name" "$@" \
                "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d >"$T/.out" 2>&1 || rc=$?
        check_eq "daemon $name started" "0 " "$rc $(cat "$T/.out")"
        daemons="$daemons $name:$topology"
}
# ask NAME TOPOLOGY LINE...: client mode against daemon NAME; the answer in $out
ask() {
        name=$1
        topology=$2
        shift 2
        rc=0
        printf '%s\n' "$@" | env CUDA_MPS_PIPE_DIRECTORY="$T/$name" \
                "$SIMRUN" "$topology" -- nvidia-cuda-mps-control >"$T/.out" 2>&1 || rc=$?
        out=$(cat "$T/.out")
}
# client NAME TOPOLOGY DEVICE [VAR=VALUE...] -- PROBE_ARGS...: the probe through daemon NAME
client() {
        name=$1
        topology=$2
        device=$3
        shift 3
        vars=()
        while [ "$1" != -- ]; do
                vars+=("$1")
                shift
        done
        shift
        sim "$topology" env CUDA_VISIBLE_DEVICES="$device" CUDA_MPS_PIPE_DIRECTORY="$T/$name" \
                "${vars[@]}" "$PROBE" "$@"
}
field() { printf '%s\n' "$out" | sed -n "s/^ *$1: //p"; }
# sms_with NAME TOPOLOGY DEVICE [VAR=VALUE...]: the SM count the probe reports
sms_with() {
        client "$@" --
        [ "$rc" -eq 0 ] || echo "probe failed ($rc): $err"
        field sm_count
}
tpc_rounded() { echo $((2 * ($1 * $2 / 100 / 2))); }

# --- the client's own CUDA_MPS_ACTIVE_THREAD_PERCENTAGE on a 14-SM MIG device
start_daemon a a30-seed "$A30_MIG"
check_eq "100 %: all 14 SMs" "14" "$(sms_with a a30-seed "$A30_MIG")"
for pct in 25 40 50 75; do
        check_eq "$pct %: $(tpc_rounded 14 "$pct") SMs (whole TPCs)" "$(tpc_rounded 14 "$pct")" \
                "$(sms_with a a30-seed "$A30_MIG" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE="$pct")"
done
check_eq "1 %: one TPC (the H100's floor of 8 SMs, scaled to 14 SMs, is less)" "2" \
        "$(sms_with a a30-seed "$A30_MIG" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=1)"
for bad in 200 abc 0 -5 "" 50x; do
        client a a30-seed "$A30_MIG" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE="$bad" --
        check_eq "percentage '$bad' ignored silently" "0 14 " "$rc $(field sm_count) $err"
done

# --- the client's own CUDA_MPS_PINNED_DEVICE_MEM_LIMIT
client a a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G -- --alloc 3G
check_eq "limit 0=2G: 3G refused, exit 3" 3 "$rc"
check_eq "limit 0=2G: the CUresult" "CUDA_ERROR_OUT_OF_MEMORY (3221225472 bytes)" "$(field alloc)"
check_eq "limit 0=2G: the kernel still ran" "ok" "$(field kernel)"
client a a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G -- --alloc 1G
check_eq "limit 0=2G: 1G passes" "0 ok (1073741824 bytes)" "$rc $(field alloc)"
client a a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G -- --alloc 2G
check_eq "limit 0=2G: exactly 2G passes" "0" "$rc"
client a a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="$A30_MIG=2G" -- --alloc 3G
check_eq "limit keyed by UUID: 3G refused" 3 "$rc"
client a a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=1536M,1=8G -- --alloc 2G
check_eq "limit 0=1536M in a list: 2G refused" 3 "$rc"
client a a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=1=2G -- --alloc 3G
check_eq "a limit for another device does not apply" 0 "$rc"
for bad in 0=abc 0= junk 0=-2G =2G 0=2Q; do
        client a a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="$bad" -- --alloc 3G
        check_eq "pinned limit '$bad' ignored silently" "0 " "$rc $err"
done

# --- the daemon's defaults: set before the first client, they bind its server
start_daemon b a30-seed "$A30_MIG"
ask b a30-seed "set_default_device_pinned_mem_limit 0 2G" "set_default_active_thread_percentage 50"
check_eq "defaults set" "50.0" "$out"
client b a30-seed "$A30_MIG" -- --alloc 3G
check_eq "default limit 0 2G: 3G refused, exit 3" 3 "$rc"
check_eq "default 50 %: 6 SMs" "6" "$(field sm_count)"
client b a30-seed "$A30_MIG" -- --alloc 1G
check_eq "default limit 0 2G: 1G passes" "0" "$rc"
check_eq "a client asking 100 % gets no more than the default" "6" \
        "$(sms_with b a30-seed "$A30_MIG" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=100)"
check_eq "a client may ask for less" "2" \
        "$(sms_with b a30-seed "$A30_MIG" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=25)"
client b a30-seed "$A30_MIG" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=8G -- --alloc 3G
check_eq "a client asking a higher limit stays under the default" 3 "$rc"

# --- the H100 figures read on the device machine (docs/hardware/2026-11-25/probe.txt)
start_daemon c h100 "$H100"
check_eq "h100 100 %: 132 SMs" "132" "$(sms_with c h100 "$H100")"
for reading in 50:66 40:52 25:32 1:8; do
        check_eq "h100 ${reading%:*} %: ${reading#*:} SMs" "${reading#*:}" \
                "$(sms_with c h100 "$H100" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE="${reading%:*}")"
done
check_eq "h100 5 %: the floor, 8 SMs" "8" \
        "$(sms_with c h100 "$H100" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=5)"
check_eq "h100 7 %: above the floor, 8 SMs (9.24 in whole TPCs)" "8" \
        "$(sms_with c h100 "$H100" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=7)"
check_eq "h100 8 %: 10 SMs" "10" "$(sms_with c h100 "$H100" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=8)"
check_eq "h100 200 %: ignored, 132 SMs" "132" \
        "$(sms_with c h100 "$H100" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=200)"
client c h100 "$H100" CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=0=2G -- --alloc 3G
check_eq "h100 client limit 0=2G: 3G refused" 3 "$rc"
# a daemon started with CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=40 in its environment: clients see 52
start_daemon d h100 "$H100" CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=40
check_eq "h100 daemon at 40 %: clients see 52 SMs" "52" "$(sms_with d h100 "$H100")"

for entry in $daemons; do
        ask "${entry%%:*}" "${entry#*:}" quit
        check_eq "daemon ${entry%%:*} quit" "0" "$rc"
done
# quit returns before the daemon is gone; wait (bounded) so that no process is left behind
for _ in $(seq 100); do
        left=0
        for entry in $daemons; do
                [ -e "$T/${entry%%:*}/nvidia-cuda-mps-control.pid" ] && left=1
        done
        [ "$left" = 0 ] && break
        sleep 0.05
done
check_eq "every daemon gone" "0" "$left"
