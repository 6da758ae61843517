#!/usr/bin/env bash
# README command 2: set up, build with AddressSanitizer and
# UndefinedBehaviorSanitizer and warnings as errors, run the whole suite
# through ctest; then, with clang, build the fuzz targets with libFuzzer and
# run each briefly. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup
jobs=$(nproc)

cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSITX_WERROR=ON \
      -DSITX_SANITIZE=address,undefined >/dev/null
cmake --build build/asan -j "$jobs" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build/asan && ctest --output-on-failure -j "$jobs")

if command -v clang >/dev/null 2>&1 && [ "${SITX_SKIP_FUZZ:-0}" != 1 ]; then
    CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DSITX_WERROR=ON \
          -DSITX_FUZZ=ON -DSITX_SANITIZE=address,undefined >/dev/null
    cmake --build build/fuzz -j "$jobs" >/dev/null
    (cd build/fuzz && ctest --output-on-failure -j "$jobs" -L fuzz)
fi
