#!/usr/bin/env bash
# Ctrl-C on the sender mid-image (CANCEL INTERRUPTED, PROTOCOL.md §7 rule 7):
# the receiver stores nothing but keeps what came as a partial, and the
# next run resumes from it, sending only the rest. The image is large
# enough that the sender cannot have queued all of it (and its END) into the
# socket buffers before the signal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume_lib.sh"

src=$WORK/src
mkdir "$src"
gen_big_png "$src/stop.png" 40 21
size=$(file_size "$src/stop.png")
start_pw_recv

RELAY_OUT=$WORK/relay.out
E2E_LOGS+=("$RELAY_OUT")
python3 -u "$(dirname "$0")/slow_relay.py" "$RECV_PORT" 8000000 >"$RELAY_OUT" 2>&1 </dev/null &
E2E_PIDS+=($!)
wait_log "$RELAY_OUT" '^listening port=' 10 || fail "slow relay not listening"
RELAY_PORT=$(sed -n 's/^listening port=\([0-9]*\)$/\1/p' "$RELAY_OUT")

send_bg stop --password-file "$PW" --compress none --json "127.0.0.1:$RELAY_PORT" "$src/stop.png"
bg=$BG_PID
pid=
for _ in $(seq 100); do
    pid=$(pgrep -P "$bg" | head -n 1)
    [ -n "$pid" ] && break
    sleep 0.05
done
[ -n "$pid" ] || fail "no sitx-send process"
some_held() {
    [ "$(partial_bytes "$INBOX")" -ge 1000000 ]
}
wait_until 30 some_held || fail "the image never started to arrive"
kill -INT "$pid"
wait_send stop "$bg"
assert_rc 130 "interrupted run"
wait_log "$RECV_LOG" 'cancelled .*file=stop\.png .*cancelled by sender: interrupted' 10 ||
    fail "the receiver did not log the cancel"
assert_inbox_count "$INBOX" 0
wait_until 10 partials_idle "$INBOX" || fail "the receiver still holds the partial"
held=$(partial_bytes "$INBOX")
[ "$held" -gt 0 ] && [ "$held" -lt "$size" ] || fail "the receiver kept $held of $size bytes"

send --password-file "$PW" --compress none --json "127.0.0.1:$RECV_PORT" "$src/stop.png"
assert_rc 0 "the next run"
json_check "$SEND_OUT" "objs[0]['status'] == 'OK' and objs[0]['resumed_from'] == $held and objs[0]['bytes_sent'] == $size - $held"
stored_for "$INBOX" stop
assert_same_bytes "$src/stop.png" "$STORED"
[ -z "$(partials "$INBOX")" ] || fail "a partial is left after the image was stored"
finish
