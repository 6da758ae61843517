#!/usr/bin/env bash
# sitx-send --watch --settle (--compress none, so the stored bytes are the
# file's): a writer that never closes the file. While
# it writes in pieces with pauses shorter than --settle, nothing is sent
# (no half-written image reaches the receiver or gets a line of its own);
# once the file has stopped growing for --settle it is sent although the
# writer still holds it open, and the stored bytes are the whole file. The
# receiver is up all along, so an early send would show.
. "$(dirname "$0")/lib.sh"

export XDG_STATE_HOME=$WORK/state
watch=$WORK/watch
src=$WORK/src
mkdir -p "$watch" "$src" "$XDG_STATE_HOME"
gen_jpeg "$src/jslow.jpg" 320 240 90 41
gen_png "$src/pslow.png" 160 120 42
for f in "$src/jslow.jpg" "$src/pslow.png"; do
    [ "$(file_size "$f")" -gt 8192 ] || fail "test image $f too small to write in pieces"
done
start_pw_recv
inbox_has() { [ "$(inbox_files "$INBOX" | grep -c .)" -ge "$1" ]; }

send_bg w --watch "$watch" --settle 2 --compress none --password-file "$PW" --timeout 5 --json \
    "127.0.0.1:$RECV_PORT"
pid=$BG_PID
wait_log "$WORK/w.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"

# writer SRC DST: pieces of 2 KiB with 0.3 s pauses through one descriptor,
# which stays open until $WORK/release-NAME exists; "done" marks the end
# of the writes.
writer() {
    local src=$1 dst=$2 name size off=0
    name=$(basename "$dst")
    size=$(file_size "$src")
    exec 3>"$dst"
    while [ "$off" -lt "$size" ]; do
        dd if="$src" bs=2048 skip=$((off / 2048)) count=1 status=none >&3
        off=$((off + 2048))
        sleep 0.3
    done
    : >"$WORK/done-$name"
    until [ -e "$WORK/release-$name" ]; do
        sleep 0.1
    done
    exec 3>&-
}
still_writing() { kill -0 "$1" 2>/dev/null && [ ! -e "$WORK/release-$2" ]; }

for name in jslow.jpg pslow.png; do
    (writer "$src/$name" "$watch/$name") &
    wpid=$!
    E2E_PIDS+=("$wpid")
    wait_until 60 test -e "$WORK/done-$name" || fail "the writer of $name did not finish writing"
    # Written, still open: sent once unchanged for --settle, not on close.
    wait_until 30 grep -q "/$name\"" "$WORK/w.out" || fail "$name not sent while open and settled"
    still_writing "$wpid" "$name" || fail "the writer of $name closed the file early"
    : >"$WORK/release-$name"
    wait_exit "$wpid" 10 || fail "the writer of $name did not exit"
done

kill -TERM "$pid"
wait_send w "$pid"
assert_rc 0 "sitx-send --watch after SIGTERM"
# One line each, OK: no earlier attempt at a half-written file.
json_check "$SEND_OUT" 'sorted(o["file"].split("/")[-1] for o in objs) == ["jslow.jpg", "pslow.png"]'
json_check "$SEND_OUT" 'all(o["status"] == "OK" for o in objs)'
[ "$(grep -c ': stored peer=' "$RECV_LOG")" -eq 2 ] || fail "want 2 stores in the receiver log"
assert_no_grep 'refused|rejected|BAD_IMAGE' "$RECV_LOG" "a half-written image reached the receiver"
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" jslow && assert_same_bytes "$src/jslow.jpg" "$STORED"
stored_for "$INBOX" pslow && assert_same_bytes "$src/pslow.png" "$STORED"
finish
