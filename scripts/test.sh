#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit and integration tests (real
# Dovecot pods, real clients) against the BoringSSL build, the OpenSSL 3
# build, and an ASan+UBSan build; then a bounded libFuzzer run of every parser.
set -euo pipefail
cd "$(dirname "$0")/.."

total=0
run_ctest() {
  local build_dir="$1" log
  shift
  log="$(mktemp)"
  ctest --test-dir "$build_dir" --output-on-failure "$@" | tee "$log"
  total=$((total + $(sed -n 's/.* 0 tests failed out of \([0-9]*\)$/\1/p' "$log")))
  rm -f "$log"
}

# run_suite BUILD_DIR [cmake options] [-- ctest options]
run_suite() {
  local build_dir="$1" cmake_options=() ctest_options=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cmake_options+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  ctest_options=("$@")
  echo "=== ${build_dir}: ${cmake_options[*]}"
  scripts/setup.sh "$build_dir" "${cmake_options[@]}"
  run_ctest "$build_dir" "${ctest_options[@]}"
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Two test files at a time (each on its own ports): the integration tests
# mostly wait on pods, timeouts and the network, not on the CPU.
# The main build is a Release build, as a packager makes it (with our
# warnings as errors on top): what the compiler says at -O3 is seen here.
run_suite build -DPODGATE_TLS=boringssl -DCMAKE_BUILD_TYPE=Release -- -j2
# The OpenSSL build proves the TLS code on the other library: the suites that
# never touch TLS (the directory service, HTTP directories, pod faults,
# brute-force and connection limits) run in the other two builds only, to
# keep the whole run within its time.
run_suite build-openssl -DPODGATE_TLS=openssl \
  -- -j2 -E "test_directory_service|test_remote_directory|test_imap_faults|test_faults|test_check_config|test_protection|test_connection_limits"
run_suite build-asan -DPODGATE_TLS=boringssl -DPODGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -- -j2

echo "=== build-fuzz: libFuzzer targets (clang)"
scripts/setup.sh --deps-only
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPODGATE_FUZZ=ON -DPODGATE_WERROR=ON >/dev/null
ninja -C build-fuzz fuzzers
run_ctest build-fuzz -j2
echo "suites: ${total} passed, 0 failed"
