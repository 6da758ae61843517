#!/usr/bin/env bash
# README command 2: set up, then run the whole suite through ctest on the
# builds that matter, warnings as errors in each:
#   1. AddressSanitizer + UndefinedBehaviorSanitizer (Debug);
#   2. Release (-O2, what the .deb ships), with valgrind memcheck over every
#      unit test and two real end-to-end transfers (label memcheck), which
#      finds the reads of uninitialised bytes that ASan cannot;
#   3. lossless output byte-identical between builds 1 and 2;
#   4. with clang, the fuzz targets built with libFuzzer, each run briefly.
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup
jobs=$(nproc)

echo "== ASan + UBSan build"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSITX_WERROR=ON \
      -DSITX_SANITIZE=address,undefined >/dev/null
cmake --build build/asan -j "$jobs" >/dev/null
(
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    cd build/asan && ctest --output-on-failure -j "$jobs"
)

echo "== Release build, with valgrind memcheck"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSITX_WERROR=ON \
      -DSITX_MEMCHECK=ON >/dev/null
cmake --build build/release -j "$jobs" >/dev/null
(cd build/release && ctest --output-on-failure -j "$jobs")

echo "== Same lossless output from both builds"
ASAN_OPTIONS=detect_leaks=0 scripts/same-output.sh build/asan build/release

if command -v clang >/dev/null 2>&1 && [ "${SITX_SKIP_FUZZ:-0}" != 1 ]; then
    echo "== libFuzzer build"
    CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DSITX_WERROR=ON \
          -DSITX_FUZZ=ON -DSITX_SANITIZE=address,undefined >/dev/null
    cmake --build build/fuzz -j "$jobs" >/dev/null
    (cd build/fuzz && ctest --output-on-failure -j "$jobs" -L fuzz)
fi
