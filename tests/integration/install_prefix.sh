#!/bin/bash
# `cmake --install` to a prefix gives a working mpsmig, a self-contained simgpu with simgpu-run on
# PATH, the man pages, the bash completion and the systemd files; `make uninstall` removes all of
# it again, from install_manifest.txt.
. "$MPSMIG_SOURCE/tests/lib.sh"

prefix=$T/prefix
run_capture cmake --install "$MPSMIG_BUILD" --prefix "$prefix"
check_eq "install: exit 0" 0 "$rc"
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$MPSMIG_BUILD/CMakeCache.txt")
for file in bin/mpsmig bin/mpsmig-probe bin/simgpu-run "$libdir/simgpu/simgpu-run" \
        "$libdir/simgpu/lib/libnvidia-ml.so.1" "$libdir/simgpu/lib/libcuda.so.1" \
        "$libdir/simgpu/bin/nvidia-cuda-mps-control" "$libdir/simgpu/bin/nvidia-smi" \
        "$libdir/simgpu/topologies/a30-seed.json" share/bash-completion/completions/mpsmig \
        lib/systemd/system/mpsmig.service lib/tmpfiles.d/mpsmig.conf; do
        [ -e "$prefix/$file" ] && pass "installed: $file" || fail "installed: $file"
done
if [ -f "$MPSMIG_BUILD/mpsmig_spank.so" ]; then
        file=$libdir/slurm-wlm/mpsmig_spank.so
        [ -f "$prefix/$file" ] && pass "installed: $file" || fail "installed: $file"
else
        echo "skip: no Slurm plugin in this build (configured with -DMPSMIG_SPANK=OFF)"
fi
if [ -f "$MPSMIG_BUILD/man/mpsmig.8" ]; then
        for file in share/man/man8/mpsmig.8 share/man/man1/mpsmig-probe.1 \
                share/man/man1/simgpu-run.1; do
                [ -f "$prefix/$file" ] && pass "installed: $file" || fail "installed: $file"
        done
else
        echo "skip: no man pages in this build (no scdoc at configure time)"
fi
check_eq "bin/simgpu-run is a relative link" "../$libdir/simgpu/simgpu-run" \
        "$(readlink "$prefix/bin/simgpu-run")"
configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$MPSMIG_BUILD/CMakeCache.txt")
check_contains "the unit runs mpsmig from the configured prefix" \
        "ExecStart=$configured/bin/mpsmig start" "$(cat "$prefix/lib/systemd/system/mpsmig.service")"

# Through the link on PATH, as a user would call it.
run_capture env PATH="$prefix/bin:$PATH" simgpu-run a30-seed -- mpsmig list --json
check_eq "installed mpsmig over installed simgpu-run: exit 0" 0 "$rc"
check_contains "the seed's first MIG device" "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0" "$out"
run_capture "$prefix/bin/simgpu-run"
check_eq "simgpu-run without arguments: exit 2" 2 "$rc"
check_contains "its usage names it" "Usage: simgpu-run TOPOLOGY -- COMMAND" "$err"
run_capture "$prefix/bin/mpsmig" --version
check_contains "version" "mpsmig " "$out"

# make uninstall: every file the manifest lists is gone, simgpu's folders with them.
manifest=$MPSMIG_BUILD/install_manifest.txt
check_eq "the manifest lists bin/simgpu-run" 1 "$(grep -c "^$prefix/bin/simgpu-run$" "$manifest")"
run_capture make -s -C "$MPSMIG_SOURCE" uninstall BUILD="$MPSMIG_BUILD"
check_eq "uninstall: exit 0" 0 "$rc"
left=$(find "$prefix" ! -type d)
check_eq "uninstall: no file left under the prefix" "" "$left"
[ -e "$prefix/$libdir/simgpu" ] && fail "uninstall: simgpu's folder is left" ||
        pass "uninstall: simgpu's folder is gone"
[ -e "$prefix/$libdir/slurm-wlm" ] && fail "uninstall: the Slurm plugin's folder is left" ||
        pass "uninstall: the Slurm plugin's folder is gone"
