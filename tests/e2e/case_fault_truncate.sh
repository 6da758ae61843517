#!/usr/bin/env bash
# The connection is cut in the middle of the image data: the receiver drops
# the partial file, the sender retries and the image is stored exactly once.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/cut.png" 256 256 72
[ "$(file_size "$src/cut.png")" -gt 20000 ] || fail "test image too small for --after 2000"

start_pw_recv
start_proxy "$RECV_PORT" --mode truncate --after 2000 --direction up

send --password-file "$PW" --compress none --retries 3 --json "127.0.0.1:$PROXY_PORT" \
    "$src/cut.png"
assert_rc 0 "truncated connection, then a retry"
assert_grep 'fault conn=1 mode=truncate' "$PROXY_LOG" "the proxy cut the connection"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after the cut"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["attempts"] >= 2'

assert_inbox_count "$INBOX" 1
assert_no_tmp "$INBOX"
stored_for "$INBOX" cut
assert_same_bytes "$src/cut.png" "$STORED"

# The cut also works the other way: the receiver's answer is lost (cut right
# after the 32-byte greeting, before the handshake reply).
gen_jpeg "$src/cut-down.jpg" 300 200 85 73
start_proxy "$RECV_PORT" --mode truncate --after 40 --direction down
send --password-file "$PW" --retries 3 --json "127.0.0.1:$PROXY_PORT" "$src/cut-down.jpg"
assert_rc 0 "connection cut in the receiver's direction, then a retry"
assert_grep 'fault conn=1 mode=truncate direction=down' "$PROXY_LOG" "the proxy cut the reply"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after the cut reply"
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" cut-down
assert_same_pixels "$src/cut-down.jpg" "$STORED"

stop_proxy

# The connection is cut inside the receiver's RESULT (byte 162 down, see
# case_fault_flip.sh): the image is stored but the receipt is lost. The
# resend is answered ALREADY_STORED and no second copy appears.
gen_jpeg "$src/lost-receipt.jpg" 300 200 85 76
start_proxy "$RECV_PORT" --mode truncate --after 162 --direction down
send --password-file "$PW" --retries 3 --json "127.0.0.1:$PROXY_PORT" "$src/lost-receipt.jpg"
assert_rc 0 "receipt lost, then a retry"
assert_grep 'fault conn=1 mode=truncate direction=down' "$PROXY_LOG" "the proxy cut the receipt"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after a lost receipt"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["status"] == "ALREADY_STORED" and objs[0]["attempts"] >= 2'
assert_grep 'stored .*file=lost-receipt' "$RECV_LOG" "the receiver stored the image"
assert_inbox_count "$INBOX" 3
stored_for "$INBOX" lost-receipt
assert_same_pixels "$src/lost-receipt.jpg" "$STORED"

stop_proxy
finish
