# Helpers for the agent's tests (sourced after tests/lib.sh and lifecycle_helpers.bash; not a test
# itself): the agent started over the test's private topology, its log, its daemons (started in
# the foreground, `-f`), and waits that end as soon as what they wait for is seen.

NOTIFY_LISTEN=$MPSMIG_BUILD/tests/notify_listen

# start_agent [ARGS...]: `mpsmig daemon` over $topology in the background (no poll: the tests
# send SIGHUP), its stderr in $T/agent.log; $agent is its pid. Waits until it says it is ready.
# $agent_config, when set, is given as the global `--config FILE`.
start_agent() {
        : >"$T/agent.log"
        "$SIMRUN" "$topology" -- "$MPSMIG" ${agent_config:+--config "$agent_config"} daemon \
                --poll 0 "$@" >"$T/agent.out" 2>"$T/agent.log" &
        agent=$!
        if until_true 30 grep -q '^<5>ready' "$T/agent.log"; then
                pass "the agent is ready"
        else
                fail "the agent is ready"
                sed 's/^/  agent: /' "$T/agent.log"
        fi
}

# stop_agent: SIGTERM, and its exit status in $agent_rc (at most 30 s; then SIGKILL, status 137).
# After a failed check, the agent's log is shown: what it did is the first thing to read.
stop_agent() {
        kill -TERM "$agent" 2>/dev/null
        agent_rc=0
        for _ in $(seq 300); do alive "$agent" || break; sleep 0.1; done
        if alive "$agent"; then
                echo "the agent did not stop within 30 s:"
                cat "/proc/$agent/stack" 2>/dev/null
                kill -9 "$agent"
        fi
        wait "$agent" 2>/dev/null || agent_rc=$?
        if [ "$failures" -gt 0 ]; then
                echo "--- the agent's log"
                sed 's/^/  /' "$T/agent.log"
        fi
}

# agent_daemons [UUID]: pids of live control daemons started in the foreground (the agent's) of
# this test's topology, optionally only UUID's; one a line, sorted.
agent_daemons() {
        for cmdline in $(grep -lsxzF -- '-f' /proc/[0-9]*/cmdline); do
                pid=${cmdline#/proc/}
                pid=${pid%/cmdline}
                grep -qsxzF "SIMGPU_TOPOLOGY=$topology" "/proc/$pid/environ" || continue
                if [ -n "${1:-}" ]; then
                        grep -qsxzF "CUDA_VISIBLE_DEVICES=$1" "/proc/$pid/environ" || continue
                fi
                alive "$pid" && echo "$pid"
        done | sort -n
}

# answers UUID: the daemon of UUID answers a control query now.
answers() {
        local out
        out=$(printf 'get_server_list\n' | CUDA_MPS_PIPE_DIRECTORY=$MPSMIG_RUNTIME_DIR/$1/pipe \
                timeout 5 "$SIMRUN" "$topology" -- nvidia-cuda-mps-control 2>&1) || return 1
        case $out in *Cannot*) return 1 ;; esac
        return 0
}

# field UUID EXPRESSION: a jq expression on the agent's status of UUID (`mpsmig status --json`).
field() {
        sim "$topology" "$MPSMIG" status --json
        jq -r --arg u "$1" ".targets[] | select(.uuid == \$u) | $2" <<<"$out"
}

# log_count TEXT: how many lines of the agent's log contain TEXT.
log_count() { grep -c -- "$1" "$T/agent.log" || true; }

# swap_topology FILE: the node becomes FILE's (rewritten whole, as the helpers of
# lifecycle_helpers.bash do), for every later process.
swap_topology() { cp "$1" "$topology.new" && mv "$topology.new" "$topology"; }

# hup_and_wait TEXT [SECONDS]: SIGHUP to the agent, then waits until its log has one more line
# with TEXT than before.
hup_and_wait() {
        hup_pattern=$1
        hup_before=$(log_count "$1")
        kill -HUP "$agent"
        until_true "${2:-20}" eval '[ "$(log_count "$hup_pattern")" -gt "$hup_before" ]'
}
