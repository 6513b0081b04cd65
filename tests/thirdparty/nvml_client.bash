# Helpers for the tests that run the third-party NVML client (tests/thirdparty/nvml-client) over
# simgpu. Source after tests/lib.sh.

# nvml_client_or_skip: builds the client once per build folder and sets CLIENT to it. Without
# Debian's cargo, rustc and librust-nvml-wrapper-dev the test reports SKIP (exit status 77); a
# build that fails is a failure.
nvml_client_or_skip() {
        local status=0
        CLIENT=$(bash "$MPSMIG_SOURCE/tests/thirdparty/build-nvml-client.sh" "$MPSMIG_BUILD") ||
                status=$?
        if [ "$status" -eq 77 ]; then
                echo "SKIP: Debian's cargo, rustc and librust-nvml-wrapper-dev are not installed (make deps)"
                trap - EXIT
                rm -rf "$T"
                exit 77
        fi
        if [ "$status" -ne 0 ]; then
                fail "the NVML client builds (tests/thirdparty/build-nvml-client.sh, status $status)"
                exit 1
        fi
        pass "the NVML client is built ($CLIENT)"
        # A sanitized simgpu NVML (build-asan) leaves the sanitizer runtime to the program that
        # loads it: the Rust client has none, so it gets clang's, preloaded into it alone.
        CLIENT_PRELOAD=
        if nm -D --undefined-only "$MPSMIG_BUILD/simgpu/lib/libnvidia-ml.so.1" | grep -q ' __asan_'; then
                CLIENT_PRELOAD=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
                if [ ! -f "$CLIENT_PRELOAD" ]; then
                        fail "simgpu's NVML is sanitized but clang's ASan runtime is missing"
                        exit 1
                fi
        fi
}

# run_client TOPOLOGY OUT [ARGUMENT...]: the client over simgpu's TOPOLOGY (a name or a path),
# its stdout in OUT and its stderr in OUT.err, 60 s at most; sets client_rc (124: it hung).
run_client() {
        local topology=$1 out=$2
        shift 2
        client_rc=0
        timeout -k 5 60 "$SIMRUN" "$topology" -- env ${CLIENT_PRELOAD:+LD_PRELOAD="$CLIENT_PRELOAD"} \
                "$CLIENT" "$@" >"$out" 2>"$out.err" || client_rc=$?
}
