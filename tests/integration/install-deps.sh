#!/bin/sh
# Installs what the integration tests and deploy/demo need (Debian 12):
# Dovecot (imapd; started privately by the tests, never as a service), curl,
# openssl and python3. Safe to run repeatedly.
set -eu
need=""
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need="$need dovecot-imapd"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
  apt-get update
  # policy-rc.d 101: do not start the packaged daemon on install
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi
