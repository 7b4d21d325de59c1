#!/bin/sh
# CTest fixture: builds the deb and rpm packages from the build tree with CPack (the binaries
# must be built), plus "old" packages of the same tree labelled 0.0.0 for the upgrade tests.
# Usage: build-packages.sh BUILD_DIR OUT_DIR
set -eu
build=$1
out=$2
rm -rf "$out"
mkdir -p "$out/current" "$out/old"
cd "$build"
if ! cpack -G "DEB;RPM" -B "$out/current" >"$out/cpack-current.log" 2>&1; then
    cat "$out/cpack-current.log"
    exit 1
fi
if ! cpack -G "DEB;RPM" -D CPACK_PACKAGE_VERSION=0.0.0 -B "$out/old" >"$out/cpack-old.log" 2>&1; then
    cat "$out/cpack-old.log"
    exit 1
fi
rm -rf "$out/current/_CPack_Packages" "$out/old/_CPack_Packages"
ls -l "$out/current" "$out/old"
