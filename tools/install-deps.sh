#!/usr/bin/env bash
# Installs everything needed to build, test and package the server on a
# fresh Debian machine (run as root, or with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
packages=(
  build-essential cmake ninja-build pkg-config
  libevent-dev libcli11-dev libspdlog-dev libfmt-dev libsystemd-dev libxxhash-dev
  libgtest-dev libgmock-dev
  beanstalkd python3
  php-cli php-pda-pheanstalk ruby ruby-beaneater  # client libraries the tests drive
  groff-base mandoc
  debhelper dpkg-dev fakeroot
)
# Node.js runs a client library's test suite. Some images ship their own
# nodejs (with npm inside) that conflicts with Debian's npm package: add
# Debian's only where npm is missing.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# Debian's beanstalkd package is installed as the reference for differential
# tests; its service must not hold port 11300.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl stop beanstalkd.service beanstalkd.socket >/dev/null 2>&1 || true
fi
