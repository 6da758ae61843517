#!/usr/bin/env bash
# sitx-send --watch with a state file it cannot trust: garbage, a cut-off
# last line, a state file open to others, a symbolic link (never followed)
# or a directory. Each time the sender refuses to start with exit 3 and a
# message naming the file, what is wrong and what to do, and sends nothing;
# the file is left as it was. A good state file still works afterwards.
. "$(dirname "$0")/lib.sh"

export XDG_STATE_HOME=$WORK/state
watch=$WORK/watch
mkdir -p "$watch" "$XDG_STATE_HOME"
gen_png "$watch/a.png" 40 30 91
start_pw_recv

run_watch() { # TAG: starts the watcher, sets WATCH_PID once it is ready
    send_bg "$1" --watch "$watch" --password-file "$PW" --timeout 5 "127.0.0.1:$RECV_PORT"
    WATCH_PID=$BG_PID
}
stop_watch() { # TAG
    kill -TERM "$WATCH_PID"
    wait_send "$1" "$WATCH_PID"
    assert_rc 0 "sitx-send --watch after SIGTERM"
}
inbox_has() { [ "$(inbox_files "$INBOX" | grep -c .)" -ge "$1" ]; }

# A first run sends a.png and writes the state file; its path is in the
# readiness line.
run_watch w0
wait_log "$WORK/w0.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
wait_until 30 inbox_has 1 || fail "a.png not stored"
stop_watch w0
state=$(sed -n 's/^sitx-send: watching .* (state \(.*\))$/\1/p' "$WORK/w0.err")
[ -f "$state" ] || fail "no state file at '$state'"
cp "$state" "$WORK/good.state"

refused() { # TAG WHY: the watcher exits 3 at once saying WHY, nothing stored
    run_watch "$1"
    wait_exit "$WATCH_PID" 30 || fail "$1: sitx-send --watch did not refuse to start"
    wait_send "$1" "$WATCH_PID"
    assert_rc 3 "$1: damaged state file"
    assert_grep "state file $state: $2" "$SEND_ERR" "$1: reason"
    assert_grep '; not starting \(move it away to start afresh' "$SEND_ERR" "$1: what to do"
    assert_no_grep '^sitx-send: watching ' "$SEND_ERR" "$1: started anyway"
    assert_inbox_count "$INBOX" 1
}

printf 'garbage\n\001\377\n' >"$state"
refused garbage 'line 1: not a state file'
cp "$WORK/good.state" "$state"
head -c -10 "$WORK/good.state" >"$state" # the last line cut short
refused cut 'line 2: truncated \(no newline at the end\)'
printf 'sitx-watch-state 1\nnot an entry\n' >"$state"
refused entry 'line 2: not four fields'
cp "$WORK/good.state" "$state" && chmod 644 "$state"
refused mode 'mode 0644: group or others can use it \(chmod 600 it\)'
rm "$state" && ln -s "$WORK/good.state" "$state"
refused link 'a symbolic link \(not followed\)'
[ -L "$state" ] || fail "the symbolic link was replaced"
rm "$state" && mkdir "$state"
refused dir 'not a regular file'
rmdir "$state"

# The good file back: nothing is sent again.
cp "$WORK/good.state" "$state" && chmod 600 "$state"
run_watch w1
wait_log "$WORK/w1.err" '^sitx-send: watching ' 30 || fail "sitx-send --watch never ready"
gen_png "$watch/b.png" 40 30 92
wait_until 30 inbox_has 2 || fail "b.png not stored"
stop_watch w1
assert_inbox_count "$INBOX" 2
[ "$(grep -c ': stored peer=' "$RECV_LOG")" -eq 2 ] || fail "a.png was sent twice"
finish
