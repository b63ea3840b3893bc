#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit and integration tests (real
# Dovecot pods, real clients) against the BoringSSL build, the OpenSSL 3
# build, and an ASan+UBSan build; then a bounded libFuzzer run of every parser.
set -euo pipefail
cd "$(dirname "$0")/.."

total=0
run_ctest() {
  local build_dir="$1" log
  log="$(mktemp)"
  ctest --test-dir "$build_dir" --output-on-failure | tee "$log"
  total=$((total + $(sed -n 's/.* 0 tests failed out of \([0-9]*\)$/\1/p' "$log")))
  rm -f "$log"
}

run_suite() {
  local build_dir="$1"
  shift
  echo "=== ${build_dir}: $*"
  scripts/setup.sh "$build_dir" "$@"
  run_ctest "$build_dir"
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_suite build -DPODGATE_TLS=boringssl
run_suite build-openssl -DPODGATE_TLS=openssl
run_suite build-asan -DPODGATE_TLS=boringssl -DPODGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

echo "=== build-fuzz: libFuzzer targets (clang)"
scripts/setup.sh --deps-only
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPODGATE_FUZZ=ON >/dev/null
ninja -C build-fuzz fuzzers
run_ctest build-fuzz
echo "suites: ${total} passed, 0 failed"
