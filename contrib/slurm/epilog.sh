#!/bin/sh
# Slurm Epilog (slurm.conf: Epilog=/etc/mpsmig/slurm/epilog.sh), the other half of prolog.sh:
# after a job, as root, when no other job runs on this node, `mpsmig stop` quits every daemon
# (mpsmig finds each in its own pipe folder: never a `quit` sent to a default folder where no
# daemon listens) and removes the folders mpsmig made. When squeue cannot say (slurmctld not
# answering), the daemons are left running: stopping them under another job's tasks would be
# worse than an idle daemon. Variables as for prolog.sh.
set -eu
PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
export PATH
# shellcheck disable=SC1091
[ ! -r /etc/default/mpsmig ] || . /etc/default/mpsmig
node=${SLURMD_NODENAME:-$(hostname -s)}
if ! jobs=$(squeue --noheader --nodelist="$node" --states=RUNNING,COMPLETING,CONFIGURING \
        --format=%A); then
        echo "mpsmig epilog: squeue did not answer; the MPS daemons are left running" >&2
        exit 0
fi
for job in $jobs; do
        [ "$job" = "${SLURM_JOB_ID:-}" ] || exit 0
done
# shellcheck disable=SC2086
exec "${MPSMIG:-mpsmig}" stop ${MPSMIG_OPTIONS:-}
