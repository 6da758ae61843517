#!/usr/bin/env bash
# sitx-send --watch: corpus images appear while the receiver is down, and
# one more is written slowly through a descriptor kept open; once the
# receiver is up each is stored exactly once with the same pixels, the
# half-written file never goes out, a non-image is skipped with one line,
# a restarted sender sends nothing again, and SIGTERM stops it with exit 0
# and the state file (0600) saved.
. "$(dirname "$0")/lib.sh"
need_corpus

export XDG_STATE_HOME=$WORK/state
watch=$WORK/watch
mkdir -p "$watch" "$XDG_STATE_HOME"
png=$SITX_CORPUS_DIR/png/pngsuite/basn2c08.png
jpg=$SITX_CORPUS_DIR/jpeg/libjpeg-turbo/testorig.jpg
big=$SITX_CORPUS_DIR/jpeg/libjpeg-turbo/testimgint.jpg
for f in "$png" "$jpg" "$big"; do
    [ -s "$f" ] || fail "corpus file missing: $f"
done

# A port with nobody listening: a receiver's, stopped.
start_pw_recv
port=$RECV_PORT
stop_recv TERM

start_watch() { # TAG: sitx-send --watch in the background, waits for its readiness line
    send_bg "$1" --watch "$watch" --settle 3 --password-file "$PW" --timeout 2 --json \
        "127.0.0.1:$port"
    WATCH_PID=$BG_PID
    wait_log "$WORK/$1.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
}
stop_watch() { # TAG
    kill -TERM "$WATCH_PID" || fail "sitx-send --watch was not running"
    wait_send "$1" "$WATCH_PID"
    assert_rc 0 "sitx-send --watch after SIGTERM"
    assert_grep 'SIGTERM: stopping' "$SEND_ERR" "stop message"
}
inbox_has() { [ "$(inbox_files "$INBOX" | grep -c .)" -ge "$1" ]; }
stores() { cat "$WORK"/recv.*.log | grep -c ': stored peer='; }

cp "$png" "$watch/before.png" # there before the sender starts
start_watch w1
cp "$jpg" "$watch/.part" && mv "$watch/.part" "$watch/moved.jpg" # IN_MOVED_TO
printf 'not an image\n' >"$watch/notes.txt"
wait_log "$WORK/w1.err" 'unreachable' 30 || fail "the sender never noticed the receiver is down"

# The slow writer: pieces with pauses, one descriptor open all along.
(
    exec 3>"$watch/slow.jpg"
    size=$(file_size "$big")
    off=0
    while [ "$off" -lt "$size" ]; do
        dd if="$big" bs=1024 skip=$((off / 1024)) count=1 status=none >&3
        off=$((off + 1024))
        sleep 0.2
    done
) &
writer=$!
E2E_PIDS+=("$writer")

RECV_LISTEN=127.0.0.1:$port start_recv --inbox "$INBOX" --password-file "$PW"
wait_until 60 inbox_has 2 || fail "pending images not sent"
wait_exit "$writer" 60 || fail "the slow writer did not finish"
wait_until 60 inbox_has 3 || fail "slow.jpg not sent"
stop_watch w1

assert_inbox_count "$INBOX" 3
stored_for "$INBOX" before && assert_same_pixels "$png" "$STORED"
stored_for "$INBOX" moved && assert_same_pixels "$jpg" "$STORED"
stored_for "$INBOX" slow && assert_same_bytes "$big" "$STORED" && assert_same_pixels "$big" "$STORED"
[ "$(stores)" -eq 3 ] || fail "want 3 stores in the receiver log, got $(stores)"
json_check "$SEND_OUT" 'sorted(o["status"] for o in objs if o["status"] == "OK") == ["OK"] * 3'
json_check "$SEND_OUT" '[o["file"].split("/")[-1] for o in objs if o["status"] != "OK"] == ["notes.txt"]'
assert_no_grep 'slow.jpg.*(LOCAL_ERROR|REFUSED|INVALID)' "$SEND_OUT" "slow.jpg half-written"
state=$(find "$XDG_STATE_HOME/sitx" -name 'watch-*.state')
[ -n "$state" ] || fail "no state file under $XDG_STATE_HOME/sitx"
[ "$(stat -c %a "$state")" = 600 ] || fail "state file is not mode 0600"
[ "$(grep -c '^[0-9a-f]\{64\} ' "$state")" -eq 3 ] || fail "state file does not list 3 images"

# A restart sends nothing again; a file whose content changed goes once more.
start_watch w2
cp "$SITX_CORPUS_DIR/png/pngsuite/basn0g08.png" "$watch/.x" && mv "$watch/.x" "$watch/before.png"
wait_until 30 grep -q 'before.png' "$WORK/w2.out" || fail "the changed before.png was not sent"
stop_watch w2
# The non-image gets its one line again (per run); only before.png is sent.
json_check "$SEND_OUT" '[o["file"].split("/")[-1] for o in objs if o["status"] != "LOCAL_ERROR"] == ["before.png"]'
json_check "$SEND_OUT" '[o["status"] for o in objs if o["file"].endswith("/before.png")] == ["OK"]'
assert_inbox_count "$INBOX" 4
[ "$(stores)" -eq 4 ] || fail "want 4 stores after the restart, got $(stores)"
finish
