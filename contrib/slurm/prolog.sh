#!/bin/sh
# Slurm Prolog (slurm.conf: Prolog=/etc/mpsmig/slurm/prolog.sh), for sites that run the MPS
# daemons only while jobs do: before a job's first step on the node, as root, `mpsmig start`
# starts one control daemon per MIG device in mpsmig's folders (/run/mpsmig/<UUID>/pipe and
# .../log, the ones mpsmig_spank.so gives the tasks) and keeps those that already run, so it costs
# little for every job. Its status is mpsmig's: a daemon that cannot start fails the prolog, and
# Slurm drains the node rather than run a job that asked for MPS on a node without it.
# Slurm runs a prolog with SLURM_* variables only, so this sets a PATH (mpsmig looks up
# nvidia-cuda-mps-control on it) and reads /etc/default/mpsmig when there is one.
# Variables: MPSMIG (the program, default: mpsmig on PATH), MPSMIG_OPTIONS (more options, such as
# "--layout seed" or "--whole-gpus", the same as the plugin's arguments), MPSMIG_RUNTIME_DIR.
set -eu
PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
export PATH
# shellcheck disable=SC1091
[ ! -r /etc/default/mpsmig ] || . /etc/default/mpsmig
# Word splitting of the options is wanted: they are separate arguments.
# shellcheck disable=SC2086
exec "${MPSMIG:-mpsmig}" start ${MPSMIG_OPTIONS:-}
