#!/usr/bin/env bash
# The link goes silent in the middle of the image data (both sockets stay
# open): the receiver's deadline (--deadline 2) discards the partial data,
# the sender's --timeout makes it retry, and the image is stored exactly once.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/stall.png" 256 256 74
[ "$(file_size "$src/stall.png")" -gt 20000 ] || fail "test image too small for --after 2000"

start_pw_recv --deadline 2
start_proxy "$RECV_PORT" --mode stall --after 2000 --direction up

send --password-file "$PW" --compress none --retries 3 --timeout 4 --json \
    "127.0.0.1:$PROXY_PORT" "$src/stall.png"
assert_rc 0 "stalled link, then a retry"
assert_grep 'fault conn=1 mode=stall' "$PROXY_LOG" "the proxy stalled the link"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after the stall"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["attempts"] >= 2'
assert_grep 'timeout|deadline' "$RECV_LOG" "receiver log line for the missed deadline"

assert_inbox_count "$INBOX" 1
assert_no_tmp "$INBOX"
stored_for "$INBOX" stall
assert_same_bytes "$src/stall.png" "$STORED"

stop_proxy

# The link goes silent just as the receiver answers (byte 162 down is inside
# the RESULT, see case_fault_flip.sh): the image is stored, the sender hears
# nothing, times out, resends and is told ALREADY_STORED. Still one copy.
gen_jpeg "$src/silent-receipt.jpg" 300 200 85 77
start_proxy "$RECV_PORT" --mode stall --after 162 --direction down
send --password-file "$PW" --retries 3 --timeout 3 --json "127.0.0.1:$PROXY_PORT" \
    "$src/silent-receipt.jpg"
assert_rc 0 "receipt never arrives, then a retry"
assert_grep 'fault conn=1 mode=stall direction=down' "$PROXY_LOG" "the proxy stalled the receipt"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after a silent receiver"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["status"] == "ALREADY_STORED" and objs[0]["attempts"] >= 2'
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" silent-receipt
assert_same_pixels "$src/silent-receipt.jpg" "$STORED"

stop_proxy
finish
