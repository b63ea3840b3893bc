#!/usr/bin/env bash
# Sets up and builds podgate, then runs the demo: two real Dovecot pods,
# podgate with an embedded directory file, real logins through it, and a
# login-latency report. Everything runs on loopback and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
PODGATE_BIN="$PWD/build/proxy/podgate" exec python3 deploy/demo/demo.py "$@"
