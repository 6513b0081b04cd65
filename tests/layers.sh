#!/bin/bash
# The layers of docs/architecture.md, checked on every include: a file of src/LAYER may include
# only its own layer and those below it (base < driver < node < ops < agent < cli); src/spank (the
# Slurm plugin) sits beside cli, over agent, and neither includes the other; mpsmig-probe
# (src/probe) stands alone; simgpu may use src/base's header-only helpers and nothing else of
# src/, and src/ nothing of simgpu. One line per include that goes the wrong way; exit 1 if any.
set -u
cd "${MPSMIG_SOURCE:?MPSMIG_SOURCE must name the source folder}"
order="base driver node ops agent cli"
rank() {
        local i=0
        [ "$1" = spank ] && set -- cli # the plugin is a top layer, as the command line is
        for layer in $order; do
                [ "$layer" = "$1" ] && { echo "$i"; return; }
                i=$((i + 1))
        done
        echo -1
}

bad=0
checked=0
for file in $(git ls-files 'src/*.c' 'src/*.h' 'simgpu/*.c' 'simgpu/*.h' 2>/dev/null ||
        find src simgpu -name '*.[ch]'); do
        case $file in
        src/probe/*) own=probe ;;
        src/*) own=${file#src/}; own=${own%%/*} ;;
        simgpu/*) own=simgpu ;;
        esac
        while IFS= read -r line; do
                checked=$((checked + 1))
                included=${line#*\"}
                included=${included%\"*}
                why=
                case $own in
                probe)
                        case $included in */*) why="mpsmig-probe stands alone" ;; esac ;;
                simgpu)
                        case $included in
                        ../../src/base/*.h) ;;
                        *src/*) why="simgpu may use only src/base's headers" ;;
                        esac ;;
                *)
                        case $included in
                        */*)
                                to=${included%%/*}
                                if [ "$(rank "$to")" -lt 0 ]; then
                                        why="'$to' is not a layer of src/"
                                elif [ "$(rank "$to")" -gt "$(rank "$own")" ]; then
                                        why="$own may not include $to (a higher layer)"
                                elif [ "$to" != "$own" ] && [ "$(rank "$to")" = "$(rank "$own")" ]; then
                                        why="$own may not include $to (a layer beside it)"
                                fi ;;
                        esac ;;
                esac
                if [ -n "$why" ]; then
                        echo "$file: #include \"$included\": $why"
                        bad=$((bad + 1))
                fi
        done < <(grep -h '^#include "' "$file")
done
echo "$checked includes checked, $bad going the wrong way"
[ "$bad" -eq 0 ]
