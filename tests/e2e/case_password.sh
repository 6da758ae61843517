#!/usr/bin/env bash
# Password mode: a wrong password gets exit 4 and a clear message, nothing is
# stored, and the receiver goes on serving; the right password (from a file,
# or from SITX_PASSWORD) gets the image through.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/pw-a.png" 120 90 51
gen_jpeg "$src/pw-b.jpg" 120 90 80 52

start_pw_recv
mkpass "$WORK/wrong" "definitely not the password"

send --password-file "$WORK/wrong" --retries 2 "127.0.0.1:$RECV_PORT" "$src/pw-a.png"
assert_rc 4 "wrong password"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/wrong.all"
assert_grep 'auth|password' "$WORK/wrong.all" "wrong password message"
assert_inbox_count "$INBOX" 0

# A password file others can read is refused before anything is sent.
cp "$PW" "$WORK/open-pw"
chmod 644 "$WORK/open-pw"
send --password-file "$WORK/open-pw" "127.0.0.1:$RECV_PORT" "$src/pw-a.png"
[ "$SEND_RC" -ne 0 ] || fail "a world-readable password file was accepted"
assert_grep 'open-pw' "$SEND_ERR" "the refusal names the file"
assert_inbox_count "$INBOX" 0

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/pw-a.png"
assert_rc 0 "right password after a wrong one"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" pw-a
assert_same_pixels "$src/pw-a.png" "$STORED"

E2E_SEQ=$((E2E_SEQ + 1))
SEND_OUT="$WORK/send.$E2E_SEQ.out"
SEND_ERR="$WORK/send.$E2E_SEQ.err"
E2E_LOGS+=("$SEND_OUT" "$SEND_ERR")
SITX_PASSWORD=$(cat "$PW") timeout -k 5 "$E2E_CLIENT_TIMEOUT" "$SITX_SEND" \
    "127.0.0.1:$RECV_PORT" "$src/pw-b.jpg" >"$SEND_OUT" 2>"$SEND_ERR" </dev/null
SEND_RC=$?
note "SITX_PASSWORD=... sitx-send -> exit $SEND_RC"
assert_rc 0 "password from SITX_PASSWORD"
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" pw-b
assert_same_pixels "$src/pw-b.jpg" "$STORED"

finish
