#!/bin/bash
# The bash completion (contrib/bash-completion/mpsmig), sourced in bash and called as bash calls
# it: verbs, each verb's options as its help names them, and target names read over simgpu.
. "$MPSMIG_SOURCE/tests/lib.sh"

# complete LINE: what the completion offers at the end of LINE, sorted, on one line. The
# function is called as bash would: COMP_LINE, COMP_POINT, COMP_WORDS (split at ':' as bash
# does), COMP_CWORD, and the command, the word and the previous word as arguments.
cat >"$T/complete.bash" <<'SCRIPT'
. "$MPSMIG_SOURCE/contrib/bash-completion/mpsmig"
complete -p mpsmig >/dev/null || { echo "not registered for mpsmig"; exit 1; }
COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<<"${COMP_LINE//:/ : }"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_mpsmig "$MPSMIG" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
SCRIPT
complete() {
        sim a30-seed env MPSMIG="$MPSMIG" bash "$T/complete.bash" "$1"
        [ "$rc" = 0 ] || echo "  completion exited $rc: $out $err"
}

complete "mpsmig st"
check_eq "verbs: st" "start status stop" "$out"
complete "mpsmig "
verbs=$("$MPSMIG" help | awk '/^Verbs:/ { v = 1; next } /^$/ { v = 0 } v { print $1 }' | sort |
        tr '\n' ' ' | sed 's/ $//')
check_eq "verbs: every verb of mpsmig help" "$verbs" "$out"
complete "mpsmig help sta"
check_eq "help VERB" "start status" "$out"
complete "mpsmig -"
check_eq "global options" "--config --help --version" "$out"
complete "mpsmig --config $MPSMIG_SOURCE/contrib/mpsmig.co"
check_eq "--config: a file" "$MPSMIG_SOURCE/contrib/mpsmig.conf" "$out"
complete "mpsmig --config /etc/x.conf sta"
check_eq "a verb after --config FILE" "start status" "$out"
complete "mpsmig config "
check_eq "config's subcommand" "check" "$out"
complete "mpsmig config check --"
want=$("$MPSMIG" help config | grep -oE -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ' | sed 's/ $//')
check_eq "options of config check" "$want" "$out"
complete "mpsmig set 0:1:"
check_eq "set: target names" "0 1" "$out"

# Each verb's options: exactly the long options its help names.
for verb in list start stop status env run set doctor bench; do
        complete "mpsmig $verb --"
        want=$("$MPSMIG" help "$verb" | grep -oE -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ' |
                sed 's/ $//')
        check_eq "options of $verb" "$want" "$out"
done
complete "mpsmig stop --fo"
check_eq "stop --fo" "--force" "$out"
complete "mpsmig start --layout "
check_eq "--layout's values" "default seed" "$out"

# Target names over the seed node: a UUID prefix, GPU:GI:CI (bash replaces only what follows the
# last ':', so the offers are what follows it), a profile.
complete "mpsmig start MIG-22"
check_eq "a UUID" "MIG-22f0c05f-5cf2-5ea2-8297-789695656dc0" "$out"
complete "mpsmig status 0:2:"
check_eq "GPU:GI:CI after 0:2:" "0 1" "$out"
complete "mpsmig stop 0:"
check_eq "GPU:GI:CI after 0:" "1:0 1:1 2:0 2:1" "$out"
complete "mpsmig env GPU-0783"
check_eq "a whole GPU's UUID" "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38" "$out"
complete "mpsmig run --on 1c"
check_eq "run --on a profile" "1c.2g.12gb" "$out"
complete "mpsmig run --profile "
check_eq "run --profile: every name" 1 "$(printf '%s\n' $out | grep -c '^1c.2g.12gb$')"
complete "mpsmig list --json --whole-gpus MIG"
check_eq "list takes no target" "" "$out"
