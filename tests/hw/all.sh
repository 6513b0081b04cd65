#!/bin/bash
# Runs every real-hardware script in one go on a GPU machine, from a bundle of binaries built
# elsewhere (tests/hw/bundle.sh makes it). Each script writes its transcript under $OUT.
# Usage: tests/hw/all.sh BUNDLE_DIR [SCRIPT...]   (default: list probe lifecycle run)
set -u
bundle=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
scripts=${*:-list probe lifecycle run}
status=0
for name in $scripts; do
        echo "=== tests/hw/$name.sh"
        case $name in
        list) bash "$here/list.sh" "$bundle/mpsmig" ;;
        probe) bash "$here/probe.sh" "$bundle/mpsmig-probe" ;;
        lifecycle) bash "$here/lifecycle.sh" "$bundle/mpsmig" "$bundle/mpsmig-probe" ;;
        run) bash "$here/run.sh" "$bundle/mpsmig" "$bundle/mpsmig-probe" ;;
        config_limits) bash "$here/config_limits.sh" "$bundle/mpsmig" "$bundle/mpsmig-probe" ;;
        *) bash "$here/$name.sh" "$bundle" ;;
        esac || { echo "=== tests/hw/$name.sh exited with status $?"; status=1; }
done
leftover=$(pgrep -c -x nvidia-cuda-mps || true)
echo "=== control daemons or servers still present (zombies included): $leftover"
exit $status
