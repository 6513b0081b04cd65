#!/bin/bash
# `mpsmig bench` over simgpu: its figures are labelled simulated; through MPS, 4 clients finish
# much sooner than 4 time-sliced ones; a server started ahead lets the first client start sooner
# than a lazily started one; --plot writes an SVG with gnuplot, or its script without gnuplot;
# the refusals (no daemon, bad --clients).
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
topology=$(private_topology h100)
export SIMGPU_STATE_DIR=$T
# Few, long kernels: simgpu spends CPU per launch, not per simulated cycle.
work=(--kernels 10 --spin 20000000)

m bench "${work[@]}" --clients 2 0
check_eq "no daemon: exit 1" 1 "$rc"
check_contains "no daemon: said, with what to do" "is not running: \`mpsmig start" "$err"

m start --whole-gpus
check_eq "start: exit 0" 0 "$rc"

m bench "${work[@]}" --clients 1,4 --json --plot "$T/bench.svg" 0
check_eq "bench: exit 0" 0 "$rc"
check_contains "json: simulated" '"timings": "simulated"' "$out"
printf '%s\n' "$out" >"$T/bench.json"
# value N KEY: the KEY of the point with N clients, with MPS ("mps") or without ("time_sliced")
value() {
        awk -v n="$1" -v part="$2" '
                /"clients":/ { gsub(/[^0-9]/, "", $2); in_point = ($2 == n) }
                in_point && $1 == "\"" part "\":" { in_part = 1 }
                in_part && $1 == "\"seconds\":" { gsub(/,/, "", $2); print $2; exit }' "$T/bench.json"
}
mps=$(value 4 mps)
sliced=$(value 4 time_sliced)
check_eq "4 clients: MPS ($mps s) beats time-slicing ($sliced s) by 2x at least" yes \
        "$(awk -v m="$mps" -v s="$sliced" 'BEGIN { print (m > 0 && s >= 2 * m) ? "yes" : "no" }')"
lazy=$(sed -n 's/.*"lazy_seconds": \([0-9.]*\).*/\1/p' "$T/bench.json")
ahead=$(sed -n 's/.*"ahead_seconds": \([0-9.]*\).*/\1/p' "$T/bench.json")
check_eq "start-up: ahead ($ahead s) sooner than lazy ($lazy s)" yes \
        "$(awk -v l="$lazy" -v a="$ahead" 'BEGIN { print (l > a && a >= 0) ? "yes" : "no" }')"
check_eq "svg: written" yes "$([ -s "$T/bench.svg" ] && echo yes)"
check_eq "svg: an SVG document" "<svg" "$(grep -o '^<svg' "$T/bench.svg" | head -1)"
check_eq "svg: closed" 1 "$(grep -c "^</svg>$" "$T/bench.svg")"
check_contains "svg: the three curves" "through MPS" "$(cat "$T/bench.svg")"
check_contains "svg: labelled simulated" "simgpu: timings simulated" "$(cat "$T/bench.svg")"
check_eq "svg: no temporary file left" "" "$(ls -A "$T" | grep '^\.bench\.svg\.' || true)"

m bench "${work[@]}" --clients 2 --no-startup 0
check_eq "table: exit 0" 0 "$rc"
check_contains "table: labelled simulated" "timings SIMULATED by simgpu, not measured" "$out"
check_contains "table: start-up skipped" "first client's start-up: not measured (--no-startup)" "$out"

# Without gnuplot on PATH: the script instead, and a note.
mkdir "$T/bin"
for program in /usr/bin/* /bin/*; do
        name=${program##*/}
        [ "$name" = gnuplot ] || [ -e "$T/bin/$name" ] || ln -s "$program" "$T/bin/$name"
done
PATH=$T/bin m bench "${work[@]}" --clients 1 --no-startup --plot "$T/plot.svg" 0
check_eq "no gnuplot: exit 0" 0 "$rc"
check_contains "no gnuplot: said" "gnuplot is not installed: wrote the plot's script to $T/plot.svg.gp" "$err"
check_contains "no gnuplot: the script" "set output '$T/plot.svg'" "$(cat "$T/plot.svg.gp")"

m bench --clients 0 0
check_eq "--clients 0: exit 2" 2 "$rc"
m bench --clients 1,,2 0
check_eq "--clients 1,,2: exit 2" 2 "$rc"
m bench --clients 49 0
check_eq "--clients 49: exit 2" 2 "$rc"
check_contains "--clients 49: said" "--clients takes numbers of clients from 1 to 48" "$err"
m bench 0 1
check_eq "two targets: exit 2" 2 "$rc"
m stop --whole-gpus
