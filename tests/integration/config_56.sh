#!/bin/bash
# The 56-instance node (eight H100s cut into seven 1g.10gb instances each) with a configuration
# that gives different limits by profile, by GPU and by instance UUID: config check resolves them,
# start applies them to all 56 daemons at once, and status --json reads each back as resolved.
# 56 daemons at once are seen by every other test that scans the machine's daemons (a user's
# start warns about each daemon it cannot place), so this runs alone.
# ctest: RUN_SERIAL
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"

use_topology h100x8-1g
set -- $uuids
check_eq "56 instances" 56 "$#"
special=$UUID9      # GPU 1, its third instance
quiet=$UUID30       # GPU 4
ahead=$UUID55       # GPU 7, the last one
conf=$T/mpsmig.conf
printf '%s\n' "[global]
threads = 100
priority = 0

[profile 1g.10gb]
threads = 60
pinned_mem = 90%

[gpu 3]
threads = 30
priority = 1

[instance $special]
threads = 25
pinned_mem = 4G

[instance $quiet]
priority = 1

[instance $ahead]
start_server = root" >"$conf"
chmod 0644 "$conf"

# expected UUID: "THREADS PINNED PRIORITY" as the daemon reads them back (90% of 9984 MiB is
# 8985M, read back rounded down as 8G). A profile is more specific than a GPU: GPU 3's instances
# get the profile's threads and the GPU's priority.
expected() {
        local threads=60 pinned=8G priority=0 gpu
        gpu=$(awk -v u="$1" '$0 == u { print int((NR - 1) / 7); exit }' <<<"$uuids")
        [ "$gpu" = 3 ] && priority=1
        [ "$1" = "$special" ] && threads=25 && pinned=4G
        [ "$1" = "$quiet" ] && priority=1
        echo "$threads.0 $pinned $priority"
}

m --config "$conf" config check --wide
check_eq "config check: exit 0" 0 "$rc"
check_contains "config check: 56 targets with limits" "56 targets, 56 with limits" "$out"
row=$(grep "$special" <<<"$out" | tr -s ' ')
check_contains "config check: the special instance" "1g.10gb 25% 4G 0 - instance, global" "$row"
row=$(grep "^3:" <<<"$out" | head -1 | tr -s ' ')
check_contains "config check: the profile wins over the GPU, the GPU over global" \
        "1g.10gb 60% 8985M (reads 8G) 1 - profile 1g.10gb, gpu 3" "$row"

m --config "$conf" start
check_eq "start 56: exit 0" 0 "$rc"
check_eq "start 56: all started" 56 "$(rows started "$out")"
check_contains "start: the rounding note" "55 pinned limits are not a whole number of G" "$err"

# status --json: UUID THREADS PINNED PRIORITY per target, in the document's order.
m status --json
check_eq "status --json: exit 0" 0 "$rc"
read_back=$(awk '
        /^      "uuid": / { gsub(/[",]/, "", $2); uuid = $2 }
        /"default_active_thread_percentage":/ { gsub(/,/, "", $2); threads = $2 }
        /"default_pinned_mem_limit": null/ { pinned = "-" }
        /^        "text": / { gsub(/[",]/, "", $2); pinned = $2 }
        /"default_client_priority":/ { gsub(/,/, "", $2); print uuid, threads, pinned, $2 }
' <<<"$out")
check_eq "status --json: 56 targets read" 56 "$(wc -l <<<"$read_back")"
wrong=0
for uuid in $uuids; do
        got=$(grep "^$uuid " <<<"$read_back" | cut -d' ' -f2-)
        want=$(expected "$uuid")
        if [ "$got" != "$want" ]; then
                echo "  $uuid: read back '$got', configured '$want'"
                wrong=$((wrong + 1))
        fi
done
check_eq "every daemon reads back its own limits" 0 "$wrong"
check_eq "the special instance, by UUID" "$special 25.0 4G 0" "$(grep "^$special " <<<"$read_back")"
check_eq "a GPU 3 instance: the profile's threads, the GPU's priority" "$UUID21 60.0 8G 1" \
        "$(grep "^$UUID21 " <<<"$read_back")"
servers=$(awk '/"servers": \[$/ { n++ } END { print n + 0 }' <<<"$out")
check_eq "one server started ahead" 1 "$servers"
check_contains "... on the instance that asked" "\"pid\"" \
        "$(awk -v u="\"uuid\": \"$ahead\"" 'index($0, u) { on = 1 } on && /"client_count"/ { exit } on' <<<"$out")"

m --config "$conf" stop
check_eq "stop 56: exit 0" 0 "$rc"
check_eq "stop 56: all stopped" 56 "$(rows "stopped \(quit\)" "$out")"
check_eq "no daemon left" "" "$(daemons)"
