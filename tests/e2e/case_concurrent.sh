#!/usr/bin/env bash
# Four sitx-send processes at once, two images each: all eight stored exactly
# once with their pixels.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
for s in 1 2 3 4; do
    gen_png "$src/s$s-p.png" 300 200 $((30 + s))
    gen_jpeg "$src/s$s-j.jpg" 400 300 88 $((40 + s))
done

start_pw_recv

pids=()
for s in 1 2 3 4; do
    send_bg "sender$s" --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/s$s-p.png" "$src/s$s-j.jpg"
    pids+=("$BG_PID")
done
for s in 1 2 3 4; do
    wait_send "sender$s" "${pids[$((s - 1))]}"
    assert_rc 0 "concurrent sender $s"
done

assert_inbox_count "$INBOX" 8
for f in "$src"/*; do
    stem=$(basename "$f")
    stored_for "$INBOX" "${stem%.*}"
    assert_same_pixels "$f" "$STORED"
done

finish
