#!/usr/bin/env bash
# Resume after SIGKILL of the receiver (PROTOCOL.md §7 rule 7): the bytes it had
# written stay in INBOX/.sitx-partial as they were; restarted, it resumes
# from them, so the next run of the sender sends about half of a 40 MiB
# image, and the stored image is the sender's bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume_lib.sh"

src=$WORK/src
mkdir "$src"
gen_big_png "$src/big.png" 40 3
size=$(file_size "$src/big.png")
half=$((size / 2))

# The link stalls after half the image, so the receiver holds that much
# when it is killed.
start_pw_recv --deadline 120
port=$RECV_PORT
start_proxy "$RECV_PORT" --mode stall --after "$half" --direction up
send_bg first --password-file "$PW" --compress none --retries 0 --timeout 30 --json \
    "127.0.0.1:$PROXY_PORT" "$src/big.png"
first=$BG_PID
held_enough() {
    [ "$(partial_bytes "$INBOX")" -ge $((size * 4 / 10)) ]
}
wait_until 30 held_enough || fail "the receiver holds $(partial_bytes "$INBOX") bytes, not ~half"
stop_recv KILL
held=$(partial_bytes "$INBOX")
note "held $held of $size bytes at SIGKILL"
stop_proxy
wait_send first "$first"
[ "$SEND_RC" -ne 0 ] || fail "the first run succeeded through a stalled link"

# Restarted on the same port, the receiver finds the partial; the next run
# of the sender goes straight to it.
RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --password-file "$PW" --deadline 120
send --password-file "$PW" --compress none --json "127.0.0.1:$port" "$src/big.png"
assert_rc 0 "the run after the restart"
assert_grep "resume .*offset=$held " "$RECV_LOG" "the restarted receiver resumed from the partial"
json_check "$SEND_OUT" "objs[0]['status'] == 'OK' and objs[0]['resumed_from'] == $held"
sent=$(json_field bytes_sent)
note "the second run sent $sent bytes of $size"
[ "$sent" -eq $((size - held)) ] || fail "the second run sent $sent bytes, want $((size - held))"
[ "$sent" -lt $((size * 6 / 10)) ] || fail "the second run sent $sent of $size bytes"
stored_for "$INBOX" big
assert_same_bytes "$src/big.png" "$STORED"
assert_inbox_count "$INBOX" 1
[ -z "$(partials "$INBOX")" ] || fail "a partial is left after the image was stored"
finish
