#!/bin/bash
# A full disk under the runtime folder: start says so (ENOSPC and what to do, not "Input/output
# error"), exits 1 and leaves no half-made folder; a folder whose marker cannot be written is not
# left behind; once there is room, start and stop work. Needs root to mount a small tmpfs: without
# it (or where mounting is not allowed) the test reports SKIP with exit status 77.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed

small=$T/small
mkdir -p "$small"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=64k,mode=0755 tmpfs "$small" 2>/dev/null; then
        echo "SKIP: cannot mount a small tmpfs (needs root, and a system that allows it)"
        trap - EXIT
        rm -rf "$T"
        exit 77
fi
unmount() { umount "$small" 2>/dev/null; }
trap 'unmount; finish' EXIT

mkdir -m 0755 "$small/run"
dd if=/dev/zero of="$small/fill" bs=4k 2>/dev/null
m start --runtime-dir "$small/run"
check_eq "start on a full disk: exit 1" 1 "$rc"
check_contains "start on a full disk: says so" "No space left on device" "$err"
check_contains "start on a full disk: says what to do" "free space on its file system" "$err"
check_not_contains "start on a full disk: not an I/O error" "Input/output error" "$err"
check_eq "start on a full disk: no folder made" "" "$(ls -d "$small/run"/MIG-* 2>/dev/null)"
check_eq "start on a full disk: no daemon" "" "$(daemons)"

# Room for the lock, none for more: the folders' markers cannot be written.
rm -f "$small/fill"
m start --runtime-dir "$small/run" --timeout 2 "$UUID0"
m stop --runtime-dir "$small/run" "$UUID0"
dd if=/dev/zero of="$small/fill" bs=4k 2>/dev/null
m start --runtime-dir "$small/run" "$UUID0"
check_eq "start with no room for a marker: exit 1" 1 "$rc"
check_not_contains "start with no room for a marker: not an I/O error" "Input/output error" "$err"
check_eq "start with no room for a marker: no unmarked folder left" "" \
        "$(find "$small/run" -mindepth 1 -type d '!' -exec test -e '{}/.mpsmig' ';' -print)"

rm -f "$small/fill"
m start --runtime-dir "$small/run" "$UUID0"
check_eq "with room again, start: exit 0" 0 "$rc"
m stop --runtime-dir "$small/run"
check_eq "stop: exit 0" 0 "$rc"
check_eq "no daemon left" "" "$(daemons)"
