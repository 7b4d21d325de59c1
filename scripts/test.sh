#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs packages, builds, runs ctest.
# Integration tests start what they need themselves (coordinator, agents, nginx, a private
# systemd manager, sshd) and clean it up.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
exec ctest --output-on-failure --timeout 1200 "$@"
