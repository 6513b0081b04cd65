# simgpu's nvidia-smi -L: byte for byte the seed document's listing on a30-seed (the seed scripts
# grep it), and the listing and exit status on the other topologies.
. "$MPSMIG_SOURCE/tests/lib.sh"

expected=$MPSMIG_SOURCE/tests/simgpu/expected/a30-seed-nvidia-smi-L.txt
"$SIMRUN" a30-seed -- nvidia-smi -L >"$T/listing" 2>"$T/err"
check_eq "a30-seed exit status" 0 "$?"
if cmp -s "$expected" "$T/listing"; then
        pass "a30-seed nvidia-smi -L equals the seed's listing byte for byte"
else
        fail "a30-seed nvidia-smi -L differs from the seed's listing"
        diff "$expected" "$T/listing"
fi
check_eq "a30-seed no stderr" "" "$(cat "$T/err")"

# the seed's own extraction of MIG UUIDs finds the four devices, in slot order
uuids=$(grep -oE "(MIG)-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*" "$T/listing" | tr '\n' ' ')
check_eq "seed grep finds the MIG UUIDs" "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0 MIG-d74dcafc-aad0-58b8-83d8-61bcd963d2e9 MIG-27be287f-e2db-5526-a2f6-0bfabcf34af9 MIG-235f71be-a125-5ce0-9fe6-0cd97ae57733 " "$uuids"

sim h100 nvidia-smi -L
check_eq "h100 listing" "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-3ab0472d-bd05-e2d4-148c-43f225223de1)" "$out"

sim a100-mixed nvidia-smi -L
check_contains "a100-mixed pads short profiles" "  MIG 1g.5gb      Device  3: (UUID: MIG-" "$out"
check_contains "a100-mixed names split compute instances" "  MIG 2c.3g.20gb  Device  0: (UUID: MIG-" "$out"

sim h100x8-1g nvidia-smi -L
check_eq "h100x8-1g: 8 GPU lines" 8 "$(printf '%s\n' "$out" | grep -c '^GPU ')"
check_eq "h100x8-1g: 56 MIG lines" 56 "$(printf '%s\n' "$out" | grep -c '^  MIG 1g.10gb     Device  [0-6]: (UUID: MIG-')"
check_eq "h100x8-1g: unique UUIDs" 64 "$(printf '%s\n' "$out" | grep -oE '(GPU|MIG)-[0-9a-f-]{36}' | sort -u | wc -l)"

sim h200 nvidia-smi -L
check_eq "h200 listing" "GPU 0: NVIDIA H200 (UUID: GPU-7335e5d7-1513-c22d-a95a-e679698f16b8)" "$out"

# 8 H200s of 7 x 1g.18gb: the real nvidia-smi pads the profile to 10 and the slot to 2, as on the
# A30 of the seed; each GPU's MIG devices follow it, in slot order, with the topology's UUIDs
sim h200x8-1g nvidia-smi -L
check_eq "h200x8-1g: 8 GPU lines" 8 "$(printf '%s\n' "$out" | grep -c '^GPU [0-7]: NVIDIA H200 (UUID: GPU-')"
check_eq "h200x8-1g: 56 MIG lines" 56 "$(printf '%s\n' "$out" | grep -c '^  MIG 1g.18gb     Device  [0-6]: (UUID: MIG-')"
check_eq "h200x8-1g: the topology's UUIDs in its order" \
        "$(grep -oE '"(GPU|MIG)-[0-9a-f-]{36}"' "$TOPOLOGIES/h200x8-1g.json" | tr -d '"')" \
        "$(printf '%s\n' "$out" | grep -oE '(GPU|MIG)-[0-9a-f-]{36}')"

sim mig-empty nvidia-smi -L
check_eq "mig-empty lists the GPU only" 1 "$(printf '%s\n' "$out" | wc -l)"

sim no-gpu nvidia-smi -L
check_eq "no-gpu exit status" 6 "$rc"
check_eq "no-gpu message" "No devices were found" "$out"

sim driver-missing nvidia-smi -L
check_eq "driver-missing exit status" 9 "$rc"
check_contains "driver-missing message" "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver" "$out"

sim lost-gpu nvidia-smi -L
check_eq "lost-gpu exit status" 15 "$rc"
check_contains "lost-gpu names the lost GPU" "Unable to determine the device handle for GPU0000:2A:00.0: GPU is lost." "$out"
check_contains "lost-gpu still lists the good GPU" "GPU 0: NVIDIA H100 80GB HBM3" "$out"
