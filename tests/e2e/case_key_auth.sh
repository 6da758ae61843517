#!/usr/bin/env bash
# Key mode: an authorised sender gets through; a sender whose key is not in
# the authorised-senders file gets exit 4 and nothing is stored, and the
# receiver keeps serving; a sender that pins another receiver key gets exit
# 4 and sends nothing.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_png "$src/key-a.png" 150 100 61
gen_jpeg "$src/key-b.jpg" 150 100 85 62

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
alice_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/mallory.key"
genkey "$SITX_RECV" "$WORK/other-recv.key"
other_pub=$PUBKEY
printf '# authorised senders\n%s alice\n' "$alice_pub" >"$WORK/authorized"

start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized"

# Not authorised.
send --key "$WORK/mallory.key" --receiver-key "$recv_pub" --retries 2 \
    "127.0.0.1:$RECV_PORT" "$src/key-a.png"
assert_rc 4 "sender key not authorised"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/mallory.all"
assert_grep 'auth' "$WORK/mallory.all" "unauthorised sender message"
assert_inbox_count "$INBOX" 0

# The receiver still serves an authorised sender (receiver key given as text).
send --key "$WORK/alice.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" "$src/key-a.png"
assert_rc 0 "authorised sender after a refused one"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" key-a
assert_same_pixels "$src/key-a.png" "$STORED"

# Pinned receiver key does not match: the sender stops after handshake
# message 2, so the receiver never sees an offer.
offers_before=$(grep -ciE 'offer|stored' "$RECV_LOG")
send --key "$WORK/alice.key" --receiver-key "$other_pub" --retries 2 \
    "127.0.0.1:$RECV_PORT" "$src/key-b.jpg"
assert_rc 4 "receiver key not the pinned one"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/pin.all"
assert_grep 'key|auth' "$WORK/pin.all" "pinned key mismatch message"
assert_inbox_count "$INBOX" 1
[ "$(grep -ciE 'offer|stored' "$RECV_LOG")" -eq "$offers_before" ] ||
    fail "the receiver logged an offer or a store after a pinned-key mismatch"

# The receiver key from a file works as well (first line holds the key).
printf '%s\n' "$recv_pub" >"$WORK/recv.pub"
send --key "$WORK/alice.key" --receiver-key "$WORK/recv.pub" "127.0.0.1:$RECV_PORT" \
    "$src/key-b.jpg"
assert_rc 0 "receiver key from a file"
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" key-b
assert_same_pixels "$src/key-b.jpg" "$STORED"

finish
