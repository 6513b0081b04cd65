#!/bin/bash
# The acceptance of simgpu as an NVML double: the third-party NVML client's output over simgpu's
# `h200` topology differs from its output on the real H200 (docs/hardware/2026-12-02/
# nvml-client-h200.txt, tests/hw/nvml_client.sh) only in the lines that
# nvml-client-h200-differences.txt beside it lists and explains (a UUID, a serial, a live
# reading), and every line listed there does differ. Without the Debian packages it reports
# SKIP (77); without the kept files it FAILS.
source "$MPSMIG_SOURCE/tests/lib.sh"
source "$MPSMIG_SOURCE/tests/thirdparty/nvml_client.bash"
KEPT=$MPSMIG_SOURCE/docs/hardware/2026-12-02/nvml-client-h200.txt
LISTED=$MPSMIG_SOURCE/docs/hardware/2026-12-02/nvml-client-h200-differences.txt

for file in "$KEPT" "$LISTED"; do
        if [ ! -s "$file" ]; then
                fail "${file#"$MPSMIG_SOURCE"/} is missing: run tests/hw/nvml_client.sh on the H200 and keep its output"
                exit 1
        fi
done
nvml_client_or_skip

run_client h200 "$T/sim"
check_eq "the client over h200 exits with 0" 0 "$client_rc"
check_eq "the client over h200 writes nothing on stderr" "" "$(cat "$T/sim.err")"

# keys FILE: the key of every line (the text before the first ": "), sorted
keys() {
        sed 's/: .*//' "$1" | sort
}
check_eq "the real output has each key once" "" "$(keys "$KEPT" | uniq -d)"
check_eq "simgpu's output has each key once" "" "$(keys "$T/sim" | uniq -d)"
check_eq "the real output has 132 lines, ending in shutdown" "132 shutdown: ok" \
        "$(wc -l <"$KEPT") $(tail -1 "$KEPT")"

# Differing keys: a line that is not the same in both, or a key that only one of them has.
sort "$KEPT" >"$T/real.sorted"
sort "$T/sim" >"$T/sim.sorted"
comm -3 "$T/real.sorted" "$T/sim.sorted" | sed 's/^\t//; s/: .*//' | sort -u >"$T/differ"
grep -v '^#' "$LISTED" | cut -f1 | sort >"$T/listed"
check_eq "every listed key is explained" "" "$(grep -v '^#' "$LISTED" | awk -F '\t' 'NF < 2 || $2 == ""')"

unlisted=$(comm -23 "$T/differ" "$T/listed")
check_eq "every line that differs from the real H200 is listed" "" "$unlisted"
while read -r key; do
        [ -n "$key" ] || continue
        echo "  real:   $(grep -F -- "$key: " "$KEPT" | head -1)"
        echo "  simgpu: $(grep -F -- "$key: " "$T/sim" | head -1)"
done <<<"$unlisted"
check_eq "every listed line still differs" "" "$(comm -13 "$T/differ" "$T/listed")"
check_eq "the same lines in both, the listed aside" \
        "$(($(wc -l <"$KEPT") - $(wc -l <"$T/listed")))" \
        "$(comm -12 "$T/real.sorted" "$T/sim.sorted" | wc -l)"
