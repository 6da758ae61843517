#!/usr/bin/env bash
# IPv6 loopback: the receiver listens on [::1], the sender reaches it there.
. "$(dirname "$0")/lib.sh"

python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null ||
    skip "no IPv6 on the loopback interface"

src=$WORK/src
mkdir "$src"
gen_jpeg "$src/six.jpg" 120 80 85 191

RECV_LISTEN='[::1]:0' start_pw_recv
grep -qE 'listening .*addr=\[::1\]:' "$RECV_LOG" || fail "the listening line does not show [::1]"
send --password-file "$PW" "[::1]:$RECV_PORT" "$src/six.jpg"
assert_rc 0 "send over IPv6"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" six
assert_same_pixels "$src/six.jpg" "$STORED"
assert_grep 'stored .*peer=\[?::1' "$RECV_LOG" "the receiver logs the IPv6 peer"

finish
