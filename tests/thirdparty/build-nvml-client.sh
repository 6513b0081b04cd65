#!/bin/bash
# Builds the third-party NVML client (tests/thirdparty/nvml-client, Debian's nvml-wrapper) into
# BUILD_DIR/nvml-client with Debian's cargo and rustc, offline, and prints the binary's path.
# Once per build folder: later calls (and a second test waiting on the lock) find it built.
# Exit status 77 when the Debian packages are not installed (`make deps` installs them), 1 when
# the build fails.
# Usage: tests/thirdparty/build-nvml-client.sh BUILD_DIR
set -u
build=${1:?Usage: build-nvml-client.sh BUILD_DIR}
source_dir=$(cd "$(dirname "$0")/nvml-client" && pwd)
packages="cargo rustc librust-nvml-wrapper-dev"

missing=""
for package in $packages; do
        dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed' ||
                missing="$missing $package"
done
if [ -n "$missing" ]; then
        echo "the Debian packages$missing are not installed: \`make deps\` (as root) installs them" >&2
        exit 77
fi

mkdir -p "$build/nvml-client" || exit 1
out=$(cd "$build/nvml-client" && pwd)
# The copy keeps the sources' times, so cargo rebuilds only what changed; Cargo.lock is written
# there, never into the source tree.
(
        flock 9
        mkdir -p "$out/crate" &&
                cp -a "$source_dir/." "$out/crate/" &&
                cd "$out/crate" &&
                env -i PATH=/usr/bin:/bin HOME="${HOME:-/root}" CARGO_HOME="$out/cargo-home" \
                        CARGO_TARGET_DIR="$out/target" RUSTC=/usr/bin/rustc \
                        /usr/bin/cargo build --release --offline --quiet >"$out/build.log" 2>&1
) 9>"$out/.lock"
status=$?
if [ "$status" -ne 0 ]; then
        echo "building the NVML client failed (status $status):" >&2
        cat "$out/build.log" >&2
        exit 1
fi
echo "$out/target/release/nvml-client"
