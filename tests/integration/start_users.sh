#!/bin/bash
# A node shared with unprivileged users: root's daemons run in root's runtime folder, and user
# nobody
# - cannot start a second daemon on an instance root's daemon serves (found through the known
#   layouts' folders, since nobody cannot read root's /proc/PID/environ), nor on one the seed
#   scripts' daemon serves; a daemon whose device cannot be told is a warning;
# - gets exit 2 and a pointer to --runtime-dir when it uses root's runtime folder for start/stop;
# - cannot stall root's start/stop: the node lock is 0600, and a lock file left readable by an
#   older mpsmig and held by nobody is replaced; a control_lock left by a quit daemon and held by
#   nobody does not stop the restart.
# Needs root to act as another user: without root it reports SKIP with exit status 77.
if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root to run as user nobody"
        exit 77
fi
. "$MPSMIG_SOURCE/tests/lib.sh"
. "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
use_topology a30-seed
user_dir=$T/user
mkdir "$user_dir"
chown nobody:nogroup "$user_dir"
# u ARGS...: mpsmig as user nobody over the private topology.
u() { sim "$topology" setpriv --reuid=nobody --regid=nogroup --clear-groups "$MPSMIG" "$@"; }
held=
# a lock holder of nobody's is ended however the test ends
trap 'st=$?; [ -n "$held" ] && kill "$held" 2>/dev/null; (exit $st); finish' EXIT

m start
check_eq "root starts the four daemons" 0 "$rc"
root_daemons=$(daemons)
check_eq "the root lock is 0600" "root 600" "$(stat -c '%U %a' "$MPSMIG_RUNTIME_DIR/lock")"

# --- a user's start on the instances root's daemons serve
u start --runtime-dir "$user_dir"
check_eq "user start on root's instances: exit 1" 1 "$rc"
check_eq "... every instance refused" 4 "$(rows failed "$out")"
check_contains "... names root's daemon and its folder" \
        "already serves $UUID0" "$err"
check_contains "... the folder in root's runtime folder" \
        "pipe folder $MPSMIG_RUNTIME_DIR/$UUID0/pipe" "$err"
check_contains "... says it is root's, not the user's to stop" \
        "it belongs to user root (uid 0), so it is not yours to stop" "$err"
check_eq "... no second daemon" "$root_daemons" "$(daemons)"
m status
check_eq "root's status: exit 0" 0 "$rc"
check_not_contains "... no other daemon flagged" "another daemon" "$out$err"

# --- root's runtime folder used by the user for start and stop: exit 2, --runtime-dir named
u start
check_eq "user start in root's runtime folder: exit 2" 2 "$rc"
check_contains "... names --runtime-dir" "--runtime-dir" "$err"
check_contains "... says whose folder it is" "belongs to user root" "$err"
u start --runtime-dir "$MPSMIG_RUNTIME_DIR/sub"
check_eq "user start in a folder it cannot make inside root's: exit 2" 2 "$rc"
check_contains "... names --runtime-dir" "--runtime-dir" "$err"
u stop
check_eq "user stop in root's runtime folder: exit 2" 2 "$rc"
check_contains "... names --runtime-dir" "--runtime-dir" "$err"
check_eq "... root's daemons untouched" "$root_daemons" "$(daemons)"

# --- the node lock: nobody cannot open it; one left 0644 (an older mpsmig) and held by nobody
# is replaced, so root's stop does not wait for it
rc=0
as_nobody flock -n -s "$MPSMIG_RUNTIME_DIR/lock" true 2>/dev/null || rc=$?
check_eq "nobody cannot take the 0600 node lock" 1 "$([ "$rc" -ne 0 ] && echo 1 || echo 0)"
chmod 0644 "$MPSMIG_RUNTIME_DIR/lock"
hold_as_nobody "$MPSMIG_RUNTIME_DIR/lock"
began=$(date +%s%N)
m stop 0:1:0
took=$((($(date +%s%N) - began) / 1000000))
check_eq "root's stop past a lock nobody holds: exit 0" 0 "$rc"
if [ "$took" -lt 10000 ]; then
        pass "... without waiting for nobody ($took ms)"
else
        fail "... without waiting for nobody ($took ms)"
fi
check_eq "... the lock is 0600 again" "root 600" "$(stat -c '%U %a' "$MPSMIG_RUNTIME_DIR/lock")"
kill "$held"
wait "$held" 2>/dev/null
held=

# --- a control_lock left by a quit daemon, held by nobody: the restart is not blocked
pipe1=$MPSMIG_RUNTIME_DIR/$UUID1/pipe
ask "$pipe1" 'quit\n' >/dev/null
for _ in $(seq 100); do [ -e "$pipe1/nvidia-cuda-mps-control.pid" ] || break; sleep 0.05; done
check_eq "a quit daemon leaves its control_lock, 0666" "666" "$(stat -c '%a' "$pipe1/control_lock")"
hold_as_nobody "$pipe1/control_lock"
began=$(date +%s%N)
m start 0:1:1
took=$((($(date +%s%N) - began) / 1000000))
check_eq "root's restart past a control_lock nobody holds: exit 0" 0 "$rc"
check_eq "... started" 1 "$(rows started "$out")"
if [ "$took" -lt 5000 ]; then
        pass "... at once ($took ms)"
else
        fail "... at once ($took ms)"
        echo "$err"
fi
kill "$held"
wait "$held" 2>/dev/null
held=

# --- the seed scripts' daemon (root's, in /tmp/mps_<UUID>) is seen by the user's start too
m stop
check_eq "root stops its daemons" 0 "$rc"
m start --layout seed 0:2:0
check_eq "root starts a seed-layout daemon" 0 "$rc"
u start --runtime-dir "$user_dir" 0:2:0
check_eq "user start on the seed daemon's instance: exit 1" 1 "$rc"
check_contains "... names the seed folder" "pipe folder /tmp/mps_$UUID2" "$err"
check_eq "... no second daemon" 1 "$(daemons "$UUID2" | wc -l)"
m stop --layout seed 0:2:0
check_eq "root stops the seed daemon" 0 "$rc"

# --- a daemon of another user in a folder of no known layout: a warning, and start goes on
odd=$T/odd
mkdir -m 0755 "$odd"
CUDA_MPS_PIPE_DIRECTORY=$odd CUDA_MPS_LOG_DIRECTORY=$odd CUDA_VISIBLE_DEVICES=$UUID3 \
        "$SIMRUN" "$topology" -- nvidia-cuda-mps-control -d
odd_pid=$(pid_in "$odd")
u start --runtime-dir "$user_dir" 0:1:0
check_eq "user start next to a daemon it cannot place: exit 0" 0 "$rc"
check_contains "... warns that it cannot tell" "warning: cannot tell which devices" "$err"
check_contains "... naming that daemon" "pid $odd_pid of user root" "$err"
u stop --runtime-dir "$user_dir"
check_eq "the user stops its daemon" 0 "$rc"
ask "$odd" 'quit\n' >/dev/null
wait_gone "$odd_pid" || fail "the odd daemon quit"
