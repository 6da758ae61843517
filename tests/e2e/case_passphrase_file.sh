#!/usr/bin/env bash
# The passphrase-file rule (PROTOCOL.md §5.4), through both programs: the
# file's bytes less one trailing LF or CRLF. A file that says the same
# passphrase with LF on one side and CRLF on the other interoperates; a file
# with a second line is refused by each program, saying why, with its usage
# or start-up exit code, before anything is sent or stored.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/one.png" 40 30 5
INBOX=$WORK/inbox
mkdir "$INBOX"
(umask 077 && printf 'tall ships\r\n' >"$WORK/crlf" && printf 'tall ships\n' >"$WORK/lf" &&
    printf 'tall ships\nsecond line\n' >"$WORK/two" && printf 'tall ships\r' >"$WORK/cr") ||
    fail "cannot write the passphrase files"

# The receiver reads CRLF, the sender LF: the same passphrase.
start_recv --inbox "$INBOX" --password-file "$WORK/crlf"
send --password-file "$WORK/lf" --json "127.0.0.1:$RECV_PORT" "$src/one.png"
assert_rc 0 "LF and CRLF files hold the same passphrase"
stored_for "$INBOX" one
assert_same_pixels "$src/one.png" "$STORED"

# A second line is refused by the sender, before it connects.
for bad in two cr; do
    send --password-file "$WORK/$bad" "127.0.0.1:$RECV_PORT" "$src/one.png"
    assert_rc 2 "sitx-send with a $bad passphrase file"
    assert_grep "$bad: the file has more than one line" "$SEND_ERR" "the sender says why"
done
# ... and by --seal, which reads the same way.
send --seal "$WORK/out.sitx" --password-file "$WORK/two" "$src/one.png"
assert_rc 2 "sitx-send --seal with a two-line passphrase file"
assert_grep "more than one line" "$SEND_ERR" "--seal says why"
[ ! -e "$WORK/out.sitx" ] || fail "--seal wrote a file with a refused passphrase"
assert_inbox_count "$INBOX" 1
stop_recv TERM

# The receiver refuses to start on it, and says why.
log=$WORK/recv-two.log
E2E_LOGS+=("$log")
timeout 30 "${E2E_WRAP[@]}" "$SITX_RECV" --listen 127.0.0.1:0 --inbox "$INBOX" \
    --password-file "$WORK/two" >"$log" 2>&1 </dev/null
rc=$?
[ "$rc" -eq 1 ] || fail "sitx-recv with a two-line passphrase file exited $rc, want 1"
assert_grep 'password-error .*more than one line' "$log" "the receiver says why"
assert_no_grep 'listening' "$log" "the receiver did not start listening"
check_sanitizers "$log"

# sitx-recv --open reads it the same way: a file sealed with the LF
# passphrase opens with the CRLF one, and not with the two-line one.
send --seal "$WORK/one.sitx" --password-file "$WORK/lf" "$src/one.png"
assert_rc 0 "sitx-send --seal with the LF passphrase file"
mkdir "$WORK/out"
timeout 60 "${E2E_WRAP[@]}" "$SITX_RECV" --open "$WORK/one.sitx" --password-file "$WORK/two" \
    --out "$WORK/out" >"$log" 2>&1 </dev/null
rc=$?
[ "$rc" -eq 2 ] || fail "sitx-recv --open with a two-line passphrase file exited $rc, want 2"
assert_grep 'more than one line' "$log" "--open says why"
[ -z "$(ls -A "$WORK/out")" ] || fail "--open wrote something with a refused passphrase"
timeout 60 "${E2E_WRAP[@]}" "$SITX_RECV" --open "$WORK/one.sitx" --password-file "$WORK/crlf" \
    --out "$WORK/out" >"$log" 2>&1 </dev/null
rc=$?
[ "$rc" -eq 0 ] || fail "sitx-recv --open with the CRLF passphrase file exited $rc"
stored_for "$WORK/out" one
assert_same_pixels "$src/one.png" "$STORED"
assert_inbox_count "$INBOX" 1
pass
