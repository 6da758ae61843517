#!/usr/bin/env bash
# One bit flipped on the way to the receiver, after the handshake: the
# receiver's AES-GCM tag check catches it, the sender reconnects through the
# (now healthy) proxy and the image is stored exactly once, intact.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/flip.png" 256 256 71
[ "$(file_size "$src/flip.png")" -gt 20000 ] || fail "test image too small for --after 2000"

start_pw_recv
start_proxy "$RECV_PORT" --mode flip --after 2000 --direction up

send --password-file "$PW" --compress none --retries 3 --json "127.0.0.1:$PROXY_PORT" \
    "$src/flip.png"
assert_rc 0 "flipped bit, then a retry"
assert_grep 'fault conn=1 mode=flip' "$PROXY_LOG" "the proxy flipped a bit"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after the flipped bit"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["attempts"] >= 2'
# The receiver says why it dropped the first connection.
assert_grep 'integrity|decrypt|tag|authentic|protocol|corrupt' "$RECV_LOG" \
    "receiver log line for the damaged record"

assert_inbox_count "$INBOX" 1
assert_no_tmp "$INBOX"
stored_for "$INBOX" flip
assert_same_bytes "$src/flip.png" "$STORED"
assert_same_pixels "$src/flip.png" "$STORED"

stop_proxy

# A bit flipped in the receiver's RESULT (password mode: 32-byte greeting,
# 50-byte handshake reply and 75-byte version 2 ACCEPT frame come first, so
# byte 162 is inside the RESULT). The image is already stored but the sender cannot
# trust the answer: it retries, is told ALREADY_STORED, and there is still
# exactly one copy.
gen_jpeg "$src/flip-result.jpg" 300 200 85 75
start_proxy "$RECV_PORT" --mode flip --after 162 --direction down
send --password-file "$PW" --retries 3 --json "127.0.0.1:$PROXY_PORT" "$src/flip-result.jpg"
assert_rc 0 "flipped bit in the RESULT, then a retry"
assert_grep 'fault conn=1 mode=flip direction=down' "$PROXY_LOG" "the proxy flipped a bit"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after a damaged RESULT"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["status"] == "ALREADY_STORED" and objs[0]["attempts"] >= 2'
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" flip-result
assert_same_pixels "$src/flip-result.jpg" "$STORED"

stop_proxy
finish
