# rollgate-coordinator %postun ($1: 0 = erase, 1 = upgrade): restart after an upgrade. Keys and
# state stay after an erase (rpm has no purge); remove /etc/rollgate and /var/lib/rollgate by hand.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart rollgate-coordinator.service >/dev/null 2>&1 || :
    fi
fi
