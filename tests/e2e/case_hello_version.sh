#!/usr/bin/env bash
# PROTOCOL.md §3: a HELLO asking for a version above the receiver's gets one
# 1-byte frame with the highest version it speaks (00 01 02), then the
# close; any other bad HELLO (here a bad reserved byte) gets the zero-length
# frame. A version 2 HELLO is taken.
. "$(dirname "$0")/lib.sh"

INBOX=$WORK/inbox
mkdir "$INBOX"
printf 'correct horse battery staple\n' >"$WORK/pw"
chmod 600 "$WORK/pw"
start_recv --inbox "$INBOX" --password-file "$WORK/pw"

# Sends HELLO (hex) after the greeting and prints what came back before the close, in hex.
hello_answer() {
    timeout 10 python3 - "$RECV_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
g = b""
while len(g) < 32:
    b = s.recv(32 - len(g))
    if not b:
        sys.exit("no greeting")
    g += b
s.sendall(bytes.fromhex(sys.argv[2]))
out = b""
while True:
    try:
        b = s.recv(64)
    except socket.timeout:
        sys.exit("no close after " + out.hex())
    if not b:
        break
    out += b
print(out.hex())
PY
}

got=$(hello_answer 5349545803020000) || fail "client for HELLO v3 failed"
[ "$got" = "000102" ] || fail "HELLO version 3 answered '$got', expected 000102"
got=$(hello_answer 53495458ff020000) || fail "client for HELLO v255 failed"
[ "$got" = "000102" ] || fail "HELLO version 255 answered '$got', expected 000102"
got=$(hello_answer 5349545802020001) || fail "client for a bad reserved byte failed"
[ "$got" = "0000" ] || fail "bad HELLO answered '$got', expected 0000"
got=$(hello_answer 5349545800020000) || fail "client for HELLO v0 failed"
[ "$got" = "0000" ] || fail "HELLO version 0 answered '$got', expected 0000"
# Version 2 is spoken: the HELLO is taken and the (garbage) message 1 after
# it is what gets refused, as a wrong password, not as a bad HELLO.
n_hello=$(grep -c 'reason=bad-hello' "$RECV_LOG" || true)
got=$(hello_answer "5349545802020000"0030"$(printf '%096d' 0)") || fail "client for HELLO v2 failed"
[ "$got" = "0000" ] || fail "HELLO v2 with a bad message 1 answered '$got', expected 0000"
wait_until 10 grep -q 'reason=bad-password' "$RECV_LOG" || fail "HELLO v2 was not taken"
[ "$(grep -c 'reason=bad-hello' "$RECV_LOG" || true)" = "$n_hello" ] || fail "HELLO v2 refused as bad"
grep -q 'reason=version detail=3' "$RECV_LOG" || fail "no log line for the version refusal"
finish
