#!/usr/bin/env bash
# The receiver is killed (SIGKILL) in the middle of a transfer and started
# again on the same port: it sweeps the stale temporary file, the sender's
# retry gets through, and the image is stored exactly once. (On version 2
# what the receiver had written is a partial, which survives the SIGKILL
# on purpose and which the retry takes up: case_resume_kill.sh.)
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/crash.png" 256 256 121
[ "$(file_size "$src/crash.png")" -gt 20000 ] || fail "test image too small for --after 2000"

start_pw_recv
port=$RECV_PORT
start_proxy "$port" --mode stall --after 2000 --direction up

send_bg crash --password-file "$PW" --compress none --retries 5 --timeout 4 --json \
    "127.0.0.1:$PROXY_PORT" "$src/crash.png"
send_pid=$BG_PID
wait_log "$PROXY_LOG" 'fault conn=1 mode=stall' 30 || fail "the transfer never reached the stall"
if wait_until 5 has_tmp "$INBOX"; then
    note "temporary file present mid-transfer: $(find "$INBOX" -name '.sitx-tmp-*' -o -path '*/.sitx-partial/*' -type f)"
fi
# A version 2 transfer writes a partial, not a temporary; leave a stale
# temporary of our own, as a crash of a version 1 transfer would.
: >"$INBOX/.sitx-tmp-stale-e2e"

kill -KILL "$RECV_PID"
wait_exit "$RECV_PID" 10 || fail "sitx-recv survived SIGKILL"
RECV_PID=
has_tmp "$INBOX" || fail "no stale temporary file to sweep"
# The temporaries the killed receiver left: the restarted one writes
# temporaries of its own as the retry comes in, which must not count.
stale=$(find "$INBOX" -name '.sitx-tmp-*')
no_stale_tmp() {
    local f
    for f in $stale; do
        [ ! -e "$f" ] || return 1
    done
}

RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --password-file "$PW"
[ "$RECV_PORT" = "$port" ] || fail "restarted receiver is on port $RECV_PORT, not $port"
wait_until 5 no_stale_tmp || fail "stale temporary files not swept at restart: $(ls -A "$INBOX")"

wait_send crash "$send_pid"
assert_rc 0 "sender retried after the receiver restarted"
json_check "$SEND_OUT" 'len(objs) == 1 and objs[0]["attempts"] >= 2'
assert_inbox_count "$INBOX" 1
assert_no_tmp "$INBOX"
[ -z "$(find "$INBOX/.sitx-partial" -type f 2>/dev/null)" ] || fail "a partial is left after the image was stored"
stored_for "$INBOX" crash
assert_same_bytes "$src/crash.png" "$STORED"

stop_proxy
finish
