#!/bin/bash
# `mpsmig start` and the node cache (node.json in the runtime folder): written after a start,
# used by the next one to start daemons while NVML still loads (proven with a slow simulated
# NVML), never trusted: a daemon started for a device NVML no longer lists is stopped again, a
# failed start ahead leaves no folders, and a cache that is corrupt, a link, group-writable or
# another user's is not read. Without a runtime folder nothing starts (or is made) before NVML.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
cache=$MPSMIG_RUNTIME_DIR/node.json
GPU0=$(grep -oE '"GPU-[0-9a-f-]{36}"' "$topology" | sed -n 1p | tr -d '"')
GPU1=$(grep -oE '"GPU-[0-9a-f-]{36}"' "$topology" | sed -n 2p | tr -d '"')

# summary KEY: a number from the JSON report's summary in $out.
summary() { grep -oE "\"$1\": *[0-9]+" <<<"$out" | grep -oE '[0-9]+$'; }
# mpsmig_done PID [TENTHS]: waits for a background mpsmig, at most TENTHS/10 s (default 10 s).
mpsmig_done() { for _ in $(seq "${2:-100}"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

# --- the first start: no cache yet, nothing ahead; the cache is written, 0644, with every UUID
m start --json
check_eq "first start: exit 0" 0 "$rc"
check_eq "first start: four started, none from the cache" "4 0" "$(summary started) $(summary from_node_cache)"
check_eq "the cache: a regular file, 0644, ours" "regular file 644 root" "$(stat -c '%F %a %U' "$cache")"
for uuid in $uuids $GPU0 $GPU1; do
        check_contains "the cache names $uuid" "\"$uuid\"" "$(cat "$cache")"
done
check_eq "the cache: one line" 1 "$(wc -l <"$cache")"
ino=$(stat -c %i "$cache")
m stop
check_eq "stop: exit 0" 0 "$rc"

# --- the second start: all four from the cache, the same report otherwise
m start --json
check_eq "warm start: exit 0, nothing on stderr" "0 " "$rc $err"
check_eq "warm start: four started, four from the cache, none withdrawn" "4 4 0" \
        "$(summary started) $(summary from_node_cache) $(summary withdrawn)"
check_eq "warm start: four daemons" 4 "$(daemons | wc -l)"
check_eq "an unchanged node: the cache is not rewritten" "$ino" "$(stat -c %i "$cache")"
m stop

# --- overlap: with NVML taking 2 s, the cached targets' daemons answer while mpsmig waits
SIMGPU_NVML_INIT_MS=2000 "$SIMRUN" "$topology" -- "$MPSMIG" start --json >"$T/slow.out" 2>"$T/slow.err" &
slow=$!
up=""
for _ in $(seq 15); do
        sleep 0.1
        [ "$(daemons | wc -l)" = 4 ] && { up=yes; break; }
done
kill -0 "$slow" 2>/dev/null && running=yes || running=no
check_eq "slow NVML, warm cache: four daemons within 1.5 s, mpsmig still waiting on NVML" "yes yes" "${up:-no} $running"
check_eq "they answer before NVML does" "100.0" "$(ask "$MPSMIG_RUNTIME_DIR/$UUID0/pipe" 'get_default_active_thread_percentage\n')"
mpsmig_done "$slow" && wait "$slow" && pass "slow NVML: start exits 0" || fail "slow NVML: start exits 0"
out=$(cat "$T/slow.out")
check_eq "slow NVML: four from the cache" 4 "$(summary from_node_cache)"
m stop

# ... and without a cache nothing starts before NVML answers
rm "$cache"
SIMGPU_NVML_INIT_MS=1500 "$SIMRUN" "$topology" -- "$MPSMIG" start >/dev/null 2>&1 &
slow=$!
sleep 1
check_eq "slow NVML, no cache: no daemon after 1 s" "" "$(daemons)"
mpsmig_done "$slow" && wait "$slow" && pass "slow NVML, no cache: start exits 0" || fail "slow NVML, no cache: start exits 0"
check_eq "slow NVML, no cache: four daemons at the end" 4 "$(daemons | wc -l)"
m stop

# --- the node changed: the cache still says GPU 0 is whole (MIG disabled then), NVML says it
# has MIG devices now. Its daemon, started ahead, is stopped again and its folders go.
sed -E -e 's/"mig_current":1,"mig_device_count":4,"mig_pending":1/"mig_current":0,"mig_device_count":0,"mig_pending":0/' \
        -e 's/"first_mig_device":4/"first_mig_device":0/g' -e 's/"mig_devices":\[[^]]*\]/"mig_devices":[]/' \
        "$cache" >"$T/before-mig.json"
check_not_contains "the edited cache has no MIG device" "MIG-" "$(cat "$T/before-mig.json")"
cp "$T/before-mig.json" "$cache"
m start --whole-gpus --json
check_eq "changed node: exit 0" 0 "$rc"
check_eq "changed node: seven started (GPUs 1-3 from the cache), GPU 0 withdrawn" "7 3 1" \
        "$(summary started) $(summary from_node_cache) $(summary withdrawn)"
check_contains "changed node: the note names GPU 0" "$GPU0 is in the node cache but NVML no longer lists it: the MPS control daemon started for it was stopped again" "$err"
check_eq "changed node: no daemon on GPU 0" "" "$(daemons "$GPU0")"
check_eq "changed node: GPU 0's folders are gone" no "$([ -e "$MPSMIG_RUNTIME_DIR/$GPU0" ] && echo yes || echo no)"
check_eq "changed node: one daemon on GPU 1, one per MIG device" "1 4" \
        "$(daemons "$GPU1" | wc -l) $(for u in $uuids; do daemons "$u"; done | wc -l)"
check_contains "changed node: the cache is rewritten with the MIG devices" "$UUID0" "$(cat "$cache")"
m stop --whole-gpus
check_eq "changed node: stop leaves nothing" "" "$(daemons)"

# --- a MIG device that is gone: the cache names one more, which simgpu (as the recorded driver)
# refuses to start; the failed start ahead leaves no folders and no message
ghost=MIG-00000000-0000-4000-8000-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
sed -E -e "s/\"mig_device_count\":4/\"mig_device_count\":5/" \
        -e "s/\"first_mig_device\":4/\"first_mig_device\":5/g" \
        -e "s/\"mig_devices\":\[/&{\"compute_instance_id\":0,\"device_index\":4,\"gpu_index\":0,\"gpu_instance_id\":9,\"memory_bytes\":1,\"profile\":\"1g.6gb\",\"sm_count\":14,\"uuid\":\"$ghost\"},/" \
        "$cache" >"$T/ghost.json"
cp "$T/ghost.json" "$cache"
m start --json
check_eq "gone MIG device: exit 0, nothing on stderr" "0 " "$rc $err"
check_eq "gone MIG device: four started from the cache, none withdrawn" "4 4 0" \
        "$(summary started) $(summary from_node_cache) $(summary withdrawn)"
check_eq "gone MIG device: no folder for it" no "$([ -e "$MPSMIG_RUNTIME_DIR/$ghost" ] && echo yes || echo no)"
m stop
# ... and named on the command line: a usage error once NVML answers, nothing left behind
cp "$T/ghost.json" "$cache"
m start 0:9:0
check_eq "gone MIG device named: usage error" 2 "$rc"
check_contains "gone MIG device named: NVML's answer" "0:9:0" "$err"
check_eq "gone MIG device named: no daemon, no folder" " no" \
        "$(daemons) $([ -e "$MPSMIG_RUNTIME_DIR/$ghost" ] && echo yes || echo no)"

# --- NVML gone while the cache is warm: every daemon started ahead is stopped again
m start
m stop
MPSMIG_NVML_LIBRARY=$T/no-such-libnvidia-ml.so m start --json
check_eq "no NVML, warm cache: exit 2" 2 "$rc"
check_contains "no NVML, warm cache: says why" "no-such-libnvidia-ml.so" "$err"
check_eq "no NVML, warm cache: no daemon left" "" "$(daemons)"
check_eq "no NVML, warm cache: only the lock and the cache" "lock node.json" "$(ls -A "$MPSMIG_RUNTIME_DIR" | xargs)"

# --- caches that are not read: corrupt, a link, group-writable, another user's
printf 'not json\n' >"$cache"
m start --json
check_eq "corrupt cache: exit 0, nothing from it" "0 4 0" "$rc $(summary started) $(summary from_node_cache)"
check_contains "corrupt cache: rewritten" "\"$UUID0\"" "$(cat "$cache")"
m stop
cp "$cache" "$T/elsewhere.json"
sum=$(md5sum <"$T/elsewhere.json")
rm "$cache"
ln -s "$T/elsewhere.json" "$cache"
m start --json
check_eq "linked cache: exit 0, not followed" "0 0" "$rc $(summary from_node_cache)"
[ -f "$cache" ] && [ ! -L "$cache" ] && pass "linked cache: replaced by a file" || fail "linked cache: replaced by a file"
check_eq "linked cache: its target untouched" "$sum" "$(md5sum <"$T/elsewhere.json")"
m stop
chmod 664 "$cache"
m start --json
check_eq "group-writable cache: exit 0, not read" "0 0" "$rc $(summary from_node_cache)"
check_eq "group-writable cache: rewritten 0644" 644 "$(stat -c %a "$cache")"
m stop
chown nobody "$cache"
m start --json
check_eq "another user's cache: exit 0, not read" "0 0" "$rc $(summary from_node_cache)"
check_eq "another user's cache: replaced by ours" root "$(stat -c %U "$cache")"
m stop

# --- no runtime folder and no driver: nothing made (the driver is asked first)
rm -rf "${MPSMIG_RUNTIME_DIR:?}"
run_capture "$SIMRUN" driver-missing -- "$MPSMIG" start
check_eq "no runtime folder, no driver: exit 2" 2 "$rc"
check_eq "no runtime folder, no driver: nothing made" no "$([ -e "$MPSMIG_RUNTIME_DIR" ] && echo yes || echo no)"
check_eq "no daemon left" "" "$(daemons)"
