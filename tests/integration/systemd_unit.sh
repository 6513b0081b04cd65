#!/bin/bash
# contrib/systemd: the unit as configured in the build passes `systemd-analyze verify` and has
# the shape mpsmig(8) promises (oneshot start/stop, after the driver without requiring it); the
# tmpfiles.d line makes /run/mpsmig 0755 root.
. "$MPSMIG_SOURCE/tests/lib.sh"

unit=$MPSMIG_BUILD/systemd/mpsmig.service
tmpfiles=$MPSMIG_SOURCE/contrib/systemd/mpsmig.tmpfiles
text=$(cat "$unit")
for line in Type=oneshot RemainAfterExit=yes Wants=nvidia-persistenced.service \
        WantedBy=multi-user.target; do
        check_eq "unit: $line" 1 "$(grep -cx "$line" "$unit")"
done
after=$(sed -n 's/^After=//p' "$unit")
check_contains "unit: after the driver" "nvidia-persistenced.service" "$after"
check_contains "unit: after the local file systems" "local-fs.target" "$after"
check_eq "unit: no Requires= (the driver's daemon is optional)" 0 "$(grep -c '^Requires=' "$unit")"
check_eq "unit: ExecStart runs mpsmig start" 1 "$(grep -cE '^ExecStart=/.*/mpsmig start$' "$unit")"
check_eq "unit: ExecStop runs mpsmig stop" 1 "$(grep -cE '^ExecStop=/.*/mpsmig stop$' "$unit")"
check_eq "tmpfiles: /run/mpsmig 0755 root" 1 \
        "$(grep -cE '^d /run/mpsmig 0755 root root -$' "$tmpfiles")"

if command -v systemd-analyze >/dev/null; then
        # The copy runs the build's mpsmig, which exists (verify checks that ExecStart's program
        # is executable); --man=no: the page is not installed here.
        mkdir "$T/units"
        sed "s|^\(Exec[A-Za-z]*=\)/.*/mpsmig |\1$MPSMIG |" "$unit" >"$T/units/mpsmig.service"
        run_capture systemd-analyze verify --man=no "$T/units/mpsmig.service"
        check_eq "systemd-analyze verify: exit 0" 0 "$rc"
        check_eq "systemd-analyze verify: no complaint" "" "$out$err"
else
        echo "skip: systemd-analyze is not installed: the unit was not verified"
fi

if command -v systemd-tmpfiles >/dev/null && [ "$(id -u)" = 0 ]; then
        mkdir "$T/root"
        run_capture systemd-tmpfiles --create --root="$T/root" "$tmpfiles"
        check_eq "systemd-tmpfiles --create: exit 0" 0 "$rc"
        check_eq "tmpfiles made /run/mpsmig 0755 root" "755 0 0" \
                "$(stat -c '%a %u %g' "$T/root/run/mpsmig" 2>&1)"
else
        echo "skip: the tmpfiles line was not applied (needs systemd-tmpfiles and root)"
fi
