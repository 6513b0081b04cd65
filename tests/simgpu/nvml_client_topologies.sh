#!/bin/bash
# A third-party NVML client over every shipped topology: Debian's nvml-wrapper (Rust), built by
# this test with Debian's cargo (tests/thirdparty/nvml-client), walks the system, every GPU's
# identity, memory, readings, MIG mode, MIG devices, GPU-instance profiles and placements, and the
# GPU and compute instances. It must not crash, hang or miss a symbol, and what it reads must be
# what the topology file says (tests/thirdparty/topology_lines.awk lists those lines: names,
# UUIDs, bus ids, memory sizes, MIG modes, profiles with their engines and placements, MIG devices
# by slot, GPU and compute instances). Without the Debian packages it reports SKIP (77).
source "$MPSMIG_SOURCE/tests/lib.sh"
source "$MPSMIG_SOURCE/tests/thirdparty/nvml_client.bash"
set -o pipefail
FIELDS=$MPSMIG_SOURCE/tests/integration/list_fields.awk
LINES=$MPSMIG_SOURCE/tests/thirdparty/topology_lines.awk

nvml_client_or_skip

# check_output NAME OUT: every check topology_lines.awk printed for NAME holds in OUT.
check_output() {
        local name=$1 out=$2 kind a b missing=0 checked=0 actual
        while IFS=$'\t' read -r kind a b; do
                checked=$((checked + 1))
                case $kind in
                line) grep -Fxq -- "$a" "$out" || { missing=$((missing + 1)) && echo "  missing: $a"; } ;;
                match) grep -Eq -- "$a" "$out" || { missing=$((missing + 1)) && echo "  no line matches: $a"; } ;;
                count)
                        actual=$(grep -Ec -- "$a" "$out")
                        [ "$actual" = "$b" ] || { missing=$((missing + 1)) && echo "  $actual lines match $a, expected $b"; }
                        ;;
                *) missing=$((missing + 1)) && echo "  unknown check: $kind" ;;
                esac
        done <"$T/$name.expected"
        if [ "$missing" -eq 0 ] && [ "$checked" -gt 0 ]; then
                pass "$name: the client reads what the topology says ($checked checks)"
        else
                fail "$name: $missing of $checked checks failed"
        fi
}

topologies=0
for file in "$TOPOLOGIES"/*.json; do
        name=$(basename "$file" .json)
        topologies=$((topologies + 1))
        # list_fields.awk reads one "key": value a line: a line of several is split first (one-line
        # objects, the profiles and MIG devices, start with "{" and stay whole)
        if ! sed -E '/^ *"/ s/, "/,\n"/g' "$file" | awk -f "$FIELDS" | awk -f "$LINES" >"$T/$name.expected"; then
                fail "$name: the topology can be read into checks"
                continue
        fi
        run_client "$name" "$T/$name.out"
        expected_rc=0
        grep -q '"loaded": false' "$file" && expected_rc=1
        case $client_rc in
        124 | 137) fail "$name: the client hung (killed after 60 s)" ;;
        "$expected_rc") pass "$name: the client exits with $expected_rc" ;;
        *) fail "$name: the client exits with $client_rc (above 128: a signal; 101: a Rust panic), expected $expected_rc" ;;
        esac
        if [ -s "$T/$name.out.err" ]; then
                fail "$name: the client wrote to stderr (a panic, a sanitizer report)"
                head -20 "$T/$name.out.err"
        fi
        if grep -q 'FailedToLoadSymbol' "$T/$name.out"; then
                fail "$name: a function the client looks up is missing"
                grep 'FailedToLoadSymbol' "$T/$name.out" | head -5
        fi
        check_output "$name" "$T/$name.out"
done
check_eq "topologies walked, h200 and h200x8-1g among them" "yes yes" \
        "$([ -f "$TOPOLOGIES/h200.json" ] && echo yes) $([ -f "$TOPOLOGIES/h200x8-1g.json" ] && echo yes)"
[ "$topologies" -ge 13 ] && pass "$topologies topologies walked" || fail "only $topologies topologies"

# The 8 x 7 MIG devices of h200x8-1g: 56 handles, each of its own GPU instance.
check_eq "h200x8-1g: 56 MIG devices" 56 "$(grep -c '^gpu\.[0-7]\.mig\.device\.[0-6]\.uuid: MIG-' "$T/h200x8-1g.out")"
check_eq "h200x8-1g: 56 GPU instances with one compute instance each" 56 \
        "$(grep -Ec '^gpu\.[0-7]\.gi\.[0-9]+\.ci\.0: profile_id 0 placement 0:1 gpu_instance same$' "$T/h200x8-1g.out")"
check_eq "h200x8-1g: a MIG device's name" "gpu.7.mig.device.6.name: NVIDIA H200 MIG 1g.18gb" \
        "$(grep '^gpu\.7\.mig\.device\.6\.name: ' "$T/h200x8-1g.out")"
check_eq "h200x8-1g: its engines" \
        "gpu.0.mig.device.0.attributes: sm 16 ce 1 dec 1 enc 0 jpeg 1 ofa 0 gi_slices 1 ci_slices 1 memory_mb 16384" \
        "$(grep '^gpu\.0\.mig\.device\.0\.attributes: ' "$T/h200x8-1g.out")"
