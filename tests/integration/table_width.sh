#!/bin/bash
# Tables fit 100 columns with default options (stdout is not a terminal here): list, start,
# status and stop over the seed's A30 and over 56 MIG devices (h100x8-1g), UUIDs cut to a unique
# prefix; --wide shows them whole. status names a stale daemon above the table and lists its row
# first, so that one stale row among 56 good ones is not buried.
source "$MPSMIG_SOURCE/tests/lib.sh"
source "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"

# fits WHAT: no line of the last output is wider than 100 columns (… counts as one).
fits() {
        check_eq "$1: no line over 100 columns" "" "$(sed 's/…/./g' <<<"$out" | LC_ALL=C awk 'length > 100')"
}

for name in a30-seed h100x8-1g; do
        use_topology "$name"
        targets=$(wc -w <<<"$uuids")
        m list
        fits "$name list"
        check_contains "$name list: the SM header" "  SM  " "$out"
        m start
        check_eq "$name start: exit 0" 0 "$rc"
        fits "$name start"
        m status
        check_eq "$name status: exit 0" 0 "$rc"
        fits "$name status"
        check_contains "$name status: UUIDs cut to a prefix" "${UUID0:0:12}…" "$out"
        check_not_contains "$name status: no problem line when all run" "need" "$out"
        m status --wide
        check_contains "$name status --wide: UUIDs whole" "$UUID0  running" "$out"
        m status --json
        check_eq "$name status --json: uptime in milliseconds" "" \
                "$(grep -E '"uptime_seconds": [0-9]+\.[0-9]{4,}' <<<"$out")"
        check_contains "$name status --json: UUIDs whole" "\"$UUID0\"" "$out"

        # One daemon killed: stale. The line above the table names it; its row comes first.
        last=$(tail -1 <<<"$uuids")
        pid=$(daemons "$last")
        kill -9 "$pid"
        wait_gone "$pid" || fail "$name: the killed daemon is gone"
        m status
        check_eq "$name one stale: exit 3" 3 "$rc"
        fits "$name status, one stale"
        check_eq "$name one stale: the line above the table" 1 \
                "$(grep -cE "^1 of $targets needs a look: [0-9:]+ stale\$" <<<"$out")"
        first_row=$(awk 'seen { print; exit } /^TARGET/ { seen = 1 }' <<<"$out")
        check_contains "$name one stale: its row first" "${last:0:12}" "$first_row"
        check_contains "$name one stale: the first row is stale" " stale " "$first_row"

        m stop
        check_eq "$name stop: exit 0" 0 "$rc"
        fits "$name stop"
done
