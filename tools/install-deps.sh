#!/usr/bin/env bash
# Installs everything needed to build, test and package the server on a
# fresh Debian machine (run as root, or with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config \
  libevent-dev libcli11-dev libspdlog-dev libfmt-dev libsystemd-dev libxxhash-dev \
  libgtest-dev libgmock-dev \
  beanstalkd nodejs npm python3 \
  groff-base mandoc \
  debhelper dpkg-dev fakeroot \
  >/dev/null
# Debian's beanstalkd package is installed as the reference for differential
# tests; its service must not hold port 11300.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl stop beanstalkd.service beanstalkd.socket >/dev/null 2>&1 || true
fi
