#!/usr/bin/env bash
# README command 1: set up, build a release tree, then run a receiver and a
# sender on loopback and move a real image (plus a PNG) from one to the other.
# Exits 0 only when every image arrived with exactly its original pixels and
# the receiver stopped cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
build=$top/build/release
corpus=${SITX_CORPUS_DIR:-$top/../shared/corpus}

bold=
plain=
if [ -t 1 ]; then
    bold=$(printf '\033[1m')
    plain=$(printf '\033[0m')
fi
step() {
    printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"
}
indent() {
    sed -e 's/^/    /'
}
die() {
    printf '\ndemo: %s\n' "$*" >&2
    exit 1
}

demo=
recv_pid=
cleanup() {
    if [ -n "$recv_pid" ] && kill -0 "$recv_pid" 2>/dev/null; then
        kill -TERM "$recv_pid" 2>/dev/null || true
        wait "$recv_pid" 2>/dev/null || true
    fi
    if [ -n "$demo" ]; then
        rm -rf "$demo"
    fi
}
trap cleanup EXIT

step "Checking the build dependencies (scripts/setup)"
scripts/setup
echo "    all Debian packages present"

step "Building a release tree in build/release"
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -le 2 ] || jobs=2
mkdir -p "$build"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build/demo-configure.log" 2>&1; then
    indent <"$build/demo-configure.log" | tail -n 30
    die "cmake configure failed (log: $build/demo-configure.log)"
fi
if ! cmake --build "$build" -j "$jobs" --target sitx-recv sitx-send sitx-imgtool \
    >"$build/demo-build.log" 2>&1; then
    indent <"$build/demo-build.log" | tail -n 30
    die "build failed (log: $build/demo-build.log)"
fi
recv=$build/receiver/sitx-recv
send=$build/sender/sitx-send
imgtool=$build/tests/sitx-imgtool
for b in "$recv" "$send" "$imgtool"; do
    [ -x "$b" ] || die "missing after the build: $b"
done
echo "    $("$recv" --version 2>&1 | head -n 1)"
echo "    $("$send" --version 2>&1 | head -n 1)"

demo=$(mktemp -d "${TMPDIR:-/tmp}/sitx-demo.XXXXXX")
inbox=$demo/inbox
photos=$demo/photos
mkdir "$inbox" "$photos"

step "Creating a shared password (random, in a 0600 file)"
(umask 077 && head -c 24 /dev/urandom | base64 >"$demo/password")
echo "    $demo/password  ($(stat -c '%A' "$demo/password"))"

step "Picking images to send"
if [ -f "$corpus/jpeg/libjpeg-turbo/testorig.jpg" ]; then
    cp "$corpus/jpeg/libjpeg-turbo/testorig.jpg" "$photos/testorig.jpg"
    images=(testorig.jpg)
    echo "    testorig.jpg: libjpeg-turbo's test photo, from the public corpus"
else
    "$imgtool" gen-jpeg "$photos/photo.jpg" 1600 1200 90 7 >/dev/null ||
        die "sitx-imgtool could not generate a JPEG"
    images=(photo.jpg)
    echo "    photo.jpg: a generated 1600x1200 JPEG (no ../shared/corpus here)"
fi
"$imgtool" gen-png "$photos/diagram.png" 640 480 8 >/dev/null ||
    die "sitx-imgtool could not generate a PNG"
images+=(diagram.png)
echo "    diagram.png: a generated 640x480 PNG"
for name in "${images[@]}"; do
    printf '    %-14s %9s bytes\n' "$name" "$(stat -c %s "$photos/$name")"
done

step "Starting the receiver on 127.0.0.1 (any free port)"
echo "    \$ sitx-recv --listen 127.0.0.1:0 --inbox $inbox --password-file $demo/password"
"$recv" --listen 127.0.0.1:0 --inbox "$inbox" --password-file "$demo/password" \
    >"$demo/recv.log" 2>&1 </dev/null &
recv_pid=$!
deadline=$((SECONDS + 30))
until grep -qE 'listening .*addr=' "$demo/recv.log"; do
    if ! kill -0 "$recv_pid" 2>/dev/null; then
        indent <"$demo/recv.log"
        die "the receiver exited before listening"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "the receiver is not listening after 30 s"
    sleep 0.05
done
port=$(grep -m 1 -E 'listening .*addr=' "$demo/recv.log" | sed -E 's/.*addr=[^ ]*:([0-9]+).*/\1/')
echo "    listening on port $port (pid $recv_pid)"

step "Sending the images"
echo "    \$ sitx-send --password-file $demo/password 127.0.0.1:$port ${images[*]}"
set +e
(cd "$photos" && timeout 120 "$send" --password-file "$demo/password" "127.0.0.1:$port" \
    "${images[@]}") >"$demo/send.out" 2>"$demo/send.err" </dev/null
send_rc=$?
set -e
indent <"$demo/send.out"
if [ -s "$demo/send.err" ]; then
    echo "    (stderr)"
    indent <"$demo/send.err"
fi
echo "    sitx-send exit status: $send_rc"

step "What arrived in the inbox"
ok=1
(cd "$inbox" && for f in *; do
    [ -e "$f" ] || continue
    printf '    %-14s %9s bytes\n' "$f" "$(stat -c %s "$f")"
done)
for name in "${images[@]}"; do
    f=$photos/$name
    stored=$(find "$inbox" -maxdepth 1 -type f -name "${name%.*}*" ! -name '.*' | head -n 1)
    if [ -z "$stored" ]; then
        echo "    $name: not in the inbox"
        ok=0
    elif "$imgtool" same-pixels "$f" "$stored" >/dev/null 2>&1; then
        echo "    $name -> $(basename "$stored"): same pixels as the original"
    else
        echo "    $name -> $(basename "$stored"): PIXELS DIFFER"
        ok=0
    fi
done
if [ -n "$(find "$inbox" -name '.sitx-tmp-*')" ]; then
    echo "    temporary files left behind: $(find "$inbox" -name '.sitx-tmp-*' -printf '%f ')"
    ok=0
fi

step "Stopping the receiver (SIGTERM)"
kill -TERM "$recv_pid"
set +e
wait "$recv_pid"
recv_rc=$?
set -e
recv_pid=
echo "    sitx-recv exit status: $recv_rc"

step "The receiver's log"
indent <"$demo/recv.log"

echo
if [ "$send_rc" -eq 0 ] && [ "$recv_rc" -eq 0 ] && [ "$ok" -eq 1 ]; then
    printf '%sDemo passed:%s every image arrived encrypted in transit and pixel-identical.\n' \
        "$bold" "$plain"
    exit 0
fi
printf '%sDemo FAILED%s (sitx-send %s, sitx-recv %s, inbox check %s)\n' "$bold" "$plain" \
    "$send_rc" "$recv_rc" "$([ "$ok" -eq 1 ] && echo ok || echo failed)"
exit 1
