#!/bin/sh
# mig-parted hook: `stop` before mig-parted changes MIG mode or destroys and creates instances
# (a control daemon holds its device, and one left on a destroyed instance serves nothing),
# `start` once it is done, on the devices that exist then. hooks.yaml beside this file wires it.
# mig-parted runs a hook with only its own MIG_PARTED_* variables (no PATH), so this sets one.
# Environment: MPSMIG (the program, default: mpsmig on PATH), MPSMIG_HOOK_OPTIONS (more options
# for both verbs, such as "--whole-gpus" or "--layout seed"), MPSMIG_RUNTIME_DIR as for mpsmig.
set -eu
PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
export PATH
mpsmig=${MPSMIG:-mpsmig}
# Word splitting of the options is wanted: they are separate arguments.
# shellcheck disable=SC2086
case ${1:-} in
stop)
        echo "mpsmig hook: stopping the MPS control daemons before mig-parted changes the GPUs" \
                "(config ${MIG_PARTED_SELECTED_CONFIG:-?})"
        exec "$mpsmig" stop ${MPSMIG_HOOK_OPTIONS:-}
        ;;
start)
        echo "mpsmig hook: starting one MPS control daemon per MIG device now present"
        exec "$mpsmig" start ${MPSMIG_HOOK_OPTIONS:-}
        ;;
*)
        echo "Usage: ${0##*/} stop|start   (a hook for nvidia-mig-parted apply -k hooks.yaml)" >&2
        exit 2
        ;;
esac
