#!/bin/bash
# man/mpsmig.8.scd cannot drift from the program: every verb of `mpsmig help` has a section, and
# each section names every option its `mpsmig help VERB` gives (mpsmig-probe's page likewise).
# The pages scdoc built render with no groff warning.
. "$MPSMIG_SOURCE/tests/lib.sh"

page=$MPSMIG_SOURCE/man/mpsmig.8.scd

# options TEXT: every option TEXT names, one a line: --long, and -x where "-x," or "-x " starts
# an option line.
options() {
        {
                grep -oE -- '--[a-z][a-z0-9-]*' <<<"$1"
                grep -oE -- '^ +-[a-zA-Z][, ]' <<<"$1" | grep -oE -- '-[a-zA-Z]'
        } | sort -u
}

# section NAME: the lines of the page's "## NAME" subsection (or "# NAME" section).
section() {
        awk -v name="$1" '
                /^#+ / { inside = ($0 == "## " name || $0 == "# " name); next }
                inside
        ' "$page"
}

verbs=$("$MPSMIG" help | awk '
        /^[A-Za-z].*:$/ { in_verbs = ($0 ~ /^(Verbs|Commands)/); next }
        in_verbs && /^  +[a-z][a-z-]* / { print $1 }
')
check_contains "mpsmig help lists verbs" "start" "$verbs"
for verb in $verbs; do
        text=$(section "$verb")
        if [ -z "$text" ]; then
                fail "man page: no section '## $verb'"
                continue
        fi
        pass "man page: section for $verb"
        [ "$verb" = help ] && continue
        for option in $(options "$("$MPSMIG" help "$verb")"); do
                check_contains "man page, $verb: names $option" "*$option*" "$text"
        done
done
# And no section for a verb the program does not have.
for heading in $(awk '/^## / { print $2 }' "$page"); do
        check_contains "man page: '## $heading' is a verb of mpsmig help" " $heading " \
                " $(echo $verbs) "
done

text=$(section "GLOBAL OPTIONS")
for option in $(options "$("$MPSMIG" --help | sed -n '/^Options:/,$p')"); do
        check_contains "man page, global options: names $option" "*$option*" "$text"
done

page=$MPSMIG_SOURCE/man/mpsmig-probe.1.scd
text=$(section OPTIONS)
for option in $(options "$("$PROBE" --help)"); do
        check_contains "mpsmig-probe page: names $option" "*$option*" "$text"
done

# Rendering: man-db's `man --warnings` passes groff -ww; any warning fails. Built only where
# scdoc is installed (make deps installs it).
if [ ! -f "$MPSMIG_BUILD/man/mpsmig.8" ]; then
        echo "skip: $MPSMIG_BUILD/man has no pages (scdoc was not found at configure time)"
elif ! command -v man >/dev/null; then
        echo "skip: no man (man-db) to render the pages"
else
        for built in "$MPSMIG_BUILD"/man/*.[18]; do
                warnings=$(MANWIDTH=80 man --warnings -l "$built" 2>&1 >/dev/null)
                check_eq "${built##*/} renders with no warning" "" "$warnings"
        done
        rendered=$(MANWIDTH=80 man -l "$MPSMIG_BUILD/man/mpsmig.8" 2>/dev/null)
        check_contains "rendered: the stop section" "--force" "$rendered"
fi
