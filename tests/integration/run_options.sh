#!/bin/bash
# `run` and `env` folder options, as root and (with root) as user nobody: an empty --runtime-dir=
# is a usage error (exit 2) for every verb; a refused run or env makes no folder, even with a
# mistyped --runtime-dir; the hint it prints quotes that folder for a shell, so it can be pasted.
. "$MPSMIG_SOURCE/tests/lib.sh"

topology=$(private_topology a30-seed)
users=root
[ "$(id -u)" = 0 ] && users="root nobody"
mkdir -m 0755 "$T/nobody"
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$T/nobody"

for user in $users; do
        if [ "$user" = root ]; then
                m() { sim "$topology" "$MPSMIG" "$@"; }
                home=$T
        else
                m() { sim "$topology" setpriv --reuid=nobody --regid=nogroup --clear-groups \
                        "$MPSMIG" "$@"; }
                home=$T/nobody
        fi
        for verb in start stop status; do
                m "$verb" --runtime-dir=
                check_eq "$user: $verb --runtime-dir= : exit 2" 2 "$rc"
        done
        m run --runtime-dir= -- true
        check_eq "$user: run --runtime-dir= : exit 2" 2 "$rc"
        check_contains "$user: run --runtime-dir= : says so" "--runtime-dir needs a folder" "$err"
        m env --runtime-dir= 0:1:0
        check_eq "$user: env --runtime-dir= : exit 2" 2 "$rc"
        check_contains "$user: env --runtime-dir= : says so" "--runtime-dir needs a folder" "$err"

        typo="$home/it's a typo"
        m run --runtime-dir "$typo" -- true
        check_eq "$user: run on a mistyped runtime folder: refused, exit 1" 1 "$rc"
        check_contains "$user: ... the hint quotes the folder" \
                "\`mpsmig start --runtime-dir '$home/it'\\''s a typo'\`" "$err"
        [ -e "$typo" ] && fail "$user: ... no folder made" || pass "$user: ... no folder made"
        m run --runtime-dir "$typo" --on 0:1:0 -- true
        check_eq "$user: run --on on a mistyped runtime folder: exit 1" 1 "$rc"
        check_contains "$user: ... the hint quotes the folder" \
                "\`mpsmig start --runtime-dir '$home/it'\\''s a typo' 0:1:0\`" "$err"
        [ -e "$typo" ] && fail "$user: ... no folder made" || pass "$user: ... no folder made"
        m env --runtime-dir "$typo" 0:1:0
        check_eq "$user: env on a mistyped runtime folder: exit 1" 1 "$rc"
        [ -e "$typo" ] && fail "$user: ... no folder made" || pass "$user: ... no folder made"
done
