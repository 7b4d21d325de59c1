#!/usr/bin/env bash
# The Ansible peer for bench_install: the same job (one 50 MB incompressible tar.gz copied,
# unarchived into releases/<version> and the `current` symlink switched) on 20 inventory hosts,
# forks 20, SSH pipelining, gather_facts off (in Ansible's favour). The 20 hosts are aliases of one
# sshd on a free loopback port with a throw-away key, each with its own install directory.
# Prints the wall time and aggregate MB/s. Needs ansible-playbook and sshd (run as root here).
# Usage: bench/install/ansible_compare.sh [HOSTS] [MEGABYTES]
set -euo pipefail
hosts=${1:-20}
megabytes=${2:-50}
command -v ansible-playbook >/dev/null || { echo "ansible: not installed"; exit 2; }
work=$(mktemp -d /tmp/rollgate-ansible-XXXXXX)
sshd_pid=
cleanup() { [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/src" /run/sshd
head -c "${megabytes}M" /dev/urandom > "$work/src/blob.bin"
tar -czf "$work/web-2.0.0.tar.gz" -C "$work/src" .
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/user_key"
cp "$work/user_key.pub" "$work/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
MaxStartups 200
MaxSessions 200
CONF
/usr/sbin/sshd -f "$work/sshd_config" -D -e 2> "$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

{
  echo "[web]"
  for i in $(seq "$hosts"); do
    echo "h$i ansible_host=127.0.0.1 ansible_port=$port install_dir=$work/root-h$i"
  done
  echo "[web:vars]"
  echo "ansible_user=$(id -un)"
  echo "ansible_ssh_private_key_file=$work/user_key"
  echo "ansible_python_interpreter=/usr/bin/python3"
} > "$work/inventory"
cat > "$work/ansible.cfg" <<CONF
[defaults]
forks = $hosts
host_key_checking = False
inventory = $work/inventory
stdout_callback = default
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null
control_path_dir = $work/cp
CONF
cat > "$work/install.yml" <<CONF
- hosts: web
  gather_facts: false
  tasks:
    - file: {path: "{{ install_dir }}/releases/2.0.0", state: directory}
    - copy: {src: "$work/web-2.0.0.tar.gz", dest: "{{ install_dir }}/web-2.0.0.tar.gz"}
    - unarchive: {src: "{{ install_dir }}/web-2.0.0.tar.gz", dest: "{{ install_dir }}/releases/2.0.0", remote_src: true}
    - file: {src: "{{ install_dir }}/releases/2.0.0", dest: "{{ install_dir }}/current", state: link}
CONF
size=$(stat -c %s "$work/web-2.0.0.tar.gz")
start=$(date +%s.%N)
ANSIBLE_CONFIG=$work/ansible.cfg ansible-playbook "$work/install.yml" > "$work/ansible.log" 2>&1 || {
  tail -30 "$work/ansible.log"; exit 1; }
end=$(date +%s.%N)
ok=$(ls -d "$work"/root-h*/current/blob.bin 2>/dev/null | wc -l)
python3 - "$start" "$end" "$size" "$hosts" "$ok" <<'PY'
import sys
start, end, size, hosts, ok = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
total = end - start
print(f"ansible: {ok}/{hosts} hosts installed ({size/1e6:.1f} MB tar.gz each, copy + unarchive + symlink, "
      f"forks {hosts}, pipelining) in {total:.2f} s, aggregate {hosts*size/1e6/total:.0f} MB/s")
PY
