#!/usr/bin/env bash
# sitx-send --watch runs each batch as one send, but what a connection
# learns lasts the whole process: in password mode Argon2id runs once for
# three batches (one "deriving the key" line under --verbose), and with
# --tofu the receiver key learnt in the first batch stays pinned, so a
# receiver with another key on the same port later is refused (exit 4,
# nothing stored) instead of being trusted anew.
. "$(dirname "$0")/lib.sh"

export XDG_STATE_HOME=$WORK/state
src=$WORK/src
mkdir -p "$src" "$XDG_STATE_HOME"
for i in 1 2 3; do
    gen_png "$src/p$i.png" 60 40 $((70 + i))
done
inbox_has() { [ "$(inbox_files "$1" | grep -c .)" -ge "$2" ]; }

# Password mode: three files, each in a batch of its own.
start_pw_recv
watch=$WORK/w-pw
mkdir -p "$watch"
send_bg pw --watch "$watch" --password-file "$PW" --timeout 5 --verbose "127.0.0.1:$RECV_PORT"
pid=$BG_PID
wait_log "$WORK/pw.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
for i in 1 2 3; do
    cp "$src/p$i.png" "$watch/.t" && mv "$watch/.t" "$watch/p$i.png"
    wait_until 30 inbox_has "$INBOX" "$i" || fail "p$i.png not stored"
done
kill -TERM "$pid"
wait_send pw "$pid"
assert_rc 0 "--watch in password mode, SIGTERM"
[ "$(grep -c 'connected receiver=' "$SEND_ERR")" -ge 3 ] ||
    fail "want a connection per batch, got $(grep -c 'connected receiver=' "$SEND_ERR")"
n=$(grep -c 'deriving the key' "$SEND_ERR")
[ "$n" -eq 1 ] || fail "Argon2id ran $n times for three batches (want once)"
for i in 1 2 3; do
    stored_for "$INBOX" "p$i" && assert_same_pixels "$src/p$i.png" "$STORED"
done
stop_recv TERM

# Key mode, --tofu: the key of the first batch's receiver stays pinned.
genkey "$SITX_SEND" "$WORK/alice.key"
alice_pub=$PUBKEY
genkey "$SITX_RECV" "$WORK/recv1.key"
genkey "$SITX_RECV" "$WORK/recv2.key"
printf '%s alice\n' "$alice_pub" >"$WORK/authorized"
INBOX=$WORK/inbox-key
mkdir -p "$INBOX"
start_recv --inbox "$INBOX" --key "$WORK/recv1.key" --authorized "$WORK/authorized"
port=$RECV_PORT
watch=$WORK/w-key
mkdir -p "$watch"
send_bg key --watch "$watch" --key "$WORK/alice.key" --known-receivers "$WORK/known" --tofu \
    --timeout 5 "127.0.0.1:$port"
pid=$BG_PID
wait_log "$WORK/key.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
cp "$src/p1.png" "$watch/.t" && mv "$watch/.t" "$watch/k1.png"
wait_until 30 inbox_has "$INBOX" 1 || fail "k1.png not stored"
assert_grep 'trusting 127.0.0.1:[0-9]+ on first use' "$WORK/key.err" "TOFU line"
stop_recv TERM
RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --key "$WORK/recv2.key" \
    --authorized "$WORK/authorized"
cp "$src/p2.png" "$watch/.t" && mv "$watch/.t" "$watch/k2.png"
wait_exit "$pid" 40 || fail "sitx-send --watch kept running with another receiver key"
wait_send key "$pid"
assert_rc 4 "--watch --tofu, the receiver's key changed"
assert_grep 'receiver key mismatch' "$SEND_ERR" "mismatch message"
[ "$(grep -c 'on first use' "$SEND_ERR")" -eq 1 ] || fail "the second receiver was trusted on use"
[ "$(grep -c . "$WORK/known")" -eq 1 ] || fail "want one line in the known-receivers file"
assert_inbox_count "$INBOX" 1
finish
