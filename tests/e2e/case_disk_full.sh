#!/usr/bin/env bash
# Disk full: the inbox is a small tmpfs. An image that does not fit is
# refused with DISK_FULL and leaves nothing behind; two images that fit only
# one at a time, sent at once, give one stored file and one DISK_FULL, never
# a partial file; a small image is still stored afterwards.
. "$(dirname "$0")/lib.sh"

need_root "mounts a tmpfs as the inbox"

src=$WORK/src
mkdir "$src"
gen_png "$src/huge.png" 1200 1000 111
gen_png "$src/half-a.png" 700 600 112
gen_png "$src/half-b.png" 700 600 113
gen_jpeg "$src/tiny.jpg" 32 32 80 114
huge=$(file_size "$src/huge.png")
half=$(file_size "$src/half-a.png")
# A tmpfs a little over one "half" image but under two of them and under the
# huge one.
size_kib=$(( (half * 3 / 2) / 1024 ))
[ $((huge / 1024)) -gt $((size_kib + 64)) ] || fail "huge.png ($huge bytes) is not over the tmpfs"
[ "$(file_size "$src/half-b.png")" -gt $((size_kib * 1024 / 2 + 4096)) ] ||
    fail "half-b.png is too small for the test"

INBOX=$WORK/inbox
mkdir "$INBOX"
mount -t tmpfs -o "size=${size_kib}k,mode=0700" tmpfs "$INBOX" ||
    skip "cannot mount a tmpfs here (no CAP_SYS_ADMIN?)"
E2E_MOUNTS+=("$INBOX")
note "inbox is a ${size_kib} KiB tmpfs; huge=$huge half=$half bytes"

PW=$WORK/password
mkpass "$PW"
start_recv --inbox "$INBOX" --password-file "$PW" --min-free 0

send --password-file "$PW" --compress none --retries 0 "127.0.0.1:$RECV_PORT" "$src/huge.png"
[ "$SEND_RC" -ne 0 ] || fail "an image larger than the disk was reported stored"
[ "$SEND_RC" -eq 1 ] || [ "$SEND_RC" -eq 5 ] ||
    fail "DISK_FULL gave exit $SEND_RC (want 1: refused, or 5: gave up retrying)"
cat "$SEND_OUT" "$SEND_ERR" >"$WORK/huge.all"
assert_grep 'DISK_FULL' "$WORK/huge.all" "the sender reports DISK_FULL"
assert_inbox_count "$INBOX" 0
assert_no_tmp "$INBOX"

send_bg half-a --password-file "$PW" --compress none --retries 0 "127.0.0.1:$RECV_PORT" \
    "$src/half-a.png"
pid_a=$BG_PID
send_bg half-b --password-file "$PW" --compress none --retries 0 "127.0.0.1:$RECV_PORT" \
    "$src/half-b.png"
pid_b=$BG_PID
wait_send half-a "$pid_a"
rc_a=$SEND_RC
wait_send half-b "$pid_b"
rc_b=$SEND_RC
ok=0
for r in $rc_a $rc_b; do
    [ "$r" -eq 0 ] && ok=$((ok + 1))
done
[ "$ok" -eq 1 ] || fail "two images that fit one at a time: $ok stored (exits $rc_a, $rc_b), want 1"
if [ "$rc_a" -ne 0 ]; then
    loser="half-a"
    winner="half-b"
else
    loser="half-b"
    winner="half-a"
fi
cat "$WORK/$loser.out" "$WORK/$loser.err" >"$WORK/loser.all"
assert_grep 'DISK_FULL' "$WORK/loser.all" "the refused one reports DISK_FULL"
assert_inbox_count "$INBOX" 1
assert_no_tmp "$INBOX"
stored_for "$INBOX" "$winner"
assert_same_bytes "$src/$winner.png" "$STORED"

# Room for a small one is still there.
send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/tiny.jpg"
assert_rc 0 "small image after DISK_FULL"
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" tiny
assert_same_pixels "$src/tiny.jpg" "$STORED"

finish
