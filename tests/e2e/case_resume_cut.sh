#!/usr/bin/env bash
# Resume after a cut (PROTOCOL.md §7 rule 7): a 40 MiB image is cut at about
# half; the receiver keeps what came in INBOX/.sitx-partial (0600, not in
# the inbox listing), the retry resumes from there, so only about half goes
# over the wire a second time, and the stored image is the sender's bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume_lib.sh"

src=$WORK/src
mkdir "$src"
gen_big_png "$src/big.png" 40 1
size=$(file_size "$src/big.png")
half=$((size / 2))

start_pw_recv --deadline 120
start_proxy "$RECV_PORT" --mode truncate --after "$half" --direction up
send --password-file "$PW" --compress none --retries 3 --timeout 60 --json \
    "127.0.0.1:$PROXY_PORT" "$src/big.png"
assert_rc 0 "cut at half, then a resumed retry"
assert_grep 'fault conn=1 mode=truncate' "$PROXY_LOG" "the proxy cut the first connection"
assert_grep "resume .*offset=[1-9]" "$RECV_LOG" "the receiver resumed from its partial"

stored_for "$INBOX" big
assert_same_bytes "$src/big.png" "$STORED"
assert_inbox_count "$INBOX" 1
assert_no_tmp "$INBOX"
[ -z "$(partials "$INBOX")" ] || fail "a partial is left after the image was stored"

# The second attempt carried about half: resumed well past a third, and the
# proxy relayed at most 60 % of the image on the second connection.
from=$(json_field resumed_from)
up2=$(proxy_up 2)
note "size=$size resumed_from=$from second connection up=$up2"
[ "$from" -gt $((size * 4 / 10)) ] && [ "$from" -le "$half" ] ||
    fail "resumed_from=$from, want about half of $size"
[ -n "$up2" ] && [ "$up2" -lt $((size * 6 / 10)) ] ||
    fail "the second connection carried $up2 bytes of a $size-byte image"
json_check "$SEND_OUT" 'objs[0]["status"] == "OK" and objs[0]["attempts"] == 2'
stop_proxy

# While it is kept, the partial is private and out of the listing.
gen_big_png "$src/other.png" 8 2
start_proxy "$RECV_PORT" --mode truncate --after 4000000 --direction up
send --password-file "$PW" --compress none --retries 0 --json "127.0.0.1:$PROXY_PORT" \
    "$src/other.png"
assert_rc 5 "cut with no retry left"
wait_until 10 has_partials "$INBOX" || fail "no partial kept after the cut"
wait_until 10 partials_idle "$INBOX" || fail "the receiver still holds the partial"
[ "$(stat -c %a "$INBOX/.sitx-partial")" = 700 ] || fail "partial directory is not 0700"
for f in $(partials "$INBOX"); do
    [ "$(stat -c %a "$f")" = 600 ] || fail "partial $f is not 0600"
done
held=$(partial_bytes "$INBOX")
[ "$held" -gt 1000000 ] || fail "the partial holds only $held bytes"
assert_inbox_count "$INBOX" 1
stop_proxy

# A run of the sender later takes it up again (a new transfer id, same content).
send --password-file "$PW" --compress none --json "127.0.0.1:$RECV_PORT" "$src/other.png"
assert_rc 0 "the second run resumes"
json_check "$SEND_OUT" "objs[0]['status'] == 'OK' and objs[0].get('resumed_from', 0) == $held"
stored_for "$INBOX" other
assert_same_bytes "$src/other.png" "$STORED"
[ -z "$(partials "$INBOX")" ] || fail "a partial is left after the second image was stored"

# The receiver's deadline passes on a stalled link (TIMEOUT, which the
# sender retries): the bytes that came are kept, and the retry resumes.
stop_recv TERM
start_recv --inbox "$INBOX" --password-file "$PW" --deadline 2
gen_big_png "$src/slow.png" 8 4
start_proxy "$RECV_PORT" --mode stall --after 4000000 --direction up
send --password-file "$PW" --compress none --retries 2 --timeout 4 --json \
    "127.0.0.1:$PROXY_PORT" "$src/slow.png"
assert_rc 0 "a stalled transfer, retried"
assert_grep 'timeout .*file=slow' "$RECV_LOG" "the receiver's deadline passed"
assert_grep "resume .*offset=[1-9][0-9]* bytes=$(file_size "$src/slow.png")" "$RECV_LOG" \
    "the retry resumed from what came before the deadline"
json_check "$SEND_OUT" "objs[0]['status'] == 'OK' and objs[0]['resumed_from'] > 1000000"
stored_for "$INBOX" slow
assert_same_bytes "$src/slow.png" "$STORED"
stop_proxy
finish
