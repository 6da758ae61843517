#!/usr/bin/env bash
# Exactly once: sending the same content again (same sender) is answered
# ALREADY_STORED with the existing name, exit 0, and no second copy. Other
# content under the same file name is stored beside it, never over it.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir -p "$src/a" "$src/b"
gen_png "$src/a/same.png" 200 100 141
gen_png "$src/b/same.png" 200 100 142

start_pw_recv

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/a/same.png"
assert_rc 0 "first send"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" same
first=$STORED
cp "$first" "$WORK/first.copy"

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/a/same.png"
assert_rc 0 "resend of stored content"
assert_grep 'already' "$SEND_OUT" "the sender reports ALREADY_STORED"
assert_grep "$(basename "$first")" "$SEND_OUT" "the answer names the existing file"
assert_inbox_count "$INBOX" 1

send --password-file "$PW" --json "127.0.0.1:$RECV_PORT" "$src/a/same.png"
assert_rc 0 "resend of stored content, --json"
json_check "$SEND_OUT" "len(objs) == 1 and str(objs[0]['status']).upper() == 'ALREADY_STORED'"
assert_inbox_count "$INBOX" 1

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/b/same.png"
assert_rc 0 "other content, same name"
assert_inbox_count "$INBOX" 2
assert_same_bytes "$WORK/first.copy" "$first"
assert_same_pixels "$src/a/same.png" "$first"
other=$(inbox_files "$INBOX" | grep -vxF "$(basename "$first")")
assert_same_pixels "$src/b/same.png" "$INBOX/$other"

finish
