#!/usr/bin/env bash
# Lossless recompression must give the same bytes whatever the build: runs
# `sitx-imgtool recompress ... lossless-always` from two build trees over
# every corpus image that validates and compares the outputs byte for byte.
# Usage: scripts/same-output.sh BUILD_DIR_A BUILD_DIR_B
# Skips (exit 0, with a message) without ../shared/corpus unless CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

a="$1/tests/sitx-imgtool"
b="$2/tests/sitx-imgtool"
corpus=../shared/corpus
for t in "$a" "$b"; do
    [ -x "$t" ] || { echo "same-output: no $t (build it first)" >&2; exit 1; }
done
if [ ! -d "$corpus" ]; then
    if [ "${CI:-}" = true ]; then
        echo "same-output: $corpus is missing and CI=true" >&2
        exit 1
    fi
    echo "same-output: SKIP, no $corpus beside the checkout"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sitx-same-output.XXXXXX")
trap 'rm -rf "$work"' EXIT
compared=0 differ=0
while IFS= read -r -d '' f; do
    "$a" validate "$f" >/dev/null 2>&1 || continue
    "$a" recompress "$f" "$work/a" lossless-always >/dev/null 2>&1 || continue
    if ! "$b" recompress "$f" "$work/b" lossless-always >/dev/null 2>&1 ||
        ! cmp -s "$work/a" "$work/b"; then
        echo "same-output: $f: the two builds disagree" >&2
        differ=$((differ + 1))
    fi
    compared=$((compared + 1))
done < <(find "$corpus/png" "$corpus/jpeg" -type f \( -name '*.png' -o -name '*.jpg' \) -print0 | sort -z)

echo "same-output: $compared images recompressed by both builds, $differ differ"
[ "$compared" -gt 300 ] || { echo "same-output: too few images compared" >&2; exit 1; }
[ "$differ" -eq 0 ]
