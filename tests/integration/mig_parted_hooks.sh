#!/bin/bash
# contrib/mig-parted: the hook mig-parted runs before it changes the MIG devices stops every
# daemon, mig-parted then destroys an instance (the private topology rewritten), and the hook of
# apply-exit starts one daemon per device that exists then: nothing orphaned, nothing left.
# mig-parted itself cannot run here (no GPU); hooks.yaml is checked to name the hook's verbs.
source "$MPSMIG_SOURCE/tests/lib.sh"
source "$MPSMIG_SOURCE/tests/integration/lifecycle_helpers.bash"
HOOK=$MPSMIG_SOURCE/contrib/mig-parted/mpsmig-hook.sh
use_topology a30-seed

# hook VERB: the hook as mig-parted runs it: no PATH of its own (simgpu's run gives the one that
# finds the simulated control program), MPSMIG naming the program.
hook() { sim "$topology" env MPSMIG="$MPSMIG" MIG_PARTED_SELECTED_CONFIG=test /bin/sh "$HOOK" "$@"; }

m start
check_eq "start: 4 daemons" "0 4" "$rc $(daemons | wc -l)"

hook stop
check_eq "pre-apply hook: exit 0" 0 "$rc"
check_contains "pre-apply hook: says what it does" "stopping the MPS control daemons" "$out"
check_eq "pre-apply hook: no daemon left" 0 "$(daemons | wc -l)"

# What mig-parted does between the hooks: instance 0:1:1 destroyed.
destroy_instance "$UUID1"

hook start
check_eq "apply-exit hook: exit 0" 0 "$rc"
check_eq "apply-exit hook: a daemon per remaining device" 3 "$(daemons | wc -l)"
check_eq "apply-exit hook: none for the destroyed one" "" "$(daemons "$UUID1")"
m status --wide
check_eq "status after the hooks: exit 0, nothing orphaned" 0 "$rc"
check_eq "status after the hooks: 3 running" 3 "$(rows running "$out")"

# apply-exit also runs when nothing changed: the running daemons are kept.
before=$(daemons)
hook start
check_eq "apply-exit hook, nothing changed: exit 0" 0 "$rc"
check_eq "apply-exit hook, nothing changed: the same daemons" "$before" "$(daemons)"

hook bogus
check_eq "hook with an unknown verb: exit 2" 2 "$rc"

# hooks.yaml: stop before either change, start at exit.
yaml=$(cat "$MPSMIG_SOURCE/contrib/mig-parted/hooks.yaml")
for name in pre-apply-mode pre-apply-config; do
        check_eq "hooks.yaml: $name stops" 1 \
                "$(awk -v h="  $name:" '$0 == h { on = 1; next } /^  [a-z]/ { on = 0 } on && /mpsmig-hook.sh", "stop"/' <<<"$yaml" | wc -l)"
done
check_eq "hooks.yaml: apply-exit starts" 1 \
        "$(awk '$0 == "  apply-exit:" { on = 1; next } /^  [a-z]/ { on = 0 } on && /mpsmig-hook.sh", "start"/' <<<"$yaml" | wc -l)"

m stop
check_eq "stop" 0 "$rc"
