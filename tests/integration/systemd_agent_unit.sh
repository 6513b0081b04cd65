#!/bin/bash
# contrib/systemd/mpsmig-agent.service: the agent's unit as configured in the build passes
# `systemd-analyze verify` and has the shape docs/agent.md promises: Type=notify with the agent's
# own notifications, reload by SIGHUP (systemd 252 has no notify-reload), SIGTERM to the agent
# alone (KillMode=mixed: it quits the daemons itself), after the driver without requiring it,
# never beside mpsmig.service, and no sandboxing the driver cannot live with.
. "$MPSMIG_SOURCE/tests/lib.sh"

unit=$MPSMIG_BUILD/systemd/mpsmig-agent.service
for line in Type=notify NotifyAccess=main KillMode=mixed Wants=nvidia-persistenced.service \
        Conflicts=mpsmig.service 'ExecReload=/bin/kill -HUP $MAINPID' WantedBy=multi-user.target \
        NoNewPrivileges=yes; do
        check_eq "unit: $line" 1 "$(grep -cxF "$line" "$unit")"
done
check_contains "unit: after the driver" "nvidia-persistenced.service" "$(sed -n 's/^After=//p' "$unit")"
check_eq "unit: ExecStart runs mpsmig daemon" 1 "$(grep -cE '^ExecStart=/.*/mpsmig daemon$' "$unit")"
for option in PrivateDevices PrivateTmp MemoryDenyWriteExecute ProtectSystem Requires; do
        check_eq "unit: no $option= (docs/agent.md says why)" 0 "$(grep -c "^$option=" "$unit")"
done

if command -v systemd-analyze >/dev/null; then
        mkdir "$T/units"
        sed "s|^\(Exec[A-Za-z]*=\)/.*/mpsmig |\1$MPSMIG |" "$unit" >"$T/units/mpsmig-agent.service"
        run_capture systemd-analyze verify --man=no "$T/units/mpsmig-agent.service"
        check_eq "systemd-analyze verify: exit 0" 0 "$rc"
        check_eq "systemd-analyze verify: no complaint" "" \
                "$(grep -v 'mpsmig.service' <<<"$out$err")"
else
        echo "skip: systemd-analyze is not installed: the unit was not verified"
fi
