#!/usr/bin/env bash
# A partial changed on the receiver's disk past the image header, where no
# check sees it before the end (PROTOCOL.md §7 rule 7): the prefix hash in
# ACCEPT differs from the sender's, the sender withdraws the attempt with
# CANCEL LOCAL and offers again without counting an attempt, the receiver
# drops the partial and takes the image from 0; the stored image is the
# sender's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume_lib.sh"

src=$WORK/src
mkdir "$src"
start_pw_recv

gen_big_png "$src/middle.png" 8 14
size=$(file_size "$src/middle.png")
start_proxy "$RECV_PORT" --mode truncate --after $((size / 2)) --direction up
send --password-file "$PW" --compress none --retries 0 --json "127.0.0.1:$PROXY_PORT" \
    "$src/middle.png"
assert_rc 5 "cut with no retry left"
stop_proxy
wait_until 10 has_partials "$INBOX" || fail "no partial kept after the cut"
part=$(partials "$INBOX")
python3 - "$part" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    n = os.fstat(f.fileno()).st_size
    f.seek(n // 2)
    b = f.read(1)
    f.seek(n // 2)
    f.write(bytes([b[0] ^ 0x01]))
PY

send --password-file "$PW" --compress none --json "127.0.0.1:$RECV_PORT" "$src/middle.png"
assert_rc 0 "a partial with a flipped byte"
json_check "$SEND_OUT" "objs[0]['status'] == 'OK' and objs[0]['attempts'] == 1 and 'resumed_from' not in objs[0] and objs[0]['bytes_sent'] == $size"
assert_grep 'resume .*offset=[1-9]' "$RECV_LOG" "the receiver offered its partial"
assert_grep 'cancelled .*resume prefix differs' "$RECV_LOG" "the sender withdrew the wrong prefix"
stored_for "$INBOX" middle
assert_same_bytes "$src/middle.png" "$STORED"
[ -z "$(partials "$INBOX")" ] || fail "partials are left: $(partials "$INBOX")"
finish
