#!/usr/bin/env bash
# SIGHUP reloads the authorised senders without a restart: a removed key is
# refused (exit 4), an added one is accepted; the receiver's pid stays.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_png "$src/hup-1.png" 80 60 151
gen_png "$src/hup-2.png" 80 60 152
gen_png "$src/hup-3.png" 80 60 153

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
alice_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/bob.key"
bob_pub=$PUBKEY
printf '%s alice\n' "$alice_pub" >"$WORK/authorized"

start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized"
pid=$RECV_PID

send --key "$WORK/bob.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" "$src/hup-1.png"
assert_rc 4 "bob before the reload"
send --key "$WORK/alice.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" "$src/hup-1.png"
assert_rc 0 "alice before the reload"
assert_inbox_count "$INBOX" 1

# Replace the file atomically, as an operator's editor or config tool would.
printf '# alice left\n%s bob\n' "$bob_pub" >"$WORK/authorized.new"
mv "$WORK/authorized.new" "$WORK/authorized"
lines=$(wc -l <"$RECV_LOG")
kill -HUP "$RECV_PID"
# The receiver should say it reloaded; wait for any new line mentioning it.
if ! wait_until 10 sh -c "tail -n +$((lines + 1)) '$RECV_LOG' | grep -qiE 'reload|authori'"; then
    fail "the receiver logged nothing about a reload within 10 s of SIGHUP"
fi

send --key "$WORK/alice.key" --receiver-key "$recv_pub" --retries 1 "127.0.0.1:$RECV_PORT" \
    "$src/hup-2.png"
assert_rc 4 "alice after her key was removed"
send --key "$WORK/bob.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" "$src/hup-3.png"
assert_rc 0 "bob after his key was added"
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" hup-3
assert_same_pixels "$src/hup-3.png" "$STORED"
if [ "$RECV_PID" != "$pid" ] || ! kill -0 "$pid"; then
    fail "the receiver restarted instead of reloading"
fi

# A broken file on reload is reported and does not bring the receiver down.
printf 'this is not a key\n' >"$WORK/authorized"
lines=$(wc -l <"$RECV_LOG")
kill -HUP "$RECV_PID"
wait_until 10 sh -c "tail -n +$((lines + 1)) '$RECV_LOG' | grep -qiE 'reload|authori'" ||
    fail "the receiver logged nothing about a failed reload within 10 s of SIGHUP"
kill -0 "$RECV_PID" || fail "the receiver died on a broken authorised-senders file"
tail -n +$((lines + 1)) "$RECV_LOG" | grep -qE 'line 1' ||
    fail "the reload error does not say which line is bad"

finish
