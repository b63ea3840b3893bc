#!/usr/bin/env bash
# Installs what podgate needs on Debian 12 (only what is missing), then
# builds it. Usage: scripts/setup.sh [BUILD_DIR [extra cmake arguments...]]
#                   scripts/setup.sh --deps-only
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config openssl
  libuv1-dev android-libboringssl-dev libssl-dev nlohmann-json3-dev catch2
  libspdlog-dev libcli11-dev node-llhttp
  python3 curl dovecot-imapd dovecot-pop3d dovecot-submissiond
  dovecot-lmtpd postfix swaks
  libnet-ssleay-perl  # swaks speaks TLS (STARTTLS, --tls-on-connect) through Net::SSLeay
  clang libclang-rt-14-dev
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  # the tests run private Postfix instances (tests/integration/podlib.py):
  # no system mail setup, which would also try to start the system postfix
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = "--deps-only" ] && exit 0
build_dir="${1:-build}"
shift || true
# Our own builds treat warnings as errors (a plain cmake build does not).
cmake -S . -B "$build_dir" -G Ninja -DPODGATE_WERROR=ON "$@" >/dev/null
ninja -C "$build_dir"
