# rollgate-agent %preun ($1: 0 = erase, 1 = upgrade): stop and disable on erase.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now rollgate-agent.service >/dev/null 2>&1 || :
fi
