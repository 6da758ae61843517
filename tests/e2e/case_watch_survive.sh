#!/usr/bin/env bash
# sitx-send --watch survives the receiver going away. The receiver is
# killed (SIGKILL) in the middle of an image's data, two more images appear
# while it is down, and it comes back on the same port later: each of the
# three is stored exactly once, byte for byte, and the watcher says when the
# receiver went and came back. A receiver that answers DISK_FULL (a
# retryable status) keeps the image pending too, instead of dropping it
# until it changes: once there is room it is stored. A restarted watcher
# then sends nothing twice.
. "$(dirname "$0")/lib.sh"

export XDG_STATE_HOME=$WORK/state
watch=$WORK/watch
src=$WORK/src
mkdir -p "$watch" "$src" "$XDG_STATE_HOME"
gen_png "$src/crash.png" 256 256 131
gen_png "$src/during-a.png" 90 60 132
gen_jpeg "$src/during-b.jpg" 120 80 85 133
gen_jpeg "$src/full.jpg" 100 70 85 134
gen_png "$src/later.png" 50 40 135
[ "$(file_size "$src/crash.png")" -gt 20000 ] || fail "test image too small for --after 2000"
put() { cp "$src/$1" "$watch/.t" && mv "$watch/.t" "$watch/$1"; }
inbox_has() { [ "$(inbox_files "$INBOX" | grep -c .)" -ge "$1" ]; }
stores() { cat "$WORK"/recv.*.log | grep -c ': stored peer='; }

start_pw_recv
port=$RECV_PORT
# The first connection stalls after 2000 bytes of the sender's data.
start_proxy "$port" --mode stall --after 2000 --direction up

send_bg w1 --watch "$watch" --compress none --retries 1 --timeout 2 --json \
    --password-file "$PW" "127.0.0.1:$PROXY_PORT"
pid=$BG_PID
wait_log "$WORK/w1.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
put crash.png
wait_log "$PROXY_LOG" 'fault conn=1 mode=stall' 30 || fail "the transfer never reached the stall"
kill -KILL "$RECV_PID"
wait_exit "$RECV_PID" 10 || fail "sitx-recv survived SIGKILL"
RECV_PID=
put during-a.png
put during-b.jpg
wait_log "$WORK/w1.err" "receiver 127.0.0.1:$PROXY_PORT unreachable; images stay pending" 40 ||
    fail "the watcher never said the receiver is away"
kill -0 "$pid" 2>/dev/null || fail "the watcher stopped while the receiver was away"
[ "$(inbox_files "$INBOX" | grep -c .)" -eq 0 ] || fail "something was stored while the receiver was down"

RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --password-file "$PW"
wait_until 60 inbox_has 3 || fail "pending images not stored after the receiver came back"
wait_log "$WORK/w1.err" "receiver 127.0.0.1:$PROXY_PORT reachable again" 30 ||
    fail "the watcher never said the receiver is back"
stop_recv TERM

# DISK_FULL: a receiver keeping more free space than any disk has.
RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --password-file "$PW" --min-free 1000000T
put full.jpg
wait_log "$WORK/w1.err" "full.jpg: DISK_FULL from 127.0.0.1:$PROXY_PORT .*; stays pending, retrying" 30 ||
    fail "no pending line for the DISK_FULL image"
stop_recv TERM
RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --password-file "$PW"
wait_until 60 inbox_has 4 || fail "full.jpg not stored once there was room"

kill -TERM "$pid"
wait_send w1 "$pid"
assert_rc 0 "sitx-send --watch after SIGTERM"
json_check "$SEND_OUT" 'sorted(o["file"].split("/")[-1] for o in objs) == ["crash.png", "during-a.png", "during-b.jpg", "full.jpg"]'
json_check "$SEND_OUT" 'all(o["status"] == "OK" for o in objs)'
[ "$(stores)" -eq 4 ] || fail "want 4 stores in the receiver logs, got $(stores)"
[ "$(grep -c 'full.jpg: DISK_FULL' "$SEND_ERR")" -eq 1 ] || fail "the DISK_FULL line was not said once"
for stem in crash during-a during-b full; do
    stored_for "$INBOX" "$stem"
    assert_same_bytes "$(ls "$src/$stem".*)" "$STORED"
done

# Restarted, the watcher sends only what is new.
send_bg w2 --watch "$watch" --compress none --retries 1 --timeout 2 --json \
    --password-file "$PW" "127.0.0.1:$PROXY_PORT"
pid=$BG_PID
wait_log "$WORK/w2.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
put later.png
wait_until 30 inbox_has 5 || fail "later.png not stored"
kill -TERM "$pid"
wait_send w2 "$pid"
assert_rc 0 "restarted sitx-send --watch after SIGTERM"
json_check "$SEND_OUT" '[o["file"].split("/")[-1] for o in objs] == ["later.png"]'
[ "$(stores)" -eq 5 ] || fail "want 5 stores after the restart, got $(stores)"
assert_inbox_count "$INBOX" 5
stop_proxy
finish
