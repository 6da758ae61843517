#!/usr/bin/env bash
# One receiver with --key/--authorized and --password-file offers both modes
# (PROTOCOL.md §2: its greeting's modes byte is 0x03, with the Argon2id
# fields filled in), and serves a key-mode sender and a password-mode sender
# on the same port; each mode still checks its own credential.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_png "$src/by-key.png" 120 80 31
gen_jpeg "$src/by-password.jpg" 120 80 85 32
gen_png "$src/refused.png" 20 20 33

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"
genkey "$SITX_SEND" "$WORK/mallory.key"
mkpass "$WORK/pw"
mkpass "$WORK/wrong-pw"

# --help shows the two modes as options that go together, not as a choice.
timeout 10 "$SITX_RECV" --help >"$WORK/help.out" 2>&1 || fail "sitx-recv --help failed"
E2E_LOGS+=("$WORK/help.out")
assert_grep '^  sitx-recv --listen .*\[--key FILE --authorized FILE\]' "$WORK/help.out" \
    "the usage line makes key mode optional"
assert_grep '^ +\[--password-file FILE\] .*both' "$WORK/help.out" \
    "the usage line allows password mode as well"
assert_no_grep '--password-file FILE \| --key FILE --authorized' "$WORK/help.out" \
    "the usage line still shows the modes as exclusive"

start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --password-file "$WORK/pw"
assert_grep 'listening .*mode=key\+password' "$RECV_LOG" "the receiver says it offers both modes"

# The greeting as a sender reads it: 32 bytes, modes 0x03, Argon2id 3 / 65536 KiB.
timeout 10 python3 - "$RECV_PORT" >"$WORK/greeting.out" 2>&1 <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
g = b""
while len(g) < 32:
    chunk = s.recv(32 - len(g))
    if not chunk:
        break
    g += chunk
s.close()
magic, ver, modes, res, ops, mem = struct.unpack(">4sBBHII", g[:16])
print(f"len={len(g)} magic={magic!r} version={ver} modes=0x{modes:02x} reserved={res} "
      f"ops={ops} mem={mem} salt_zero={g[16:32] == bytes(16)}")
PY
E2E_LOGS+=("$WORK/greeting.out")
assert_grep "^len=32 magic=b'SITX' version=1 modes=0x03 reserved=0 ops=3 mem=65536 salt_zero=False$" \
    "$WORK/greeting.out" "the greeting offers both modes"

send --key "$WORK/alice.key" --receiver-key "$recv_pub" --json "127.0.0.1:$RECV_PORT" \
    "$src/by-key.png"
assert_rc 0 "key-mode sender against a receiver with both modes"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["status"] == "OK"'
assert_grep 'authenticated .*mode=key name=alice' "$RECV_LOG" "stored in key mode"

send --password-file "$WORK/pw" --json "127.0.0.1:$RECV_PORT" "$src/by-password.jpg"
assert_rc 0 "password-mode sender against a receiver with both modes"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["status"] == "OK"'
assert_grep 'authenticated .*key=password mode=password' "$RECV_LOG" "stored in password mode"

# Offering both modes weakens neither: an unknown key and a wrong password fail.
send --key "$WORK/mallory.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" "$src/refused.png"
assert_rc 4 "unauthorised key against a receiver with both modes"
send --password-file "$WORK/wrong-pw" "127.0.0.1:$RECV_PORT" "$src/refused.png"
assert_rc 4 "wrong password against a receiver with both modes"

assert_inbox_count "$INBOX" 2
stored_for "$INBOX" by-key
assert_same_pixels "$src/by-key.png" "$STORED"
stored_for "$INBOX" by-password
assert_same_pixels "$src/by-password.jpg" "$STORED"
finish
