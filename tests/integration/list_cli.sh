#!/bin/bash
# The command line's frame: global options, help for every verb in the table, and the usage
# errors (one specific line, then "Try 'mpsmig --help'.", exit 2), with `list` as the example verb.
source "$MPSMIG_SOURCE/tests/lib.sh"
TRY="Try 'mpsmig --help'."

# usage_error WHAT EXPECTED_FIRST_LINE ARGS...
usage_error() {
        what=$1
        expected=$2
        shift 2
        sim a30-seed "$MPSMIG" "$@"
        check_eq "$what: exit 2" 2 "$rc"
        check_eq "$what: message" "$expected
$TRY" "$err"
        check_eq "$what: nothing on stdout" "" "$out"
}

usage_error "no verb" "mpsmig: missing verb"
usage_error "unknown verb" "mpsmig: unknown verb 'frobnicate'" frobnicate
usage_error "unknown global long option" "mpsmig: unknown option '--bogus'" --bogus list
usage_error "unknown global short option" "mpsmig: unknown option '-x'" -x list
usage_error "global option with a value" "mpsmig: option takes no argument: '--help'" --help=yes
usage_error "help for an unknown verb" "mpsmig: help: unknown verb 'frobnicate'" help frobnicate
usage_error "help for two verbs" "mpsmig: help: one verb at most, got 2" help list list
usage_error "list: unknown option" "mpsmig: list: unknown option '--bogus'" list --bogus
usage_error "list: unknown short option" "mpsmig: list: unknown option '-q'" list -q
usage_error "list: unknown short option in a cluster" "mpsmig: list: unknown option '-q'" list --json -qh
usage_error "list: a value where none is taken" "mpsmig: list: option takes no argument: '--json'" list --json=yes
usage_error "list: an argument" "mpsmig: list: unexpected argument 'extra'" list extra
usage_error "options after the verb are the verb's" "mpsmig: list: unknown option '-V'" list -V

sim a30-seed "$MPSMIG" --version
check_eq "--version" "0 mpsmig 0.1.0" "$rc $out"
sim a30-seed "$MPSMIG" -V
check_eq "-V" "0 mpsmig 0.1.0" "$rc $out"

sim a30-seed "$MPSMIG" --help
check_eq "--help: exit 0" 0 "$rc"
check_eq "--help: nothing on stderr" "" "$err"
check_contains "--help: usage line" "Usage: mpsmig [-h|--help] [-V|--version] VERB [ARGS...]" "$out"
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
sim a30-seed "$MPSMIG" list --whole
check_eq "list --whole: exit 0" 0 "$rc"
check_contains "list --whole: whole GPUs are targets" "GPU-0783f1eb-ab00-d6ec-92e4-8676be77de38" "$(printf '%s\n' "$out" | grep ' target ')"
