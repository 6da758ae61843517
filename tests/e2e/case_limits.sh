#!/usr/bin/env bash
# Receiver limits: an image over --max-size is refused with TOO_LARGE and
# exit 1; one over --max-pixels is refused too; nothing lands in the inbox,
# and images within the limits still get through.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/big.png" 256 256 81
gen_png "$src/small.png" 16 16 82
gen_jpeg "$src/wide.jpg" 400 300 60 83
gen_jpeg "$src/narrow.jpg" 90 60 60 84
big=$(file_size "$src/big.png")
small=$(file_size "$src/small.png")
[ "$big" -gt 20000 ] || fail "big.png is only $big bytes"
[ "$small" -lt 20000 ] || fail "small.png is $small bytes"

start_pw_recv --max-size 20000
send --password-file "$PW" --compress none --retries 2 "127.0.0.1:$RECV_PORT" "$src/big.png"
assert_rc 1 "image over --max-size"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/big.all"
assert_grep 'TOO_LARGE' "$WORK/big.all" "refusal over --max-size"
assert_inbox_count "$INBOX" 0
assert_no_tmp "$INBOX"

send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" "$src/small.png"
assert_rc 0 "image under --max-size"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" small
assert_same_bytes "$src/small.png" "$STORED"
stop_recv

# 400 x 300 = 120000 pixels, over a 10000-pixel limit; 90 x 60 = 5400 is not.
rm -f "$INBOX"/*
start_pw_recv --max-pixels 10000
send --password-file "$PW" --retries 2 "127.0.0.1:$RECV_PORT" "$src/wide.jpg"
assert_rc 1 "image over --max-pixels"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/wide.all"
assert_grep 'TOO_LARGE|pixel' "$WORK/wide.all" "refusal over --max-pixels"
assert_inbox_count "$INBOX" 0
assert_no_tmp "$INBOX"

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/narrow.jpg"
assert_rc 0 "image under --max-pixels"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" narrow
assert_same_pixels "$src/narrow.jpg" "$STORED"

finish
