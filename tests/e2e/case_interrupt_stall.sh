#!/usr/bin/env bash
# Ctrl-C while the link to the receiver is dead (the fault proxy stalls it
# mid-image): the CANCEL cannot arrive and no RESULT comes, so the wait is
# bounded by --timeout; the image is reported INTERRUPTED, nothing is
# retried, exit 130, and the receiver stores nothing.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/stuck.png" 800 800 111
[ "$(file_size "$src/stuck.png")" -gt 200000 ] || fail "test image too small for --after 100000"

start_pw_recv
start_proxy "$RECV_PORT" --mode stall --after 100000 --direction up

send_bg stall --password-file "$PW" --compress none --timeout 2 --verbose \
    "127.0.0.1:$PROXY_PORT" "$src/stuck.png"
bg=$BG_PID
wait_log "$PROXY_LOG" 'fault conn=1 mode=stall' 30 || fail "the transfer never reached the stall"
pid=$(pgrep -P "$bg" | head -n 1)
[ -n "$pid" ] || fail "no sitx-send process"
kill -INT "$pid"
wait_send stall "$bg"
assert_rc 130 "interrupted over a dead link"
assert_grep 'stuck\.png: not sent: INTERRUPTED: ' "$SEND_OUT" "the image is reported interrupted"
assert_no_grep 'stuck\.png: not sent: INTERRUPTED: the run was stopped before it was offered' \
    "$SEND_OUT" "it was offered"
assert_grep '0 stored.*1 interrupted' "$SEND_OUT" "the summary"
[ "$(proxy_connections)" -eq 1 ] || fail "a new connection after the interrupt"
assert_inbox_count "$INBOX" 0
finish
