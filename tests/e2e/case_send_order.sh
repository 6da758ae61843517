#!/usr/bin/env bash
# The largest image starts first (unless --in-order): a run given its
# files smallest first, and a folder with --in-order, both store every
# image once with its pixels. Two images are prepared at once and the next
# starts only once one of them is offered, so the smallest, planned last,
# cannot be the first the receiver sees (which of the other two is first
# depends on which finishes preparing first; the plan itself:
# test_send_order).
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/a-small.png" 40 30 31
gen_png "$src/b-big.png" 900 700 32
gen_png "$src/c-mid.png" 300 200 33

ended_count() {
    grep -c ' ended .*file=' "$RECV_LOG"
}

first_ended() {
    grep -m 1 -o ' ended .*file=[^ ]*' "$RECV_LOG" | sed -E 's/.*file=//'
}

start_pw_recv -v
send --password-file "$PW" --no-psk-cache "127.0.0.1:$RECV_PORT" \
    "$src/a-small.png" "$src/c-mid.png" "$src/b-big.png"
assert_rc 0 "three images, largest first"
[ "$(ended_count)" -eq 3 ] || fail "want 3 images offered, the receiver ended $(ended_count)"
[ "$(first_ended)" != a-small.png ] || fail "the smallest image went first"
for f in "$src"/*; do
    stored_for "$INBOX" "$(basename "${f%.*}")"
    assert_same_pixels "$f" "$STORED"
done
stop_recv TERM

rm -rf "$INBOX"
start_pw_recv -v
send --password-file "$PW" --no-psk-cache --in-order "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "a folder with --in-order"
[ "$(ended_count)" -eq 3 ] || fail "want 3 images offered, the receiver ended $(ended_count)"
assert_inbox_count "$INBOX" 3
for f in "$src"/*; do
    stored_for "$INBOX" "$(basename "${f%.*}")"
    assert_same_pixels "$f" "$STORED"
done

finish
