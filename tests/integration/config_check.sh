#!/bin/bash
# The configuration file as `mpsmig config check` reads it: which file (--config, $MPSMIG_CONFIG,
# the default that may be absent), the resolved limits per target and the section each came from
# (table and JSON, over this node or a simgpu topology), and every kind of bad file refused as
# FILE:LINE with exit 2, by config check and by start, with nothing started or made.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"

use_topology a30-seed
conf=$T/mpsmig.conf

# write_conf TEXT: the configuration file, mode 0644 as an administrator leaves it.
write_conf() {
        printf '%s\n' "$1" >"$conf"
        chmod 0644 "$conf"
}

write_conf "# limits for the seed node
[global]
threads = 40
pinned_mem = 10G
start_server = root

[profile 1c.2g.12gb]
pinned_mem = 90%

[gpu 0]
priority = 1

[instance $UUID1]
threads = 25
pinned_mem = 1500M

[profile 7g.80gb]
threads = 10"

m --config "$conf" config check --wide
check_eq "config check: exit 0" 0 "$rc"
check_contains "config check: the file and its verdict" "$conf: valid; 4 targets, 4 with limits" "$out"
row0=$(grep "^0:1:0 " <<<"$out")
row1=$(grep "^0:1:1 " <<<"$out")
check_contains "0:1:0: threads from [global]" " 40% " "$row0"
check_contains "0:1:0: 90% of 11968 MiB, read back rounded" "10771M (reads 10G)" "$row0"
check_contains "0:1:0: priority from [gpu 0]" "  1  " "$row0"
check_contains "0:1:0: server ahead for root" " root " "$row0"
check_contains "0:1:0: where each came from" "profile 1c.2g.12gb, gpu 0, global" "$row0"
check_contains "0:1:1: threads from its [instance]" " 25% " "$row1"
check_contains "0:1:1: pinned from its [instance], rounded" "1500M (reads 1G)" "$row1"
check_contains "0:1:1: the instance first" "instance, gpu 0, global" "$row1"
check_contains "a profile the node does not have: a note" \
        "$conf:17: [profile 7g.80gb] matches no MIG device of this node" "$err"

m --config "$conf" config check --json
check_eq "config check --json: exit 0" 0 "$rc"
check_contains "json: the verb" '"verb": "config check"' "$out"
check_contains "json: the profile's section and line" '"section": "profile 1c.2g.12gb",
          "line": 8' "$out"
check_contains "json: the instance's threads and line" '"value": 25,
          "section": "instance '"$UUID1"'",
          "line": 14' "$out"
check_contains "json: bytes of 90%" '"bytes": 11294212096,
          "percent": 90,
          "reads_back": "10G"' "$out"
check_contains "json: the unused profile" '"unused_profiles": [
    "7g.80gb"
  ]' "$out"

# Which file: --config, else $MPSMIG_CONFIG, else the default (absent here: not an error).
MPSMIG_CONFIG=$conf m config check
check_contains "MPSMIG_CONFIG names the file" "$conf: valid" "$out"
m --config "$conf" config check "$T/none.conf"
check_eq "a named file that does not exist: exit 2" 2 "$rc"
check_contains "... says so" "the configuration file $T/none.conf does not exist" "$err"
MPSMIG_CONFIG=$T/none.conf m status
check_eq "\$MPSMIG_CONFIG naming no file: status exits 2" 2 "$rc"
check_contains "... naming the variable" 'named by $MPSMIG_CONFIG' "$err"
if [ ! -e /etc/mpsmig/mpsmig.conf ]; then
        m config check
        check_eq "no file at all: exit 0" 0 "$rc"
        check_contains "no file at all: said" "/etc/mpsmig/mpsmig.conf: absent" "$out"
fi
m --config "" config check
check_eq "--config '': usage error" 2 "$rc"
chmod 0666 "$conf"
m --config "$conf" config check
check_eq "a file others may write: exit 2" 2 "$rc"
check_contains "... says why" "writable by other users" "$err"
chmod 0644 "$conf"

# Over a simgpu topology, from outside simgpu: the 56-instance node has no such instance.
sed -e "s/$UUID1/MIG-85369dc8-6382-158b-16d4-c57e089f9b3f/" "$conf" >"$T/h100x8.conf"
chmod 0644 "$T/h100x8.conf"
run_capture "$MPSMIG" config check --topology h100x8-1g "$T/h100x8.conf"
check_eq "--topology h100x8-1g: exit 0" 0 "$rc"
check_contains "--topology: named" "56 targets (simgpu topology h100x8-1g), 56 with limits" "$out"
check_contains "--topology: its instance by UUID" "instance, gpu 0, global" "$out"
run_capture "$MPSMIG" config check --topology h100x8-1g "$conf"
check_eq "--topology: a UUID of another node: exit 2" 2 "$rc"
check_contains "--topology: FILE:LINE" "$conf:13: [instance $UUID1]: no MIG device or GPU of this node has this UUID" "$err"
run_capture "$MPSMIG" config check --topology no-such-topology "$conf"
check_eq "--topology naming nothing: exit 2" 2 "$rc"

# Bad files: FILE:LINE, exit 2, from config check and from start, which starts nothing.
# bad LINE WORDS TEXT
bad() {
        write_conf "$3"
        m --config "$conf" config check
        check_eq "config check refuses ($2): exit 2" 2 "$rc"
        check_contains "config check refuses ($2)" "mpsmig: $conf:$1: " "$err"
        check_contains "config check says why ($2)" "$2" "$err"
        check_eq "config check refuses ($2): nothing on stdout" "" "$out"
        m --config "$conf" start
        check_eq "start refuses ($2): exit 2" 2 "$rc"
        check_contains "start refuses ($2)" "mpsmig: $conf:$1: $2" "$err"
        check_eq "start refuses ($2): no daemon" "" "$(daemons)"
        check_eq "start refuses ($2): no folder" "" "$(ls "$MPSMIG_RUNTIME_DIR" 2>/dev/null | grep -- -)"
}
bad 2 "unknown section [gpus 0]" "
[gpus 0]"
bad 3 "unknown key 'thread' in [global]" "[global]
threads = 40
thread = 50"
bad 3 "duplicate key 'threads' in [global] (first at line 2)" "[global]
threads = 40
threads = 50"
bad 2 "threads = 150: give the active thread percentage" "[global]
threads = 150"
bad 2 "pinned_mem = 150%: a share of memory is 1% to 100%" "[global]
pinned_mem = 150%"
bad 2 "pinned_mem = 4X: unknown unit 'X'" "[global]
pinned_mem = 4X"
bad 2 "pinned_mem = 4: the unit is missing: give 4G or 4096M" "[global]
pinned_mem = 4"
bad 3 "user = no-such-user-mpsmig: no such user on this system" "[global]
# a user that does not exist
user = no-such-user-mpsmig"
bad 2 "start_server = no-such-user-mpsmig: no such user" "[profile 1c.2g.12gb]
start_server = no-such-user-mpsmig"
bad 1 "[instance MIG-ffffffff-0000-5000-8000-000000000000]: no MIG device or GPU of this node" \
        "[instance MIG-ffffffff-0000-5000-8000-000000000000]
threads = 5"
bad 4 "[gpu 4]: this node has no such GPU" "[global]
threads = 5

[gpu 4]"
bad 2 "'user' belongs in [global]" "[gpu 0]
user = root"
bad 2 "include: '9' names nothing on this node" "[global]
include = 0:1:0, 9"
bad 1 "key 'threads' comes before any section" "threads = 40"

# A bad file while the node cache is there (start would begin daemons from it): still nothing.
write_conf "[global]"
m --config "$conf" start
check_eq "a good file: start" 0 "$rc"
m --config "$conf" stop
check_eq "... and stop" 0 "$rc"
test -f "$MPSMIG_RUNTIME_DIR/node.json"
check_eq "the node cache is there" 0 "$?"
bad 1 "[instance MIG-ffffffff-0000-5000-8000-000000000000]: no MIG device" \
        "[instance MIG-ffffffff-0000-5000-8000-000000000000]
threads = 5"

# The annotated example of contrib/ is a valid file (its [gpu 3] needs a node of four GPUs).
cp "$MPSMIG_SOURCE/contrib/mpsmig.conf" "$T/example.conf"
chmod 0644 "$T/example.conf"
run_capture "$MPSMIG" config check --topology h100x8-1g "$T/example.conf"
check_eq "contrib/mpsmig.conf: valid over h100x8-1g" 0 "$rc"
check_contains "contrib/mpsmig.conf: GPU 3's priority" "100% - 1 - gpu 3, global" \
        "$(grep '^3:' <<<"$out" | head -1 | tr -s ' ')"
check_contains "contrib/mpsmig.conf: its profile is not on that node" "[profile 1g.18gb] matches no MIG device" "$err"
