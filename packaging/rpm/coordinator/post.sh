# rollgate-coordinator %post ($1: 1 = install, 2 = upgrade): system user, directories, keys on
# first install, unit. Idempotent.
if ! getent group rollgate >/dev/null; then
    groupadd --system rollgate
fi
if ! getent passwd rollgate >/dev/null; then
    useradd --system --gid rollgate --home-dir /var/lib/rollgate --no-create-home \
        --shell /usr/sbin/nologin --comment "rollgate coordinator" rollgate
fi
install -d -m 0755 -o root -g root /etc/rollgate /etc/rollgate/admins.d
install -d -m 0755 -o rollgate -g rollgate /etc/rollgate/agents.d
install -d -m 0700 -o rollgate -g rollgate /var/lib/rollgate
if [ ! -e /etc/rollgate/coordinator.key ]; then
    /usr/bin/rollgate keygen --out /etc/rollgate/coordinator --if-missing
fi
# The coordinator (user rollgate) refuses a secret key it does not own or that group or
# others may read; an older install's root:rollgate 0640 key is brought in line too.
chown rollgate:rollgate /etc/rollgate/coordinator.key
chmod 0600 /etc/rollgate/coordinator.key
if [ ! -e /etc/rollgate/admin.key ]; then
    /usr/bin/rollgate keygen --out /etc/rollgate/admin --if-missing
fi
if [ ! -e /etc/rollgate/admins.d/admin.pub ]; then
    cp /etc/rollgate/admin.pub /etc/rollgate/admins.d/admin.pub
    chmod 0644 /etc/rollgate/admins.d/admin.pub
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl enable --now rollgate-coordinator.service >/dev/null 2>&1 || :
    fi
fi
