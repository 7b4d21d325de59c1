#!/bin/sh
# CTest fixture cleanup: removes the Debian root made by make-debian-root.sh (never a mount
# point: the tests mount only inside private mount namespaces).
# Usage: remove-debian-root.sh ROOT
set -eu
root=$1
if grep -qs " $root/" /proc/self/mounts; then
    echo "refusing to remove $root: something is mounted below it" >&2
    exit 1
fi
rm -rf "$root" "$root.tmp" "$root.debootstrap.log" "$root.apt.log"
