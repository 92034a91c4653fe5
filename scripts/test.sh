#!/usr/bin/env bash
# Builds everything and runs every test through CTest (unit, actor, integration, crash), with
# warnings as errors; then builds the unit and actor tests with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/) and runs them. SKIP_SANITIZERS=1 skips the second part.
set -euo pipefail
cd "$(dirname "$0")/.."
P2P_WERROR=ON scripts/setup.sh
(cd build && ctest --output-on-failure --timeout 900 "$@")

if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "test: AddressSanitizer + UBSan build of the unit and actor tests (build-asan/)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DP2P_SANITIZE=ON \
        -DP2P_WERROR=ON -DP2P_BUILD_PERF=OFF >/dev/null
  cmake --build build-asan -j2 --target unit_tests actor_tests
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure --timeout 900 -R '^(unit|actor):' "$@")
fi
