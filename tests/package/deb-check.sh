#!/bin/bash
# The Debian packages (debian/): built from a copy of the tree in build-deb/ (dpkg-buildpackage
# writes beside the source folder, so the copy keeps it out of the work tree), checked with
# lintian, then, as root, installed with apt-get and run from the installed files: mpsmig
# --version, and mpsmig list/start/status/stop over simgpu-run. Removed again afterwards unless
# they were installed before. --build-only stops after lintian.
# The tests already ran in `make check`: the package is built with nocheck (no tests compiled).
set -euo pipefail

source=$(cd "$(dirname "$0")/../.." && pwd)
out=$source/build-deb
build_only=false
[ "${1:-}" = --build-only ] && build_only=true
checks=0
failures=0
pass() {
        checks=$((checks + 1))
        echo "ok: $1"
}
fail() {
        checks=$((checks + 1))
        failures=$((failures + 1))
        echo "FAIL: $1"
}
finish() {
        echo "deb-check: $checks checks, $failures failed"
        [ "$failures" -eq 0 ]
}

# A fresh copy: the files git knows and the new ones it does not ignore (so uncommitted work is
# packaged too), nothing of build/ or an earlier build-deb/.
rm -rf "$out"
mkdir -p "$out/mpsmig"
(cd "$source" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
        tar --null -T - -cf -) | tar -xf - -C "$out/mpsmig"

version=$(cd "$out/mpsmig" && dpkg-parsechangelog -S Version)
echo "deb-check: building mpsmig $version in $out (log: $out/build.log)"
if (cd "$out/mpsmig" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=${JOBS:-2}" \
        dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
        pass "dpkg-buildpackage -us -uc -b"
else
        tail -40 "$out/build.log"
        fail "dpkg-buildpackage -us -uc -b"
        finish
        exit 1
fi
arch=$(dpkg --print-architecture)
mpsmig_deb=$out/mpsmig_${version}_$arch.deb
simgpu_deb=$out/simgpu_${version}_$arch.deb
for deb in "$mpsmig_deb" "$simgpu_deb"; do
        [ -f "$deb" ] && pass "built ${deb##*/}" || fail "built ${deb##*/}"
done

# Every warning and error fails; the few overrides say why in debian/*.lintian-overrides.
if lintian --fail-on error,warning "$out"/mpsmig_"${version}"_"$arch".changes >"$out/lintian.log" 2>&1; then
        pass "lintian: no error, no warning"
else
        cat "$out/lintian.log"
        fail "lintian: no error, no warning"
fi

contents=$(dpkg-deb -c "$mpsmig_deb")
for file in ./usr/bin/mpsmig ./usr/bin/mpsmig-probe ./usr/share/man/man8/mpsmig.8.gz \
        ./usr/share/bash-completion/completions/mpsmig ./lib/systemd/system/mpsmig.service \
        ./lib/systemd/system/mpsmig-agent.service ./usr/share/doc/mpsmig/agent.md \
        ./usr/lib/tmpfiles.d/mpsmig.conf ./usr/share/doc/mpsmig/copyright ./usr/share/doc/mpsmig/cli.md \
        "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/slurm-wlm/mpsmig_spank.so" \
        ./usr/share/doc/mpsmig/slurm.md ./usr/share/doc/mpsmig/examples/slurm/plugstack.conf \
        ./usr/share/doc/mpsmig/examples/slurm/prolog.sh; do
        grep -q " $file\( \|$\)" <<<"$contents" && pass "mpsmig has $file" || fail "mpsmig has $file"
done
contents=$(dpkg-deb -c "$simgpu_deb")
for file in ./usr/bin/simgpu-run ./usr/share/man/man1/simgpu-run.1.gz simgpu/lib/libnvidia-ml.so.1 \
        simgpu/bin/nvidia-cuda-mps-control simgpu/topologies/a30-seed.json; do
        grep -q "$file\( \|$\)" <<<"$contents" && pass "simgpu has $file" || fail "simgpu has $file"
done

if $build_only; then
        finish
        exit
fi
if [ "$(id -u)" != 0 ]; then
        echo "skip: installing the packages needs root (CI runs as root); built and checked only"
        finish
        exit
fi

installed_before=$(dpkg-query -W -f='${db:Status-Abbrev}\n' mpsmig simgpu 2>/dev/null | grep -c '^ii' || true)
apt_get() {
        DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 "$@"
}
cleanup() {
        if [ "$installed_before" = 0 ]; then
                apt_get purge mpsmig simgpu >"$out/purge.log" 2>&1 ||
                        echo "deb-check: could not remove the packages (log: $out/purge.log)"
        fi
        [ -z "${runtime:-}" ] || rm -rf "$runtime"
}
trap cleanup EXIT
if apt_get install --no-install-recommends "$mpsmig_deb" "$simgpu_deb" >"$out/install.log" 2>&1; then
        pass "apt-get install the two packages"
else
        cat "$out/install.log"
        fail "apt-get install the two packages"
        finish
        exit 1
fi

# From the installed files only: a PATH without the build, from a folder outside the tree.
cd /
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
check_eq() {
        if [ "$2" = "$3" ]; then pass "$1"; else
                fail "$1"
                echo "  expected: $2"
                echo "  actual:   $3"
        fi
}
check_eq "command -v mpsmig" /usr/bin/mpsmig "$(command -v mpsmig)"
check_eq "command -v simgpu-run" /usr/bin/simgpu-run "$(command -v simgpu-run)"
check_eq "mpsmig --version" "mpsmig $version" "$(mpsmig --version 2>&1)"
check_eq "the installed mpsmig is stripped" 0 "$(readelf -S /usr/bin/mpsmig | grep -c '\.debug_info')"
list=$(simgpu-run a30-seed -- mpsmig list --wide 2>&1) && pass "simgpu-run a30-seed -- mpsmig list --wide" ||
        fail "simgpu-run a30-seed -- mpsmig list --wide: $list"
grep -q "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0" <<<"$list" && pass "list shows the seed's MIG devices" ||
        fail "list shows the seed's MIG devices: $list"
usage=$(simgpu-run 2>&1) || true
grep -q "^Usage: simgpu-run TOPOLOGY -- COMMAND" <<<"$usage" && pass "simgpu-run's usage names it" ||
        fail "simgpu-run's usage names it: $usage"

# The daemons' whole life over the installed simgpu, in a private runtime folder; the simulated
# daemons end with this shell whatever happens (SIMGPU_MPS_EXIT_WITH_PID, docs/simgpu-mps.md).
# The node is a copy of the installed a30-seed with UUIDs of its own: mpsmig refuses a device
# that another simulated daemon (a test running meanwhile) already serves.
runtime=$(mktemp -d /tmp/mpsmig-deb.XXXXXX)
chmod 0755 "$runtime"
export SIMGPU_MPS_EXIT_WITH_PID=$$
suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
sed -E "s/((GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)[0-9a-f]{12}/\1$suffix/g" \
        "$(dirname "$(readlink -f /usr/bin/simgpu-run)")/topologies/a30-seed.json" >"$runtime/node.json"
for verb in start status stop; do
        result=$(simgpu-run "$runtime/node.json" -- mpsmig "$verb" --runtime-dir "$runtime/run" 2>&1) &&
                pass "installed mpsmig $verb over simgpu" || fail "installed mpsmig $verb over simgpu: $result"
done
# Minimal images tell dpkg not to unpack man pages (path-exclude in /etc/dpkg/dpkg.cfg.d).
if grep -qrs '^path-exclude=/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d; then
        echo "skip: man mpsmig: dpkg is told not to install man pages here (path-exclude)"
else
        man_page=$(MANWIDTH=80 man mpsmig 2>&1 | head -5) || true
        grep -q "mpsmig - run one NVIDIA MPS control daemon per MIG device" <<<"$man_page" &&
                pass "man mpsmig" || fail "man mpsmig: $man_page"
fi
finish
