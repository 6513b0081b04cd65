#!/bin/bash
# `mpsmig list`, `list --whole-gpus --wide` and `list --json` over EVERY simgpu topology, each
# compared with its reviewed transcript in tests/integration/expected/ (stdout, then "[stderr] "
# lines, then "[exit N]"; the .json files hold stdout only). The plain table fits 100 columns
# (UUIDs cut to a unique prefix), --wide shows them whole. A topology without expected files fails.
# MPSMIG_UPDATE_EXPECTED=1 rewrites the files instead: review `git diff` before keeping them.
source "$MPSMIG_SOURCE/tests/lib.sh"
EXPECTED=$MPSMIG_SOURCE/tests/integration/expected
FIELDS=$MPSMIG_SOURCE/tests/integration/list_fields.awk

# transcript FILE: what the last run_capture printed and returned, in the expected files' format.
transcript() {
        {
                cat "$T/.out"
                sed 's/^/[stderr] /' "$T/.err"
                echo "[exit $rc]"
        } >"$1"
}

# compare WHAT EXPECTED_FILE ACTUAL_FILE
compare() {
        if [ "${MPSMIG_UPDATE_EXPECTED:-}" = 1 ]; then
                cp "$3" "$2"
                pass "$1 (expected file rewritten)"
        elif [ ! -f "$2" ]; then
                fail "$1: no expected file $2 (MPSMIG_UPDATE_EXPECTED=1 writes it; review it)"
        elif diff -u "$2" "$3" >"$T/diff"; then
                pass "$1"
        else
                fail "$1 differs from ${2#"$MPSMIG_SOURCE"/}"
                cat "$T/diff"
        fi
}

# The UUIDs a table marks "target", in order.
table_targets() {
        awk '$0 ~ / target  / { print $NF }' "$1"
}

# The UUIDs in a JSON document's targets[], in order.
json_targets() {
        awk -f "$FIELDS" "$1" | awk -F '\t' '$1 ~ /^targets\.[0-9]+$/ { print $2 }'
}

topologies=0
for file in "$TOPOLOGIES"/*.json; do
        name=$(basename "$file" .json)
        topologies=$((topologies + 1))

        sim "$file" "$MPSMIG" list
        transcript "$T/$name.txt"
        table_rc=$rc
        table_err=$err
        compare "$name: list" "$EXPECTED/$name.txt" "$T/$name.txt"

        # mig-pending's MIG cells spell out two pending mode changes; no UUID cut makes up for them.
        if [ "$name" != mig-pending ]; then
                check_eq "$name: list fits 100 columns" "" "$(sed 's/…/./g' "$T/.out" | LC_ALL=C awk 'length > 100')"
        fi

        sim "$file" "$MPSMIG" list --whole-gpus --wide
        transcript "$T/$name.whole.txt"
        compare "$name: list --whole-gpus" "$EXPECTED/$name.whole.txt" "$T/$name.whole.txt"
        whole_rc=$rc

        sim "$file" "$MPSMIG" list --json
        cp "$T/.out" "$T/$name.json"
        compare "$name: list --json" "$EXPECTED/$name.json" "$T/$name.json"
        check_eq "$name: list --json exits like list" "$table_rc" "$rc"
        check_eq "$name: list --json says on stderr what list says" "$table_err" "$err"
        if [ -s "$T/$name.json" ]; then
                if awk -f "$FIELDS" "$T/$name.json" >"$T/fields" 2>"$T/fields.err"; then
                        pass "$name: list --json is one well-formed document"
                else
                        fail "$name: list --json is not well-formed: $(cat "$T/fields.err")"
                fi
                check_eq "$name: schema_version" "schema_version	1" "$(grep '^schema_version' "$T/fields")"
                check_eq "$name: the table names the JSON's targets by prefix" "" \
                        "$(paste -d ' ' <(table_targets "$T/$name.txt" | sed 's/…$//') \
                                <(json_targets "$T/$name.json") | awk 'index($2, $1) != 1')"
                check_eq "$name: as many targets in the table as in the JSON" \
                        "$(table_targets "$T/$name.txt" | wc -l)" "$(json_targets "$T/$name.json" | wc -l)"
        fi

        sim "$file" "$MPSMIG" list --whole-gpus --json
        check_eq "$name: list --whole-gpus --json exits like list --whole-gpus" "$whole_rc" "$rc"
        if [ -s "$T/.out" ]; then
                cp "$T/.out" "$T/$name.whole.json"
                check_eq "$name: --whole-gpus: the table and the JSON name the same targets" \
                        "$(table_targets "$T/$name.whole.txt")" "$(json_targets "$T/$name.whole.json")"
        fi
done

# The glob must have found the topologies the project is specified with.
for name in a30-seed h100 h100x8-1g a100-mixed mig-empty mig-pending no-gpu driver-missing; do
        [ -f "$T/$name.txt" ] || fail "topology $name was not listed"
done
check_eq "topologies found" yes "$([ "$topologies" -ge 8 ] && echo yes || echo "only $topologies")"
