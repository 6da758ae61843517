#!/usr/bin/env bash
# A PNG and a JPEG arrive and decode to exactly the original pixels:
# --compress none stores the very same bytes; the default (lossless) may
# change the bytes but never a pixel.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/none-png.png" 320 240 11
gen_jpeg "$src/none-jpeg.jpg" 320 240 90 12
gen_png "$src/lossless-png.png" 320 240 13
gen_jpeg "$src/lossless-jpeg.jpg" 320 240 90 14

start_pw_recv

send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" \
    "$src/none-png.png" "$src/none-jpeg.jpg"
assert_rc 0 "--compress none"
assert_inbox_count "$INBOX" 2
for stem in none-png none-jpeg; do
    stored_for "$INBOX" "$stem"
    assert_same_bytes "$src/$stem".* "$STORED"
    assert_same_pixels "$src/$stem".* "$STORED"
done

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/lossless-png.png" "$src/lossless-jpeg.jpg"
assert_rc 0 "default (lossless) compression"
assert_inbox_count "$INBOX" 4
stored_for "$INBOX" lossless-png
assert_same_pixels "$src/lossless-png.png" "$STORED"
"$IMGTOOL" validate "$STORED" >/dev/null || fail "stored PNG does not validate: $STORED"
stored_for "$INBOX" lossless-jpeg
assert_same_pixels "$src/lossless-jpeg.jpg" "$STORED"
"$IMGTOOL" validate "$STORED" >/dev/null || fail "stored JPEG does not validate: $STORED"

# The receiver says what it stored, one line per image.
[ "$(grep -cE 'stored .*file=' "$RECV_LOG")" -eq 4 ] ||
    fail "want 4 'stored ... file=' lines in the receiver log"

finish
