#!/usr/bin/env bash
# Installs every Debian 12 package that rollgate's build, tests, demo and benchmarks need.
# Idempotent: packages already present are left alone. Run as root.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
  # libraries
  libzmq3-dev cppzmq-dev capnproto libcapnp-dev libssh-dev libsystemd-dev libboost-math-dev
  libspdlog-dev libfmt-dev doctest-dev libarchive-dev libsodium-dev libcurl4-openssl-dev
  libsqlite3-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libssl-dev libre2-dev
  libmicrohttpd-dev zlib1g-dev libhowardhinnant-date-dev
  # the PostgreSQL store backend (libpq) and the server the high-availability tests start
  libpq-dev postgresql
  # the web console's HTTPS server (cpp-httplib built with OpenSSL)
  libcpp-httplib-dev
  # manual pages generated from --help at build time
  help2man
  # test and demo infrastructure: real services, a private systemd manager, namespaces
  nginx-light libnginx-mod-http-echo openssh-server openssh-client dbus systemd iproute2 procps
  psmisc curl wrk zstd tar sqlite3 util-linux
  # the signals and traffic rollgate meets on real fleets: HAProxy in front of the service,
  # Prometheus as a gate input, Sentry's Python SDK in a test application
  haproxy prometheus python3-sentry-sdk
  # the web console's browser test: Chromium driven through chromedriver by Selenium
  chromium chromium-driver python3-selenium
  # packaging checks
  lintian rpm rpmlint debootstrap
  # peers measured beside rollgate in bench/ (SciPy for statistics, log parsers)
  python3-scipy goaccess mtail
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# nginx-light starts a system nginx through its postinst where it can; tests run their own.
