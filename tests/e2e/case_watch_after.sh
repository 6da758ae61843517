#!/usr/bin/env bash
# sitx-send --watch --after-stored: a stored image is moved into the given
# directory (never over a file of the same name) or deleted; an image the
# receiver does not take stays. A move target on another file system or a
# bad action is a usage error.
. "$(dirname "$0")/lib.sh"
need_corpus

export XDG_STATE_HOME=$WORK/state
png=$SITX_CORPUS_DIR/png/pngsuite/basn2c08.png
jpg=$SITX_CORPUS_DIR/jpeg/libjpeg-turbo/testorig.jpg
start_pw_recv

gone() { [ ! -e "$1" ]; }

# move: the done directory already holds a file named like the image.
watch=$WORK/w-move
done_dir=$WORK/done
mkdir -p "$watch" "$done_dir"
printf 'keep me\n' >"$done_dir/a.png"
send_bg mv --watch "$watch" --after-stored "move:$done_dir" --password-file "$PW" --timeout 5 \
    "127.0.0.1:$RECV_PORT"
pid=$BG_PID
wait_log "$WORK/mv.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
cp "$png" "$watch/.t" && mv "$watch/.t" "$watch/a.png"
wait_until 30 gone "$watch/a.png" || fail "a.png not moved away"
kill -TERM "$pid"
wait_send mv "$pid"
assert_rc 0 "--after-stored move, SIGTERM"
assert_grep 'a.png: stored as' "$SEND_OUT" "stored line"
[ "$(cat "$done_dir/a.png")" = 'keep me' ] || fail "the existing done/a.png was overwritten"
assert_same_bytes "$png" "$done_dir/a-1.png"
stored_for "$INBOX" a && assert_same_pixels "$png" "$STORED"

# delete
watch=$WORK/w-del
mkdir -p "$watch"
cp "$jpg" "$watch/b.jpg"
send_bg del --watch "$watch" --after-stored delete --password-file "$PW" --timeout 5 \
    "127.0.0.1:$RECV_PORT"
pid=$BG_PID
wait_until 30 gone "$watch/b.jpg" || fail "b.jpg not deleted"
kill -TERM "$pid"
wait_send del "$pid"
assert_rc 0 "--after-stored delete, SIGTERM"
stored_for "$INBOX" b && assert_same_pixels "$jpg" "$STORED"
assert_inbox_count "$INBOX" 2

# Bad uses.
send --watch "$watch" --after-stored copy:/x --password-file "$PW" "127.0.0.1:$RECV_PORT"
assert_rc 2 "--after-stored copy"
assert_grep 'after-stored wants move:DIR or delete' "$SEND_ERR" "bad action"
send --after-stored delete --password-file "$PW" "127.0.0.1:$RECV_PORT" "$png"
assert_rc 2 "--after-stored without --watch"
send --watch "$watch" --password-file "$PW" "127.0.0.1:$RECV_PORT" "$png"
assert_rc 2 "--watch with an IMAGE"
send --watch "$watch" --after-stored move:/proc --password-file "$PW" "127.0.0.1:$RECV_PORT"
assert_rc 3 "move target on another file system"
assert_grep 'not on the file system' "$SEND_ERR" "EXDEV refused"
finish
