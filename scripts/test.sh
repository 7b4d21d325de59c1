#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs packages, builds, runs ctest, two
# tests at a time. Integration tests start what they need themselves (coordinator, agents, nginx,
# a private systemd manager, sshd) under names of their own, and clean it up.
# Extra arguments go to ctest: `-L unit` (seconds), `-L integration`, `-L fuzz`, `-R <name>`.
# A test whose prerequisites are missing is reported as Skipped; with CI=true it fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
exec ctest -j2 --output-on-failure --timeout 1200 "$@"
