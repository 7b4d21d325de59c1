# rollgate-agent %post ($1: 1 = install, 2 = upgrade): the agent's key on first install; the unit
# is enabled, and started once agent.toml names a coordinator. Idempotent.
install -d -m 0755 -o root -g root /etc/rollgate
[ -d /var/lib/rollgate ] || install -d -m 0755 -o root -g root /var/lib/rollgate
install -d -m 0700 -o root -g root /var/lib/rollgate/agent
if [ ! -e /etc/rollgate/agent.key ]; then
    /usr/bin/rollgate-agent keygen --out /etc/rollgate/agent --if-missing
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl enable rollgate-agent.service >/dev/null 2>&1 || :
        if grep -Eq '^[[:space:]]*coordinator[[:space:]]*=' /etc/rollgate/agent.toml; then
            systemctl start rollgate-agent.service >/dev/null 2>&1 || :
        fi
    fi
fi
