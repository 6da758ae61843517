#!/usr/bin/env bash
# Protocol version 2 negotiation (PROTOCOL.md §3): sitx-send asks for
# version 2 and the receiver runs the connection under it; --protocol 1
# asks for version 1; in front of a receiver that refuses a version 2 HELLO
# (as those from before version 2 do) the sender falls back to version 1
# once, in both modes, unless --protocol 2 forbids it.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/v2-a.png" 120 90 71
gen_jpeg "$src/v2-b.jpg" 120 90 85 72
gen_png "$src/v2-c.png" 120 90 73
gen_png "$src/v2-d.png" 120 90 74
gen_png "$src/v2-e.png" 120 90 75

start_pw_recv

# start_gate: the version 1 stand-in in front of the receiver; GATE_PORT, GATE_OUT.
start_gate() {
    local deadline
    E2E_SEQ=$((E2E_SEQ + 1))
    GATE_OUT=$WORK/gate.$E2E_SEQ.out
    E2E_LOGS+=("$GATE_OUT")
    python3 -u "$(dirname "$0")/v1_gate.py" "$1" >"$GATE_OUT" 2>&1 </dev/null &
    E2E_PIDS+=($!)
    deadline=$((SECONDS + 10))
    until grep -q '^listening port=' "$GATE_OUT"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "v1 gate not listening after 10 s"
        sleep 0.05
    done
    GATE_PORT=$(sed -n 's/^listening port=\([0-9]*\)$/\1/p' "$GATE_OUT")
}

# Default: version 2 on both sides.
send --password-file "$PW" --compress none --verbose --json "127.0.0.1:$RECV_PORT" "$src/v2-a.png"
assert_rc 0 "version 2 by default"
json_check "$SEND_OUT" 'objs[0]["protocol"] == 2'
stored_for "$INBOX" v2-a
assert_same_bytes "$src/v2-a.png" "$STORED"
assert_grep 'connected .*protocol=2' "$SEND_ERR" "sender logs the negotiated version"
assert_grep 'authenticated .*mode=password protocol=2' "$RECV_LOG" "receiver ran version 2"

# --protocol 1: a version 1 connection.
send --password-file "$PW" --compress none --protocol 1 "127.0.0.1:$RECV_PORT" "$src/v2-b.jpg"
assert_rc 0 "--protocol 1"
stored_for "$INBOX" v2-b
assert_same_bytes "$src/v2-b.jpg" "$STORED"
assert_grep 'authenticated .*mode=password protocol=1' "$RECV_LOG" "receiver ran version 1"

send --password-file "$PW" --protocol 3 "127.0.0.1:$RECV_PORT" "$src/v2-c.png"
assert_rc 2 "--protocol 3"
assert_grep "--protocol wants 1 or 2, not \`3'" "$SEND_ERR" "--protocol 3 refused"

# A receiver that refuses version 2: one refused HELLO, then version 1.
start_gate "$RECV_PORT"
n_v1=$(grep -c 'protocol=1' "$RECV_LOG")
# Without the key cache, which earlier runs to this receiver filled: the
# derivation is what is counted.
send --password-file "$PW" --no-psk-cache --compress none --verbose --json \
    "127.0.0.1:$GATE_PORT" "$src/v2-c.png" "$src/v2-d.png"
assert_rc 0 "fallback to version 1 in password mode"
json_check "$SEND_OUT" '[o.get("protocol") for o in objs if "file" in o] == [1, 1]'
for stem in v2-c v2-d; do
    stored_for "$INBOX" "$stem"
    assert_same_bytes "$src/$stem.png" "$STORED"
done
assert_grep 'protocol fallback .*version=1' "$SEND_ERR" "sender says it falls back"
[ "$(grep -c 'deriving the key' "$SEND_ERR")" -eq 1 ] ||
    fail "Argon2id ran again for the version 1 connection"
[ "$(grep -c '^hello version=2' "$GATE_OUT")" -eq 1 ] || fail "not exactly one version 2 HELLO"
[ "$(grep -c 'protocol=1' "$RECV_LOG")" -gt "$n_v1" ] || fail "no version 1 connection"

# Forced version 2 against it: no fallback, the refusal is an authentication failure.
send --password-file "$PW" --protocol 2 --retries 0 "127.0.0.1:$GATE_PORT" "$src/v2-e.png"
assert_rc 4 "--protocol 2 against a version 1 receiver"
assert_grep 'refused the handshake' "$SEND_ERR" "forced version 2 refused"
stop_recv TERM

# Key mode: the same fallback, the refusal arriving where message 2 is due.
genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized"
start_gate "$RECV_PORT"
send --key "$WORK/alice.key" --receiver-key "$recv_pub" --compress none --verbose \
    "127.0.0.1:$GATE_PORT" "$src/v2-e.png"
assert_rc 0 "fallback to version 1 in key mode"
stored_for "$INBOX" v2-e
assert_same_bytes "$src/v2-e.png" "$STORED"
assert_grep 'authenticated .*name=alice protocol=1' "$RECV_LOG" "key mode fell back to version 1"
assert_grep 'connected .*protocol=1' "$SEND_ERR" "sender logs version 1"

# A wrong password on a version 2 receiver is still an authentication failure.
stop_recv TERM
start_pw_recv
mkpass "$WORK/wrong"
send --password-file "$WORK/wrong" --retries 0 "127.0.0.1:$RECV_PORT" "$src/v2-a.png"
assert_rc 4 "wrong password"
assert_grep 'refused the handshake: wrong password' "$SEND_ERR" "wrong password said as such"
finish
