#!/usr/bin/env bash
# A sender rides out a busy receiver: connections cut before the handshake
# completes, or refused, are tried again with backoff until --timeout
# (whatever --retries says), and only then does it give up, saying the
# receiver was busy or refusing connections and how often it tried.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_png "$src/busy-a.png" 120 90 91
gen_png "$src/busy-b.png" 120 90 92
genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"
send_key() {
    send --key "$WORK/alice.key" --receiver-key "$recv_pub" "$@"
}

# Refusing connections: nothing listens on the port any more.
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized"
port=$RECV_PORT
stop_recv TERM
send_key --retries 1 --timeout 3 "127.0.0.1:$port" "$src/busy-a.png"
assert_rc 5 "receiver gone"
assert_grep "receiver refusing connections: cannot connect to 127\.0\.0\.1:$port: connection refused, [0-9]+ attempts over [3-9]\.[0-9] s" \
    "$SEND_ERR" "refused: the final message"
attempts=$(sed -n 's/.*, \([0-9]*\) attempts over.*/\1/p' "$SEND_ERR" | head -n 1)
# --retries 1 once meant 2 attempts in all; now --timeout decides.
[ "${attempts:-0}" -ge 3 ] || fail "only ${attempts:-no} attempts against a refusing receiver in 3 s"

# Busy: a proxy that lets the greeting through, then cuts every connection,
# as a receiver with no startup slot to spare does.
RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --key "$WORK/recv.key" \
    --authorized "$WORK/authorized"
start_proxy "$RECV_PORT" --mode truncate --direction down --after 32 --faults 1000
send_key --timeout 3 "127.0.0.1:$PROXY_PORT" "$src/busy-a.png"
assert_rc 5 "receiver busy"
assert_grep "receiver busy: 127\.0\.0\.1:$PROXY_PORT (closed|reset) the connection before the handshake completed, [0-9]+ attempts over [3-9]\.[0-9] s" \
    "$SEND_ERR" "busy: the final message"
cut=$(proxy_connections)
[ "$cut" -ge 3 ] || fail "only $cut connections to a busy receiver in 3 s"
assert_inbox_count "$INBOX" 0
stop_proxy

# Riding it out: the first four connections are cut (4 attempts in all was
# once the most the default --retries 3 allowed), the fifth gets through.
start_proxy "$RECV_PORT" --mode truncate --direction down --after 32 --faults 4
send_key --json --timeout 30 "127.0.0.1:$PROXY_PORT" "$src/busy-b.png"
assert_rc 0 "sender rode out four cut connections"
[ "$(proxy_connections)" -ge 5 ] || fail "want at least 5 connections, saw $(proxy_connections)"
# The receiver never saw the image on the cut connections: one attempt.
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["status"] == "OK" and objs[0]["attempts"] == 1'
stored_for "$INBOX" busy-b
assert_same_bytes "$src/busy-b.png" "$STORED"
stop_proxy
finish
