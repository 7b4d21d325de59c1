#!/usr/bin/env bash
# rollgate's main job on one machine: installs what it needs, builds rollgate, then runs the demo
# fleet (a coordinator and 8 agents, each host an nginx unit of a private systemd manager, under
# load) through one good rollout and one bad one. Exit status 0 only if the good rollout was
# promoted through every stage and the bad one was rolled back at the canary.
#
#   ./scripts/demo.sh --keep   leaves the fleet running afterwards and prints the `export` lines
#                              that point the rollgate CLI at it; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >/dev/null
echo "demo: building rollgate (this takes a few minutes the first time)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build -j"$(nproc)" --target rollgate rollgate-agent rollgate-coordinator rollgate-demo \
  >/dev/null
exec ./build/bin/rollgate-demo "$@"
