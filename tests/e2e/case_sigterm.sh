#!/usr/bin/env bash
# SIGTERM while an image is in flight (the link stalled mid-data): the
# receiver aborts the transfer, removes its temporary file and exits 0; the
# sender, left without a receiver, gives up with exit 5 (network failure).
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/term.png" 256 256 131
[ "$(file_size "$src/term.png")" -gt 20000 ] || fail "test image too small for --after 2000"

start_pw_recv --deadline 5
start_proxy "$RECV_PORT" --mode stall --after 2000 --direction up

send_bg term --password-file "$PW" --compress none --retries 1 --timeout 3 \
    "127.0.0.1:$PROXY_PORT" "$src/term.png"
send_pid=$BG_PID
wait_log "$PROXY_LOG" 'fault conn=1 mode=stall' 30 || fail "the transfer never reached the stall"
if wait_until 5 has_tmp "$INBOX"; then
    note "temporary file mid-transfer: $(find "$INBOX" -name '.sitx-tmp-*' -printf '%f ')"
else
    note "no temporary file mid-transfer (the receiver buffers the first bytes)"
fi

stop_recv TERM
assert_no_tmp "$INBOX"
assert_inbox_count "$INBOX" 0

wait_send term "$send_pid"
assert_rc 5 "sender whose receiver stopped"

stop_proxy
finish
