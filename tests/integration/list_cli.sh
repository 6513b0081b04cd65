#!/bin/bash
# The command line's frame: global options, help for every verb in the table, and the usage
# errors (one specific line, then "Try 'mpsmig --help'." or, inside a verb, "Try 'mpsmig help
# VERB'.", exit 2), with `list` as the example verb.
source "$MPSMIG_SOURCE/tests/lib.sh"
TRY="Try 'mpsmig --help'."
TRY_LIST="Try 'mpsmig help list'."

# usage_error WHAT EXPECTED_FIRST_LINE HINT ARGS...
usage_error() {
        what=$1
        expected=$2
        hint=$3
        shift 3
        sim a30-seed "$MPSMIG" "$@"
        check_eq "$what: exit 2" 2 "$rc"
        check_eq "$what: message" "$expected
$hint" "$err"
        check_eq "$what: nothing on stdout" "" "$out"
}

usage_error "unknown verb" "mpsmig: unknown verb 'frobnicate'" "$TRY" frobnicate
usage_error "mistyped verb" "mpsmig: unknown verb 'stauts'; did you mean 'status'?" "$TRY" stauts
usage_error "mistyped verb, one letter off" "mpsmig: unknown verb 'lst'; did you mean 'list'?" "$TRY" lst
usage_error "one letter is no verb's typo" "mpsmig: unknown verb 'x'" "$TRY" x
usage_error "unknown global long option" "mpsmig: unknown option '--bogus'" "$TRY" --bogus list
usage_error "unknown global short option" "mpsmig: unknown option '-x'" "$TRY" -x list
usage_error "global option with a value" "mpsmig: option takes no argument: '--help'" "$TRY" --help=yes
usage_error "help for an unknown verb" "mpsmig: help: unknown verb 'frobnicate'" "$TRY" help frobnicate
usage_error "help for a mistyped verb" "mpsmig: help: unknown verb 'strat'; did you mean 'start'?" "$TRY" help strat
usage_error "help for two verbs" "mpsmig: help: one verb at most, got 2" "$TRY" help list list
usage_error "list: unknown option" "mpsmig: list: unknown option '--bogus'" "$TRY_LIST" list --bogus
usage_error "list: unknown short option" "mpsmig: list: unknown option '-q'" "$TRY_LIST" list -q
usage_error "list: unknown short option in a cluster" "mpsmig: list: unknown option '-q'" "$TRY_LIST" list --json -qh
usage_error "list: a value where none is taken" "mpsmig: list: option takes no argument: '--json'" "$TRY_LIST" list --json=yes
usage_error "list: an argument" "mpsmig: list: unexpected argument 'extra'" "$TRY_LIST" list extra
usage_error "options after the verb are the verb's" "mpsmig: list: unknown option '-V'" "$TRY_LIST" list -V

# No verb at all: the verb list, on stderr after the one line, and exit 2 (a script that lost its
# verb must not look successful).
sim a30-seed "$MPSMIG"
check_eq "no verb: exit 2" 2 "$rc"
check_eq "no verb: nothing on stdout" "" "$out"
check_eq "no verb: the line first" "mpsmig: missing verb" "${err%%$'\n'*}"
check_contains "no verb: the usage" "Usage: mpsmig [-h|--help] [-V|--version] [--config FILE] VERB [ARGS...]" "$err"
check_contains "no verb: the verbs" "  status   " "$err"

# help help: help's own usage.
sim a30-seed "$MPSMIG" help help
check_eq "help help: exit 0" 0 "$rc"
check_eq "help help: nothing on stderr" "" "$err"
check_contains "help help: usage" "Usage: mpsmig help [VERB]" "$out"

sim a30-seed "$MPSMIG" --version
check_eq "--version" "0 mpsmig 0.1.0" "$rc $out"
sim a30-seed "$MPSMIG" -V
check_eq "-V" "0 mpsmig 0.1.0" "$rc $out"

sim a30-seed "$MPSMIG" --help
check_eq "--help: exit 0" 0 "$rc"
check_eq "--help: nothing on stderr" "" "$err"
check_contains "--help: usage line" "Usage: mpsmig [-h|--help] [-V|--version] [--config FILE] VERB [ARGS...]" "$out"
check_contains "--help: lists list" "  list     Show the GPUs" "$out"
main_help=$out
sim a30-seed "$MPSMIG" help
check_eq "help is --help" "$main_help" "$out"
sim a30-seed "$MPSMIG" -h list
check_eq "-h before a verb is --help" "$main_help" "$out"

# Every verb the help lists answers `help VERB`, `VERB --help` and `VERB -h` the same way.
verbs=$(printf '%s\n' "$main_help" | awk '/^Verbs:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
check_contains "the verb table has list" "list" "$verbs"
for verb in $verbs; do
        [ "$verb" = help ] && continue
        sim a30-seed "$MPSMIG" help "$verb"
        check_eq "help $verb: exit 0" 0 "$rc"
        check_contains "help $verb: usage" "Usage: mpsmig $verb" "${out%%$'\n'*}"
        verb_help=$out
        sim a30-seed "$MPSMIG" "$verb" --help
        check_eq "$verb --help: exit 0, same text" "0 $verb_help" "$rc $out"
        check_eq "$verb --help: nothing on stderr" "" "$err"
        sim a30-seed "$MPSMIG" "$verb" -h
        check_eq "$verb -h: exit 0, same text" "0 $verb_help" "$rc $out"
done

# --help wins wherever it stands among list's options, and nothing is listed.
sim a30-seed "$MPSMIG" list --json --help
check_contains "list --json --help: usage, not JSON" "Usage: mpsmig list" "$out"
check_not_contains "list --json --help: no JSON" "schema_version" "$out"

# Unique prefixes of long options are accepted (getopt_long).
sim a30-seed "$MPSMIG" list --whole --wide
check_eq "list --whole: exit 0" 0 "$rc"
check_contains "list --whole: whole GPUs are targets" "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38" "$(printf '%s\n' "$out" | grep ' target ')"
