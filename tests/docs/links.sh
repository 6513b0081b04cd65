#!/bin/bash
# Every reference from README.md and docs/*.md to a file of the repository resolves: markdown
# links ("[text](path)") and paths written out (docs/x.md, tests/lib.sh, src/cli/), so that a
# reader never follows a pointer to a file that is not there (or that lives outside the
# repository). Placeholders (`src/cli/cmd-<verb>.c`), globs (`docs/driver-facts-*.md`) that match
# something, and web addresses are fine.
set -u
cd "${MPSMIG_SOURCE:?MPSMIG_SOURCE must name the source folder}" || exit 1
missing=$(perl -ne '
        my $file = $ARGV;
        (my $dir = $file) =~ s{[^/]*$}{};
        # Markdown links, relative to the file that holds them.
        while (/\]\(([^)\s#]+)(?:#[^)]*)?\)/g) {
                my $target = $1;
                next if $target =~ m{^[a-z]+:};
                my $path = $target =~ m{^/} ? $target : "$dir$target";
                print "$file:$.: link ($target)\n" unless -e $path;
        }
        # Paths written out, from the root of the repository.
        while (m{(?<![\w./<>\$~-])((?:docs|src|tests|simgpu|contrib|bench|shared)/[\w./*-]*[\w/*])}g) {
                my $path = $1;
                my $rest = substr($_, pos($_));
                next if $rest =~ /^[\w.-]*[<{\$]/;    # a placeholder follows: cmd-<verb>.c, x.{c,h}
                if ($path =~ /\*/) {
                        my @found = glob($path);
                        print "$file:$.: $path (matches nothing)\n" unless @found && -e $found[0];
                } elsif (!-e $path) {
                        print "$file:$.: $path\n";
                }
        }
        # Relative paths that climb out ("../shared facts"), from the file that holds them.
        while (m{(?<![\w.])(\.\./[\w./-]*)}g) {
                print "$file:$.: $1\n" unless -e "$dir$1";
        }
        # Absolute paths into the machines the project was written on.
        print "$file:$.: $1 (outside the repository)\n" while m{(/work/[\w./-]*)}g;
        close ARGV if eof;   # $. counts lines per file
' README.md docs/*.md)
if [ -n "$missing" ]; then
        echo "FAIL: references to files that are not in the repository:"
        printf '  %s\n' "$missing"
        echo "1 checks, 1 failed"
        exit 1
fi
echo "ok: every file README.md and docs/*.md name exists"
echo "1 checks, 0 failed"
