# rollgate-agent %postun ($1: 0 = erase, 1 = upgrade): restart a running agent after an upgrade.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart rollgate-agent.service >/dev/null 2>&1 || :
    fi
fi
