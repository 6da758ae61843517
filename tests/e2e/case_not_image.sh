#!/usr/bin/env bash
# Files that are not PNG or JPEG are refused by the sender itself, by
# content rather than by name: exit 3, a message that names the file, and
# nothing reaches the inbox. A missing file is a local error as well.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
printf 'Dear receiver,\nthis is a letter, not a picture.\n' >"$src/letter.txt"
printf 'Still just text, whatever the name says.\n' >"$src/fake.png"
gen_png "$src/real.png" 40 30 91

start_pw_recv

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/letter.txt"
assert_rc 3 "a text file"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/letter.all"
assert_grep 'letter\.txt' "$WORK/letter.all" "the message names the file"
assert_grep 'png|jpeg|image|format' "$WORK/letter.all" "the message says why"

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/fake.png"
assert_rc 3 "text named .png"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/fake.all"
assert_grep 'fake\.png' "$WORK/fake.all" "the message names the file"
assert_grep 'png|jpeg|image|format' "$WORK/fake.all" "the message says why"

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/missing.jpg"
assert_rc 3 "a missing file"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/missing.all"
assert_grep 'missing\.jpg' "$WORK/missing.all" "the message names the file"
assert_inbox_count "$INBOX" 0

# The receiver is fine and the next real image goes through.
send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/real.png"
assert_rc 0 "a real image afterwards"
assert_inbox_count "$INBOX" 1

finish
