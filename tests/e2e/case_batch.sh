#!/usr/bin/env bash
# Five mixed images in one invocation: one line per image, all stored once,
# all with their original pixels.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/b1.png" 200 150 21
gen_jpeg "$src/b2.jpg" 640 480 85 22
gen_png "$src/b3.png" 64 64 23
gen_jpeg "$src/b4.jpg" 33 17 75 24
gen_png "$src/b5.png" 500 300 25

start_pw_recv

send --password-file "$PW" "127.0.0.1:$RECV_PORT" \
    "$src/b1.png" "$src/b2.jpg" "$src/b3.png" "$src/b4.jpg" "$src/b5.png"
assert_rc 0 "batch of 5"
[ "$(grep -c . "$SEND_OUT")" -eq 6 ] || fail "want one stdout line per image (5) and the summary"
assert_grep "^sitx-send: 5 stored, 0 already stored, 0 refused, 0 failed, 0 skipped, " \
    "$SEND_OUT" "the summary"
for n in 1 2 3 4 5; do
    grep -q "b$n" "$SEND_OUT" || fail "no stdout line names b$n"
done
assert_inbox_count "$INBOX" 5
for f in "$src"/*; do
    stem=$(basename "$f")
    stored_for "$INBOX" "${stem%.*}"
    assert_same_pixels "$f" "$STORED"
done

finish
