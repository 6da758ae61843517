#!/usr/bin/env bash
# Per-core CPU cost of image validation: today's PNG and JPEG paths against
# the candidates of issue #9 (see scripts/valbench.c for the methods). One
# run prints every figure; CPU time, not wall time, so that other builds on
# the machine do not skew it much.
#
#   scripts/valbench.sh [CORPUS]   CORPUS defaults to ../shared/corpus
#
# Image sets: the corpus's PNGs and JPEGs (valid and broken); the images
# scripts/bench.sh uses (Debian's plasma-workspace-wallpapers, fetched with
# apt-get download into build/bench-cache as bench.sh does); the wallpaper
# JPEGs made baseline and progressive with jpegtran (lossless); 2x
# upscaled ones (djpeg -scale 2/1) re-encoded by cjpeg -baseline and
# -progressive at quality 92, and as PNG by libpng's default writer.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
corpus=${1:-$top/../shared/corpus}

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j2 --target sitx_common >/dev/null
out=$top/build/valbench
mkdir -p "$out"
# libdeflate (Debian's libdeflate-dev) is measured when installed; sitx
# itself does not use it.
deflate=()
if pkg-config --exists libdeflate; then
    deflate=(-DVALBENCH_LIBDEFLATE $(pkg-config --cflags --libs libdeflate))
else
    echo "valbench: libdeflate-dev not installed, its rows are left out" >&2
fi
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I common -I proto -o "$out/valbench" scripts/valbench.c \
    build/release/common/libsitx_common.a build/release/proto/libsitx_proto.a \
    "${deflate[@]}" $(pkg-config --cflags --libs libpng libjpeg zlib libsodium)
vb=$out/valbench

cache=$top/build/bench-cache
if [ ! -d "$cache/wp" ]; then
    mkdir -p "$cache"
    (cd "$cache" && apt-get download plasma-workspace-wallpapers >/dev/null)
    dpkg-deb -x "$cache"/plasma-workspace-wallpapers_*.deb "$cache/wp"
fi
# The 40 largest, as bench.sh's batch.
mapfile -t batch < <(find "$cache/wp" -type f \( -name '*.jpg' -o -name '*.png' \) -printf '%s %p\n' |
    sort -rn | head -40 | cut -d' ' -f2-)
sets=$out/sets
if [ ! -d "$sets/up-prog" ]; then
    rm -rf "$sets"
    mkdir -p "$sets"/{wp-base,wp-prog,up-base,up-prog,up-png}
    i=0
    for f in "${batch[@]}"; do
        case "$f" in *.jpg) ;; *) continue ;; esac
        i=$((i + 1))
        jpegtran -copy all -optimize -outfile "$sets/wp-base/$i.jpg" "$f"
        jpegtran -copy all -progressive -outfile "$sets/wp-prog/$i.jpg" "$f"
    done
    i=0
    for f in $(printf '%s\n' "${batch[@]}" | grep '2560x1600.jpg$' | head -4); do
        i=$((i + 1))
        djpeg -scale 2/1 -outfile "$sets/up.ppm" "$f"
        cjpeg -quality 92 -baseline -optimize -outfile "$sets/up-base/$i.jpg" "$sets/up.ppm"
        cjpeg -quality 92 -progressive -outfile "$sets/up-prog/$i.jpg" "$sets/up.ppm"
        "$vb" topng "$sets/up.ppm" "$sets/up-png/$i.png"
    done
    rm -f "$sets/up.ppm"
fi

echo "== valbench $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //');" \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "libs: libpng $(pkg-config --modversion libpng), zlib $(pkg-config --modversion zlib)," \
    "libdeflate $(pkg-config --modversion libdeflate 2>/dev/null || echo absent), libjpeg-turbo $(dpkg-query -W -f='${Version}' libjpeg62-turbo)"
echo "CPU time of one core (user+sys), least of 3 repetitions per file and method"
mapfile -t cpng < <(find "$corpus/png" -type f -name '*.png' | sort)
mapfile -t cjpg < <(find "$corpus/jpeg" -type f | grep -Ei '\.jpe?g$' | sort)
"$vb" run corpus-png "${cpng[@]}"
"$vb" run corpus-jpeg "${cjpg[@]}"
"$vb" run bench-batch "${batch[@]}"
"$vb" run wp-baseline "$sets"/wp-base/*
"$vb" run wp-progress "$sets"/wp-prog/*
"$vb" run up2x-base "$sets"/up-base/*
"$vb" run up2x-prog "$sets"/up-prog/*
"$vb" run up2x-png "$sets"/up-png/*
