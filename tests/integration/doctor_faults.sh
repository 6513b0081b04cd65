#!/bin/bash
# `mpsmig doctor` names each fault that makes MPS silently not work, exits 1, and says what to
# do: a daemon killed with -9 (a stale folder, and a client that bypassed MPS), a shell whose
# CUDA_MPS_PIPE_DIRECTORY has no live daemon, a second daemon on the device, a 0700 parent folder,
# a pinned limit set under a wrong key, a thread percentage the configuration gives and the daemon
# does not; a fault put right is no longer named.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
export SIMGPU_STATE_DIR=$T
pipe0=$MPSMIG_RUNTIME_DIR/$UUID0/pipe
# finding CHECK: the first warning or error line of that check in $out
finding() { grep -E "^  (ERROR|warning) +$1 " <<<"$out" | head -1; }

m start 0:1:0
check_eq "start: exit 0" 0 "$rc"

# A pinned limit under a key the daemon's one device does not have.
ask "$pipe0" 'set_default_device_pinned_mem_limit 1 2G\n' >/dev/null
m doctor 0:1:0
check_eq "wrong key: exit 1" 1 "$rc"
check_contains "wrong key: named" "pinned memory limit of 2G was set under the wrong key 1" "$(finding pinned-limit)"
check_contains "wrong key: what to do" "-> set it under key 0: \`set_default_device_pinned_mem_limit 0 2G\`" "$out"
ask "$pipe0" 'set_default_device_pinned_mem_limit 1 0\n' >/dev/null
m doctor 0:1:0
check_eq "wrong key cleared: exit 0" 0 "$rc"

# A shell pointed at a pipe folder without a daemon.
mkdir "$T/nowhere"
CUDA_MPS_PIPE_DIRECTORY=$T/nowhere m doctor 0:1:0
check_eq "shell without daemon: exit 1" 1 "$rc"
check_contains "shell without daemon: named" "this shell's CUDA_MPS_PIPE_DIRECTORY=$T/nowhere has no live MPS control daemon: CUDA programs started with it run WITHOUT MPS" "$(finding environment)"

# A second daemon on the same device, as the seed scripts start one.
mkdir -p "$T/p2" "$T/l2"
CUDA_VISIBLE_DEVICES=$UUID0 CUDA_MPS_PIPE_DIRECTORY=$T/p2 CUDA_MPS_LOG_DIRECTORY=$T/l2 \
        "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
m doctor 0:1:0
check_eq "second daemon: exit 1" 1 "$rc"
check_contains "second daemon: named" "a second MPS control daemon (pid $(pid_in "$T/p2"), user root, pipe folder $T/p2) serves this device" "$(finding second-daemon)"
ask "$T/p2" 'quit\n' >/dev/null

# A thread percentage the configuration gives, which the daemon (started without the file) does
# not have: the client sees every SM, and the finding names the configuration.
printf '[global]\nthreads = 50\n' >"$T/half.conf"
m --config "$T/half.conf" doctor 0:1:0
check_eq "configured threads not applied: exit 1" 1 "$rc"
check_contains "configured threads not applied: named" "the client saw 14 of 14 SMs, the configuration's 50 % allows at most 9" "$(finding threads)"
m doctor 0:1:0
check_eq "without the file the daemon's 100 % is right: exit 0" 0 "$rc"

# The daemon killed with -9: its folder is stale and a client given its variables bypasses MPS.
daemon=$(pid_in "$pipe0")
kill -9 "$daemon"
wait_gone "$daemon"
m doctor 0:1:0
check_eq "killed daemon: exit 1" 1 "$rc"
check_contains "killed daemon: stale" "stale folder: the daemon died (its pid file names pid $daemon" "$(finding daemon)"
check_contains "killed daemon: what to do" "-> \`mpsmig start 0:1:0\` starts a new daemon over it" "$out"
check_contains "killed daemon: client bypassed MPS" "client bypassed MPS: a probe client" "$(finding client)"
m stop 0:1:0
check_eq "stop cleans the stale folder: exit 0" 0 "$rc"

# A parent folder of the pipe folders that only its owner may enter (as root: root's daemon is
# for every user).
if [ "$(id -u)" = 0 ]; then
        export MPSMIG_RUNTIME_DIR=$T/private/run
        mkdir -m 0700 "$T/private"
        m start 0:1:0
        check_eq "0700 parent: start exit 0" 0 "$rc"
        m doctor 0:1:0
        check_eq "0700 parent: exit 1" 1 "$rc"
        check_contains "0700 parent: named" "parent folder $T/private (mode 0700, owner root) blocks every user but root" "$(finding folders)"
        check_contains "0700 parent: what to do" "-> \`chmod o+x $T/private\`" "$out"
        chmod 0755 "$T/private"
        m doctor 0:1:0
        check_eq "0755 parent: exit 0" 0 "$rc"
        m stop 0:1:0
else
        echo "skipped the 0700 parent: not root"
fi
