#!/usr/bin/env bash
# The whole test suite, as CI runs it: unit and integration tests (real
# Dovecot pods, real clients) against the BoringSSL Release build, the
# OpenSSL 3 build and an ASan+UBSan build; the unit tests and the
# multi-worker integration tests under ThreadSanitizer; then a bounded
# libFuzzer run of every parser. Every suite runs even when tests of another
# failed (a build that fails stops it at once); the summary counts what
# ctest counted, and the script fails if any test failed or a suite ran no
# tests at all.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
problems=()

# run_ctest NAME [ctest options]: one suite, counted from ctest's own summary.
run_ctest() {
  local name="$1" log status=0 summary total failures
  shift
  log="$(mktemp)"
  ctest --no-tests=error --output-on-failure "$@" | tee "$log" || status=$?
  summary="$(grep -E '[0-9]+ tests? failed out of [0-9]+$' "$log" | tail -n 1 || true)"
  rm -f "$log"
  if [ -z "$summary" ]; then
    problems+=("${name}: ctest ran no tests (exit status ${status})")
    return
  fi
  failures="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+)$/\1/' <<<"$summary")"
  total="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+)$/\2/' <<<"$summary")"
  passed=$((passed + total - failures))
  failed=$((failed + failures))
  if [ "$total" -eq 0 ]; then
    problems+=("${name}: no tests")
  elif [ "$failures" -gt 0 ]; then
    problems+=("${name}: ${failures} of ${total} failed")
  elif [ "$status" -ne 0 ]; then
    problems+=("${name}: ctest exited with ${status}")
  fi
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
  run_ctest "$build_dir" --test-dir "$build_dir" "${ctest_options[@]}"
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

# The main build is a Release build, as a packager makes it (with our
# warnings as errors on top): what the compiler says at -O3 is seen here.
# Two test files at a time (each on its own ports): the integration tests
# mostly wait on pods, timeouts and the network, not on the CPU.
run_suite build -DPODGATE_TLS=boringssl -DCMAKE_BUILD_TYPE=Release -- -j2
# The OpenSSL build runs the unit tests and every integration suite but the
# five below, which speak TLS only the way the others already do (an IMAPS
# or POP3S client reaching podgate), to get at what they test: the guard,
# pod faults, pod answers and the directory service. (TLS-specific cases
# live elsewhere: each protocol's implicit TLS and STARTTLS, TLS to pods,
# certificate reloads, resumption across workers, refusals after a
# handshake, garbage TLS records, podgate-bench's TLS and resumption.)
run_suite build-openssl -DPODGATE_TLS=openssl \
  -- -j2 -E "^integration: (test_directory_service|test_remote_directory|test_faults|test_protection|test_pod_answers)$"
run_suite build-asan -DPODGATE_TLS=boringssl -DPODGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -- -j2

echo "=== build-tsan: ThreadSanitizer (unit tests, multi-worker integration tests)"
scripts/setup.sh --deps-only
CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DPODGATE_TSAN=ON -DPODGATE_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-tsan unit_tests podgate podgate-directory
# Two runs, so that a pattern that matches nothing fails as "ran no tests".
run_ctest "build-tsan (unit)" --test-dir build-tsan -j2 -R "^unit:"
run_ctest "build-tsan (integration)" --test-dir build-tsan -j2 \
  -R "^integration: (test_workers_metrics|test_connection_limits|test_reload_drain|test_protection)$"

echo "=== build-fuzz: libFuzzer targets (clang)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPODGATE_FUZZ=ON -DPODGATE_WERROR=ON >/dev/null
ninja -C build-fuzz fuzzers
run_ctest build-fuzz --test-dir build-fuzz -j2

echo "suites: ${passed} passed, ${failed} failed"
if [ ${#problems[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${problems[@]}"
  exit 1
fi
