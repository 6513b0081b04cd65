#!/bin/bash
# mpsmig_spank.so in a real Slurm: munged, slurmctld and slurmd from Debian's packages, started
# here as root on private ports with every file under the test's folder, one node over simgpu's
# a30-seed whose four MIG instances run daemons that mpsmig started. `srun -n 8
# --mps-instance=auto mpsmig-probe` spreads the tasks 2/2/2/2 and each is a client of its
# instance's daemon while it runs (contrib/slurm/gres.conf's 8 shares allow 8 tasks, not 9); the
# ledger is emptied as the tasks end; --mps-instance with a profile and --mps-threads=50 is
# honoured (the probe sees 6 of the instance's 14 SMs: simgpu's libcuda, like the driver, rounds
# 50% of 14 SMs down to whole TPCs of 2); a bad option value is refused by srun; a dead daemon
# fails the step with the plugin's sentence on srun's stderr and the program never runs. Last,
# contrib/slurm's prolog starts the daemons for a job and its epilog stops them after it.
# Skipped (77) only when Slurm's packages are missing or not as root.
#
# How simgpu reaches the plugin and the tasks: slurmd is started through simgpu-run, so its
# environment (SIMGPU_TOPOLOGY, LD_LIBRARY_PATH with simgpu's libnvidia-ml.so.1 first, PATH with
# simgpu's nvidia-cuda-mps-control first) is slurmstepd's, where the plugin loads NVML and runs the
# control program. srun is started through simgpu-run too, and its --export carries the same
# variables into each task (by name: see srun_sim), so mpsmig-probe loads simgpu's libcuda.so.1.
# MPSMIG_RUNTIME_DIR is kept from slurmd: the plugin learns the runtime folder from its
# plugstack.conf argument. The plugin is never built with the sanitizers (src/CMakeLists.txt says
# why), so Slurm's programs load it as they are. Every Slurm command is bounded (slurm_client): a
# job that cannot start fails the test, never hangs it.
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"

skip() {
        echo "skip: $*" >&2
        trap - EXIT
        rm -rf "$T"
        exit 77
}
[ "$(id -u)" = 0 ] || skip "a private Slurm (SlurmUser=root) needs root"
for program in munged munge slurmctld slurmd srun sinfo; do
        command -v "$program" >/dev/null ||
                skip "$program is not installed (Debian: apt-get install slurm-wlm munge libslurm-dev)"
done
PLUGIN=$MPSMIG_BUILD/mpsmig_spank.so
[ -f "$PLUGIN" ] || skip "$PLUGIN was not built (configured with -DMPSMIG_SPANK=OFF)"

use_topology a30-seed
HOLD=120
S=$T/slurm
mkdir -p "$S/state" "$S/spool" "$S/log" "$S/munge"
chmod 0755 "$S/munge" # munged wants its socket's folder reachable by everyone
host=$(hostname -s)
export SLURM_CONF=$S/slurm.conf

# free_port: a TCP port nothing listens on (from /proc/net/tcp*, without ss or netstat).
free_port() {
        local port hex
        for _ in $(seq 100); do
                port=$((20000 + RANDOM % 40000))
                hex=$(printf ':%04X ' "$port")
                grep -qi -- "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || {
                        echo "$port"
                        return 0
                }
        done
        return 1
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

cat >"$S/slurm.conf" <<EOF
ClusterName=mpsmigtest
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/socket
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
PlugStackConfig=$S/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
GresTypes=mpsshare
Prolog=$S/prolog
Epilog=$S/epilog
# 16 CPUs whatever the machine has, so that 8 tasks fit without --overcommit.
SlurmdParameters=config_overrides
NodeName=$host CPUs=16 Gres=mpsshare:8 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES State=UP
EOF
echo "required $PLUGIN runtime_dir=$MPSMIG_RUNTIME_DIR" >"$S/plugstack.conf"
cp "$MPSMIG_SOURCE/contrib/slurm/gres.conf" "$S/gres.conf"
# contrib/slurm's prolog and epilog, once $S/scripts-on exists (the last part of the test): Slurm
# runs them with SLURM_* variables only, so simgpu's and mpsmig's come from here, as a site's
# driver and /etc/default/mpsmig would give theirs.
for script in prolog epilog; do
        cat >"$S/$script" <<EOF
#!/bin/sh
[ -e "$S/scripts-on" ] || exit 0
export PATH=/usr/sbin:/usr/bin:/sbin:/bin MPSMIG="$MPSMIG" MPSMIG_RUNTIME_DIR="$MPSMIG_RUNTIME_DIR"
export SIMGPU_MPS_EXIT_WITH_PID=$$ ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS"
exec "$SIMRUN" "$topology" -- /bin/sh "$MPSMIG_SOURCE/contrib/slurm/$script.sh" >>"$S/log/$script.log" 2>&1
EOF
        chmod 0755 "$S/$script"
done

# Everything started here is stopped by pid, however the test ends.
munged_pid=
ctld_pid=
slurmd_pid=
stop_pid() {
        [ -n "$1" ] || return 0
        kill -TERM "$1" 2>/dev/null
        wait_gone "$1" 100 || kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
}
# slurmstepd processes of this Slurm (they inherit slurmd's SLURM_CONF).
stepds() {
        local file pid
        for file in $(grep -lsz "^SLURM_CONF=$SLURM_CONF\$" /proc/[0-9]*/environ); do
                pid=${file#/proc/}
                pid=${pid%/environ}
                [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ] && alive "$pid" && echo "$pid"
        done
}
stop_slurm() {
        local left
        # A step that ended may leave its slurmstepd for a moment; one still running is killed.
        until_true 20 test -z "$(stepds)" || for left in $(stepds); do kill -KILL "$left"; done
        stop_pid "$slurmd_pid"
        stop_pid "$ctld_pid"
        stop_pid "$munged_pid"
        m stop
}
trap 'status=$?; stop_slurm; (exit $status); finish' EXIT

# --- the node: four daemons started by mpsmig
m start
check_eq "mpsmig start: the four instances" 0 "$rc"

# --- munge with a key and socket of its own, then slurmctld and slurmd
dd if=/dev/urandom of="$S/munge/key" bs=1024 count=1 status=none
chmod 0400 "$S/munge/key"
munged -F --socket="$S/munge/socket" --key-file="$S/munge/key" --pid-file="$S/munge/pid" \
        --seed-file="$S/munge/seed" --log-file="$S/log/munged.log" >"$S/log/munged.out" 2>&1 &
munged_pid=$!
munge_ok() { munge -n -S "$S/munge/socket" 2>/dev/null | unmunge -S "$S/munge/socket" >/dev/null 2>&1; }
if ! until_true 30 munge_ok; then
        fail "munged answers on its private socket"
        cat "$S/log/munged.out"
        exit 1
fi
slurmctld -D -i -f "$SLURM_CONF" >"$S/log/slurmctld.out" 2>&1 &
ctld_pid=$!
# The sanitizer build's simgpu NVML carries the sanitizer (slurmstepd has no runtime for it): that
# build makes an uninstrumented copy for the plugin to load here.
nvml_plain=$MPSMIG_BUILD/simgpu/lib-plain/libnvidia-ml.so.1
nvml_env=()
[ ! -f "$nvml_plain" ] || nvml_env=(MPSMIG_NVML_LIBRARY="$nvml_plain")
env -u MPSMIG_RUNTIME_DIR "${nvml_env[@]}" "$SIMRUN" "$topology" -- \
        slurmd -D -f "$SLURM_CONF" >"$S/log/slurmd.out" 2>&1 &
slurmd_pid=$!
node_idle() { [ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" = idle ]; }
if until_true 60 node_idle; then
        pass "slurmctld and slurmd: the node is idle"
else
        fail "slurmctld and slurmd: the node is idle (sinfo: $(sinfo -h -o '%T %E' 2>&1))"
        tail -20 "$S/log/slurmctld.out" "$S/log/slurmd.out"
        exit 1
fi

# srun_sim ARGS...: srun over simgpu. The tasks get simgpu's variables and the sanitizers' options
# (for the ASan build's probe) by name: what reaches them is written here, not whatever the test's
# environment holds (srun's default is --export=ALL).
task_variables=PATH,LD_LIBRARY_PATH,SIMGPU_TOPOLOGY,ASAN_OPTIONS=$ASAN_OPTIONS,UBSAN_OPTIONS=$UBSAN_OPTIONS
# slurm_client CMD...: CMD as a Slurm client of this test, over simgpu, at most 60 s.
slurm_client() {
        timeout -k 5 60 "$SIMRUN" "$topology" -- "$@"
}
srun_sim() {
        slurm_client srun --export="$task_variables" "$@"
}

# --- a plugstack.conf argument the plugin does not know: srun refuses to start (slurmd does
# too: docs/slurm.md)
sed "s|^PlugStackConfig=.*|PlugStackConfig=$S/bad-plugstack.conf|" "$SLURM_CONF" >"$S/bad.conf"
echo "required $PLUGIN runtime-dir=/run/mpsmig" >"$S/bad-plugstack.conf"
run_capture env SLURM_CONF="$S/bad.conf" timeout 60 srun -n 1 true
check_eq "a bad plugstack.conf argument: srun fails" 1 "$rc"
check_contains "a bad plugstack.conf argument: named" \
        "mpsmig: plugstack.conf: unknown argument 'runtime-dir=/run/mpsmig'; known: runtime_dir=" "$err"

# --- 8 tasks, auto: 2 on each instance, each a client of its instance's daemon
srun_sim -n 8 -l --gres=mpsshare:8 --mps-instance=auto "$PROBE" --hold "$HOLD" \
        >"$T/spread.out" 2>"$T/spread.err" &
spread=$!
if wait_for_counts "2 2 2 2"; then
        pass "srun -n 8 --mps-instance=auto: 2 clients on each instance"
else
        fail "srun -n 8 --mps-instance=auto: 2 clients on each instance (saw $counts)"
        cat "$T/spread.out" "$T/spread.err"
fi
probe_pids() { sed -n 's/^ *[0-9]*: pid: //p' "$T/spread.out" | sort -n | tr '\n' ' '; }
until_true 30 test "$(probe_pids | wc -w)" = 8
listed=$(for uuid in $uuids; do clients "$uuid"; done | sort -n | tr '\n' ' ')
check_eq "the daemons list exactly the 8 tasks' pids" "$(probe_pids)" "$listed"
ledgered=$(cat "$MPSMIG_RUNTIME_DIR"/placements/MIG-* 2>/dev/null | cut -d' ' -f1 | sort -n | tr '\n' ' ')
check_eq "the placement ledger holds the 8 tasks" "$(probe_pids)" "$ledgered"
for uuid in $uuids; do
        wrong=0
        for pid in $(clients "$uuid"); do
                environment=$(tr '\0' '\n' <"/proc/$pid/environ")
                grep -qx "CUDA_VISIBLE_DEVICES=$uuid" <<<"$environment" &&
                        grep -qx "CUDA_MPS_PIPE_DIRECTORY=$MPSMIG_RUNTIME_DIR/$uuid/pipe" <<<"$environment" &&
                        grep -qx "CUDA_MPS_LOG_DIRECTORY=$MPSMIG_RUNTIME_DIR/$uuid/log" <<<"$environment" ||
                        wrong=$((wrong + 1))
        done
        check_eq "each client of $uuid has its device, pipe and log folders" 0 "$wrong"
done
m status --json
check_eq "mpsmig status --json: 2 clients on each instance" "2 2 2 2" \
        "$(grep -oE '"client_count": [0-9]+' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
for pid in $(probe_pids); do kill -TERM "$pid"; done
timeout 60 tail --pid="$spread" -f /dev/null
wait "$spread" 2>/dev/null
ledger_empty() { ! ls "$MPSMIG_RUNTIME_DIR"/placements/MIG-* >/dev/null 2>&1; }
if until_true 20 ledger_empty; then
        pass "the tasks' placements are released when they end"
else
        fail "the tasks' placements are released when they end: $(cat "$MPSMIG_RUNTIME_DIR"/placements/MIG-*)"
fi
if wait_for_counts "0 0 0 0"; then
        pass "the daemons have no client left"
else
        fail "the daemons have no client left (saw $counts)"
fi

# --- the node's 8 shares (contrib/slurm/gres.conf) hold 8 tasks, not 9
run_capture srun_sim -n 9 --gres=mpsshare:9 --mps-instance=auto true
check_eq "--gres=mpsshare:9: refused" 1 "$rc"
check_contains "--gres=mpsshare:9: by Slurm" "Requested node configuration is not available" "$err"

# --- a profile and a thread percentage
field() { sed -n "s/^ *$1: //p" <<<"$out" | head -1; }
run_capture srun_sim -n 1 --mps-instance=1c.2g.12gb "$PROBE"
check_eq "--mps-instance=1c.2g.12gb: exit 0" 0 "$rc"
check_eq "--mps-instance=1c.2g.12gb: the instance's 14 SMs" 14 "$(field sm_count)"
check_contains "--mps-instance=1c.2g.12gb: on an instance of the profile" "MIG 1c.2g.12gb" "$(field name)"
run_capture srun_sim -n 1 --mps-instance=1c.2g.12gb --mps-threads=50 "$PROBE"
check_eq "--mps-threads=50: exit 0" 0 "$rc"
check_eq "--mps-threads=50: 6 of the 14 SMs (whole TPCs)" 6 "$(field sm_count)"
run_capture srun_sim -n 1 --mps-instance=0:2:0 --mps-threads=50 printenv \
        CUDA_MPS_ACTIVE_THREAD_PERCENTAGE CUDA_VISIBLE_DEVICES
check_eq "--mps-instance=0:2:0 --mps-threads=50: the task's variables" "50
$UUID2" "$out"
# sbatch and salloc take the options too, and Slurm hands them to the job's steps.
run_capture slurm_client sbatch --wait -n 2 --export="$task_variables" --output="$T/batch.out" \
        --mps-instance=0:2:0 --mps-threads=30 \
        --wrap "srun printenv CUDA_VISIBLE_DEVICES CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"
check_eq "sbatch --mps-instance=0:2:0 --mps-threads=30: exit 0" 0 "$rc"
batch="$(grep -cx "$UUID2" "$T/batch.out") $(grep -cx 30 "$T/batch.out")"
check_eq "sbatch: each task of its step on 0:2:0 with 30%" "2 2" "$batch"
[ "$batch" = "2 2" ] ||
        printf 'sbatch said: %s\n%s\nits output:\n%s\n' "$out" "$err" "$(cat "$T/batch.out")"
run_capture slurm_client salloc --mps-instance=0:1:1 \
        srun --export="$task_variables" printenv CUDA_VISIBLE_DEVICES
check_eq "salloc --mps-instance=0:1:1: its step on 0:1:1" "0 $UUID1" "$rc $out"
run_capture srun_sim -n 1 --mps-pinned-mem=1G "$PROBE" --alloc 2G
check_eq "--mps-pinned-mem=1G: a 2 GiB allocation is refused (exit 3)" 3 "$rc"
run_capture srun_sim -n 1 printenv CUDA_MPS_PIPE_DIRECTORY
check_eq "a job without --mps-* options is left alone" "" "$out"

# --- bad values are refused by srun, before the job exists
run_capture srun_sim -n 1 --mps-threads=abc true
check_eq "--mps-threads=abc: refused" 255 "$rc"
check_contains "--mps-threads=abc: says why" \
        "mpsmig: --mps-threads 'abc': give a whole percentage from 1 to 100" "$err"
run_capture srun_sim -n 1 --mps-instance=9:9:9 true
check_eq "--mps-instance that names nothing: the step fails" 1 "$rc"
check_contains "--mps-instance that names nothing: says so" "no MIG device 9:9:9" "$err"

# --- a dead daemon fails the step with the plugin's sentence; the program never runs
kill -9 "$(pid_in "$MPSMIG_RUNTIME_DIR/$UUID0/pipe")"
rm -f "$T/ran"
run_capture srun_sim -n 2 --mps-instance=0:1:0 touch "$T/ran"
check_eq "a dead daemon: the step fails" 1 "$rc"
check_contains "a dead daemon: the plugin says which, on which node, and what to do" \
        "mpsmig: task 0 on node $host: the MPS daemon of 0:1:0 ($UUID0) is gone" "$err"
check_contains "a dead daemon: ... and how to start it" "start it again with \`mpsmig start" "$err"
[ -e "$T/ran" ] && fail "a dead daemon: the program did not run" ||
        pass "a dead daemon: the program did not run"
run_capture srun_sim -n 2 --mps-instance=auto printenv CUDA_VISIBLE_DEVICES
check_eq "auto skips the dead daemon" 0 "$rc"
check_not_contains "auto skips the dead daemon: not on 0:1:0" "$UUID0" "$out"
m stop
run_capture srun_sim -n 1 --mps-instance=auto touch "$T/ran"
check_eq "no daemon at all: the step fails" 1 "$rc"
check_contains "no daemon at all: says so" "no MPS daemon answers on any of the" "$err"
[ -e "$T/ran" ] && fail "no daemon at all: the program did not run" ||
        pass "no daemon at all: the program did not run"

# --- contrib/slurm: the prolog starts the daemons for a job, the epilog stops them after it
touch "$S/scripts-on"
run_capture srun_sim -n 4 --mps-instance=auto printenv CUDA_VISIBLE_DEVICES
check_eq "with the prolog: the job runs" 0 "$rc"
check_eq "with the prolog: each task on one of the instances" 4 "$(grep -cxF "$uuids" <<<"$out")"
no_daemon() { [ -z "$(daemons)" ]; }
if until_true 30 no_daemon; then
        pass "the epilog stopped the daemons after the job"
else
        fail "the epilog stopped the daemons after the job: $(daemons | tr '\n' ' ')"
        cat "$S/log/epilog.log"
fi
check_contains "the prolog started the four daemons" "4 started" "$(cat "$S/log/prolog.log")"
check_contains "the epilog stopped them" "4 stopped" "$(cat "$S/log/epilog.log")"

# --- the node agent serves the runtime folder: the plugin asks it, and the agent places the 8
# tasks 2/2/2/2 (its reservations, by each task's pid; no ledger entry) on the daemons it runs
rm -f "$S/scripts-on"
. "$MPSMIG_SOURCE/tests/integration/agent_helpers.bash"
start_agent
srun_sim -n 8 -l --gres=mpsshare:8 --mps-instance=auto "$PROBE" --hold "$HOLD" \
        >"$T/agent-spread.out" 2>"$T/agent-spread.err" &
spread=$!
if wait_for_counts "2 2 2 2"; then
        pass "through the agent: 2 clients on each instance"
else
        fail "through the agent: 2 clients on each instance (saw $counts)"
        cat "$T/agent-spread.out" "$T/agent-spread.err"
fi
ledger_empty && pass "through the agent: no ledger entry" ||
        fail "through the agent: no ledger entry: $(cat "$MPSMIG_RUNTIME_DIR"/placements/MIG-*)"
m status --json
check_contains "through the agent: status answered by the agent" '"answered_by": "agent"' "$out"
check_eq "through the agent: 2 reservations on each instance" "2 2 2 2" \
        "$(grep -oE '"reservations": [0-9]+' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
agent_probe_pids() { sed -n 's/^ *[0-9]*: pid: //p' "$T/agent-spread.out"; }
until_true 30 test "$(agent_probe_pids | wc -w)" = 8
for pid in $(agent_probe_pids); do kill -TERM "$pid"; done
timeout 60 tail --pid="$spread" -f /dev/null
wait "$spread" 2>/dev/null
stop_agent
check_eq "the agent stops every daemon and exits 0" 0 "$agent_rc"
