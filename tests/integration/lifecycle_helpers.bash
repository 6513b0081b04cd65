# Helpers for the start/stop/status tests (sourced after tests/lib.sh; not a test itself: ctest
# runs only *.sh). Each test gets a private copy of a topology whose UUIDs are its own, so that
# daemons of tests running at the same time never serve the same simulated device.

# use_topology NAME: sets $topology, $uuids (the MIG UUIDs in nvidia-smi order) and UUID0..N.
use_topology() {
        topology=$(private_topology "$1")
        uuids=$(grep -oE '"MIG-[0-9a-f-]{36}"' "$topology" | tr -d '"')
        i=0
        for uuid in $uuids; do
                eval "UUID$i=$uuid"
                i=$((i + 1))
        done
}

# m ARGS...: mpsmig over the private topology; sets $out, $err, $rc.
m() { sim "$topology" "$MPSMIG" "$@"; }

# alive PID: a live process (a zombie is not).
alive() {
        local stat
        stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ -n "$stat" ] && [ "${stat%% *}" != Z ]
}

# daemons [UUID]: pids of live control daemons (started with -d) of this test's topology,
# optionally only those whose CUDA_VISIBLE_DEVICES is UUID; one a line, sorted.
daemons() {
        for cmdline in $(grep -lsxzF -- '-d' /proc/[0-9]*/cmdline); do
                pid=${cmdline#/proc/}
                pid=${pid%/cmdline}
                grep -qsxzF "SIMGPU_TOPOLOGY=$topology" "/proc/$pid/environ" || continue
                if [ -n "${1:-}" ]; then
                        grep -qsxzF "CUDA_VISIBLE_DEVICES=$1" "/proc/$pid/environ" || continue
                fi
                alive "$pid" && echo "$pid"
        done | sort -n
}

# pid_in PIPE_DIR: the pid the daemon wrote into its pipe folder.
pid_in() { cat "$1/nvidia-cuda-mps-control.pid" 2>/dev/null; }

# wait_gone PID [TENTHS]: waits until PID is gone (at most TENTHS/10 s, default 10 s).
wait_gone() {
        for _ in $(seq "${2:-100}"); do alive "$1" || return 0; sleep 0.1; done
        return 1
}

# count WORD TEXT: how many lines of TEXT contain WORD.
count() { grep -c -- "$1" <<<"$2" || true; }

# rows WORDS TEXT: how many rows of a start/stop/status table (lines that begin with a target
# name such as 0:1:0 or 1) have WORDS in their result or state column.
rows() { grep -cE "^[0-9]+(:[0-9]+:[0-9]+)? +[A-Z]+-[0-9a-f-]+(…)? +$1( |\$)" <<<"$2" || true; }

# ask PIPE_DIR 'LINES': the control program in client mode on a pipe folder, bounded.
ask() {
        printf '%b' "$2" | CUDA_MPS_PIPE_DIRECTORY=$1 timeout 10 \
                "$SIMRUN" "$topology" -- nvidia-cuda-mps-control
}

# The node changing under running daemons. simgpu reads the topology file when each process
# starts, so rewriting the private copy between commands is what `nvidia-smi mig -dci/-dgi` or a
# GPU falling off the bus does: every later command sees the new node, the daemons keep running.
# The file is replaced whole (a process starting meanwhile reads the old or the new one).

# destroy_instance UUID: the MIG device UUID no longer exists.
destroy_instance() {
        sed -e "/\"uuid\": \"$1\"/d" "$topology" | sed -z -E 's/\},(\n[[:space:]]*\])/}\1/g' \
                >"$topology.new" && mv "$topology.new" "$topology"
}

# lose_gpu INDEX: GPU INDEX is lost (NVML answers GPU_IS_LOST, even for its handle).
lose_gpu() {
        awk -v want="$1" '/"compute_mode":/ { if (seen++ == want) sub(/"compute_mode":/, "\"lost\": true, &") } { print }' \
                "$topology" >"$topology.new" && mv "$topology.new" "$topology"
}

# fake_nvidia_gpus: the driver's /proc/driver/nvidia/gpus for this topology (a folder per PCI
# bus id, spelt as the driver does: "0000:17:00.0"), which mpsmig reads for a lost GPU's bus id.
fake_nvidia_gpus() {
        mkdir -p "$T/nvidia-gpus"
        for bus in $(grep -oE '"pci_bus_id": *"[0-9A-Fa-f:.]+"' "$topology" | cut -d'"' -f4); do
                mkdir -p "$T/nvidia-gpus/$(tr 'A-F' 'a-f' <<<"${bus#0000}")"
        done
        export MPSMIG_NVIDIA_GPUS_DIR=$T/nvidia-gpus
}

# clients UUID: the client pids the daemon of UUID lists (get_server_list, then get_client_list
# of each server), sorted, one a line. A daemon serves one control client at a time and refuses
# the others (docs/driver-facts.md, 2026-12-02): these queries race with the runs' own, so a
# refused one is asked again, bounded.
clients() {
        pipe=$MPSMIG_RUNTIME_DIR/$1/pipe
        ctl() {
                local answer tries=0
                until answer=$(printf '%b' "$1" | CUDA_MPS_PIPE_DIRECTORY=$pipe \
                        CUDA_VISIBLE_DEVICES=$2 "$SIMRUN" "$topology" -- nvidia-cuda-mps-control \
                        2>"$T/ctl.err"); do
                        grep -q '^Cannot send command' "$T/ctl.err" && [ $((tries += 1)) -lt 100 ] ||
                                break
                        sleep 0.02
                done
                [ -z "$answer" ] || printf '%s\n' "$answer"
        }
        for server in $(ctl 'get_server_list\n' "$1"); do
                ctl "get_client_list $server\n" "$1"
        done | sort -n
}

# wait_for_counts EXPECTED: waits (at most 60 s) until the four daemons' client counts, in
# nvidia-smi order and space-separated, are EXPECTED; sets $counts to the last ones seen.
wait_for_counts() {
        deadline=$((SECONDS + 60))
        while :; do
                counts=$(for uuid in $uuids; do clients "$uuid" | wc -l; done | tr '\n' ' ')
                counts=${counts% }
                [ "$counts" = "$1" ] && return 0
                [ "$SECONDS" -ge "$deadline" ] && return 1
                sleep 0.2
        done
}

# as_nobody CMD...: CMD as user nobody (needs root).
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# hold_as_nobody FILE: user nobody holds a shared flock on FILE (60 s at most), returning once the
# lock is seen held; $held is the holder's pid.
hold_as_nobody() {
        # Not through as_nobody: a function in the background is a subshell, and $! must be the
        # holder itself (setpriv and flock -F exec the next, so all three are one pid).
        setpriv --reuid=nobody --regid=nogroup --clear-groups flock -F -s "$1" sleep 60 &
        held=$!
        for _ in $(seq 100); do
                flock -n -x "$1" true || break
                sleep 0.05
        done
}
