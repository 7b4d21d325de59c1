#!/bin/sh
# CTest fixture: a clean Debian 12 root (debootstrap --variant=minbase from the archive in
# /etc/apt/sources.list*) with the runtime dependencies of the rollgate packages installed, so
# tests can copy it and install the packages offline. Downloaded .debs are cached in CACHE_DIR
# (kept between runs); the root itself is removed by remove-debian-root.sh.
# Usage: make-debian-root.sh ROOT CACHE_DIR PACKAGES_DIR
set -eu
root=$1
cache=$2
packages=$3

mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
    | grep -v -- '-security' | grep 'debian' | head -n 1 || true)
if [ -z "$mirror" ]; then
    mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep debian | head -n 1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

rm -rf "$root" "$root.tmp"
mkdir -p "$cache" "$(dirname "$root")"
if ! debootstrap --variant=minbase --cache-dir="$cache" bookworm "$root.tmp" "$mirror" \
        >"$root.debootstrap.log" 2>&1; then
    tail -n 30 "$root.debootstrap.log"
    exit 1
fi
cp /etc/resolv.conf "$root.tmp/etc/resolv.conf"

# Runtime dependencies of both packages (what apt would pull in when installing them).
deps=$(for p in "$packages"/current/*.deb; do dpkg-deb -f "$p" Depends; done | paste -sd, -)
unshare --mount --propagation private --fork /bin/sh -c '
    set -e
    mount -t proc proc "$1/proc"
    mount --rbind /dev "$1/dev"
    chroot "$1" apt-get update -q
    DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get satisfy -y -q --no-install-recommends "$2"
    chroot "$1" apt-get clean
' sh "$root.tmp" "$deps" >"$root.apt.log" 2>&1 || { tail -n 30 "$root.apt.log"; exit 1; }
mv "$root.tmp" "$root"
echo "debian root ready: $root"
