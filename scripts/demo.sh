#!/usr/bin/env bash
# rollgate's main job on one machine: builds rollgate, then runs a local coordinator and three
# agents on loopback, enrolls them, shows the fleet with `rollgate hosts`, and stops everything.
# Exit status 0 only if all three hosts registered and everything stopped cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh >/dev/null
BIN="$PWD/build/bin"
WORK="$(mktemp -d /tmp/rollgate-demo-XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-40000 -n 1; }
AGENT_PORT=$(port); ADMIN_PORT=$(port); BROADCAST_PORT=$(port)

step "keys for the coordinator and the operator (CURVE, Z85)"
"$BIN/rollgate" keygen --out "$WORK/coordinator"
"$BIN/rollgate" keygen --out "$WORK/admin"
mkdir -p "$WORK/admins.d" "$WORK/agents.d"
cp "$WORK/admin.pub" "$WORK/admins.d/admin.pub"
cat > "$WORK/coordinator.toml" <<TOML
[coordinator]
agent_endpoint = "tcp://127.0.0.1:$AGENT_PORT"
admin_endpoint = "tcp://127.0.0.1:$ADMIN_PORT"
broadcast_endpoint = "tcp://127.0.0.1:$BROADCAST_PORT"
key = "$WORK/coordinator.key"
agents_dir = "$WORK/agents.d"
admins_dir = "$WORK/admins.d"
state_dir = "$WORK/state"
heartbeat_seconds = 1
host_timeout_seconds = 5
TOML
export ROLLGATE_ADMIN="tcp://127.0.0.1:$ADMIN_PORT" ROLLGATE_KEY="$WORK/admin.key" \
  ROLLGATE_COORDINATOR_KEY="$WORK/coordinator.pub"

step "starting the coordinator"
"$BIN/rollgate-coordinator" --config "$WORK/coordinator.toml" 2>"$WORK/coordinator.log" &
PIDS+=($!)
for _ in $(seq 50); do "$BIN/rollgate" hosts --timeout 0.5 >/dev/null 2>&1 && break; sleep 0.2; done

step "three agents: keys, enrollment, start"
HOSTS=("web-1 eu-west eu-west-a" "web-2 eu-west eu-west-b" "web-3 us-east us-east-a")
for spec in "${HOSTS[@]}"; do
  read -r name region cluster <<<"$spec"
  "$BIN/rollgate-agent" keygen --out "$WORK/$name" >/dev/null
  cat > "$WORK/$name.toml" <<TOML
[agent]
host = "$name"
region = "$region"
cluster = "$cluster"
coordinator = "tcp://127.0.0.1:$AGENT_PORT"
broadcast = "tcp://127.0.0.1:$BROADCAST_PORT"
coordinator_key = "$WORK/coordinator.pub"
key = "$WORK/$name.key"
state_dir = "$WORK/$name-state"
heartbeat_seconds = 1
TOML
  "$BIN/rollgate" hosts enroll "$name" "$WORK/$name.pub"
  "$BIN/rollgate-agent" --config "$WORK/$name.toml" 2>"$WORK/$name.log" &
  PIDS+=($!)
done

step "waiting for the three hosts to register"
ok=0
for _ in $(seq 100); do
  healthy=$("$BIN/rollgate" hosts --json | grep -c '"healthy": true' || true)
  if [ "$healthy" -eq 3 ]; then ok=1; break; fi
  sleep 0.2
done

step "rollgate hosts"
"$BIN/rollgate" hosts

step "stopping agents and coordinator"
status=0
for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do wait "$pid" || status=1; done
PIDS=()
if [ "$ok" -eq 1 ] && [ "$status" -eq 0 ]; then
  echo "demo: 3 hosts registered; every process stopped cleanly"
  exit 0
fi
echo "demo: FAILED (registered: $ok, clean stop: $((1 - status)))" >&2
tail -n 20 "$WORK"/*.log >&2 || true
exit 1
