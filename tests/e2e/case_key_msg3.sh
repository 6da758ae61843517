#!/usr/bin/env bash
# Key mode, PROTOCOL.md §4 and §5.6: a handshake message 3 that does not
# verify at the receiver (one bit flipped on the way) is answered with a
# zero-length frame, the first frame the sender reads after message 3. The
# sender says the receiver refused message 3, counts it as a network failure
# (exit 5 once it gives up) rather than an authentication failure (exit 4,
# never retried), and a retry stores the image once.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_png "$src/msg3.png" 64 48 91
genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized"

# Sender to receiver: HELLO (8 bytes), message 1's frame (2 + 32), then
# message 3's frame (2 + 64) from byte 42 on: byte 60 is inside its
# encrypted static key.
# Every connection damaged: whether the image was offered yet or not (the
# sender may reconnect before its first offer), it ends as a network
# failure once --timeout runs out, and its last error is the refusal.
start_proxy "$RECV_PORT" --mode flip --after 60 --direction up --faults 1000
send --key "$WORK/alice.key" --receiver-key "$recv_pub" --retries 0 --timeout 2 \
    "127.0.0.1:$PROXY_PORT" "$src/msg3.png"
assert_rc 5 "message 3 refused on every connection"
assert_grep 'fault conn=1 mode=flip' "$PROXY_LOG" "the proxy flipped a bit"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/send.all"
assert_grep 'NETWORK_ERROR: .*refused handshake message 3' "$WORK/send.all" \
    "the sender says what was refused"
assert_no_grep 'not authori[sz]ed|wrong password' "$WORK/send.all" "not reported as authentication"
wait_log "$RECV_LOG" 'auth-failed .*reason=bad-handshake' 10 ||
    fail "the receiver did not log the bad message 3"
assert_inbox_count "$INBOX" 0
stop_proxy

# With retries, the next connection (through the now healthy proxy) stores it.
start_proxy "$RECV_PORT" --mode flip --after 60 --direction up
send --key "$WORK/alice.key" --receiver-key "$recv_pub" --retries 2 --json \
    "127.0.0.1:$PROXY_PORT" "$src/msg3.png"
assert_rc 0 "message 3 refused, then a retry"
[ "$(proxy_connections)" -ge 2 ] || fail "the sender did not reconnect after message 3 was refused"
# (attempts may stay 1: a reconnect before the first offer is not a retry of it)
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["status"] == "OK"'
stop_proxy
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" msg3
assert_same_pixels "$src/msg3.png" "$STORED"
finish
