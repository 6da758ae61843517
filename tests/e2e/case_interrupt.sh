#!/usr/bin/env bash
# Ctrl-C on sitx-send (docs/SENDING.md, "Stopping a run"): over a slow
# uplink, SIGINT while one of two large images streams (which one goes
# first is the thread pool's choice; the other waits for its END). No new
# OFFER; on version 2 the streaming image is withdrawn with CANCEL
# INTERRUPTED (the receiver logs "cancelled by sender", stores nothing of
# it and keeps its bytes out of sight for a resume); the image never
# offered is reported INTERRUPTED; the summary closes the run; exit 130.
# The small image stored before the signal is intact. A second SIGINT
# exits at once, 130. On version 1 the image in flight is finished instead.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_png "$src/first.png" 200 150 101
gen_png "$src/big1.png" 2600 2600 102 # about 12 MB of noise: 6 s at the relay's rate
gen_png "$src/big2.png" 2600 2600 103
gen_png "$src/mid.png" 1200 1000 104 # about 2 MB, for version 1

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized"

RELAY_OUT=$WORK/relay.out
E2E_LOGS+=("$RELAY_OUT")
python3 -u "$(dirname "$0")/slow_relay.py" "$RECV_PORT" 2000000 >"$RELAY_OUT" 2>&1 </dev/null &
E2E_PIDS+=($!)
wait_log "$RELAY_OUT" '^listening port=' 10 || fail "slow relay not listening"
RELAY_PORT=$(sed -n 's/^listening port=\([0-9]*\)$/\1/p' "$RELAY_OUT")

key_args=(--key "$WORK/alice.key" --receiver-key "$recv_pub" --compress none)

# No receiver temporary file (a partial kept for a resume is not one).
no_sitx_tmp() {
    [ -z "$(find "$1" -name '.sitx-tmp-*')" ]
}

# send_pid_of PID: sitx-send itself, the child of send_bg's timeout.
send_pid_of() {
    local pid _
    for _ in $(seq 100); do
        pid=$(pgrep -P "$1" | head -n 1)
        if [ -n "$pid" ]; then
            echo "$pid"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# Version 2: first stored, one big image withdrawn mid-stream, the other
# never offered (--in-order: else the big ones would start first).
send_bg v2 "${key_args[@]}" --verbose --in-order "127.0.0.1:$RELAY_PORT" \
    "$src/first.png" "$src/big1.png" "$src/big2.png"
bg=$BG_PID
pid=$(send_pid_of "$bg") || fail "no sitx-send process"
wait_log "$RECV_LOG" 'stored .*file=first\.png' 30 || fail "first.png was not stored"
wait_log "$WORK/v2.err" 'offer file=big' 30 || fail "no big image offered"
kill -INT "$pid"
wait_send v2 "$bg"
assert_rc 130 "interrupted run"
assert_grep 'first\.png: stored as first\.png' "$SEND_OUT" "the image before the signal"
streamed=$(sed -n 's/.*cancel file=\(big[12]\)\.png reason=INTERRUPTED.*/\1/p' "$SEND_ERR")
case $streamed in
big1) waited=big2 ;;
big2) waited=big1 ;;
*) fail "no CANCEL INTERRUPTED for one big image: '$streamed'" ;;
esac
assert_grep "$streamed\\.png: not sent: INTERRUPTED: withdrawn while it was being sent" \
    "$SEND_OUT" "the streaming image"
assert_grep "$waited\\.png: not sent: INTERRUPTED: the run was stopped before it was offered" \
    "$SEND_OUT" "the image never offered"
assert_grep '1 stored.*2 interrupted' "$SEND_OUT" "the summary"
assert_grep 'interrupted: no more offers' "$SEND_ERR" "the sender says it stops"
wait_log "$RECV_LOG" "cancelled .*file=$streamed\\.png .*cancelled by sender: interrupted" 10 ||
    fail "the receiver did not log the cancel"
assert_no_grep "file=$waited\\.png" "$RECV_LOG" "$waited.png must never be offered"
assert_no_grep 'INTEGRITY|stored .*file=big' "$RECV_LOG" "nothing of the big images stored"
wait_until 10 no_sitx_tmp "$INBOX" || fail "a temporary file stayed in the inbox"
[ -n "$(find "$INBOX/.sitx-partial" -type f 2>/dev/null)" ] ||
    fail "the interrupted image's bytes were not kept for a resume"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" first
assert_same_bytes "$src/first.png" "$STORED"

# A second SIGINT does not wait.
send_bg twice "${key_args[@]}" --verbose "127.0.0.1:$RELAY_PORT" "$src/$waited.png"
bg=$BG_PID
pid=$(send_pid_of "$bg") || fail "no sitx-send process"
wait_log "$WORK/twice.err" 'offer file=big' 30 || fail "no offer (twice)"
kill -INT "$pid"
wait_log "$WORK/twice.err" 'interrupted: no more offers' 10 || fail "first SIGINT not seen"
kill -INT "$pid"
wait_send twice "$bg"
assert_rc 130 "second SIGINT"
wait_until 30 no_sitx_tmp "$INBOX" || fail "a temporary file stayed after the second SIGINT"
assert_inbox_count "$INBOX" 1

# Version 1: no CANCEL, the image in flight is finished and stored.
n_cancel=$(grep -c 'cancelled by sender' "$RECV_LOG")
send_bg v1 "${key_args[@]}" --verbose --protocol 1 "127.0.0.1:$RELAY_PORT" "$src/mid.png"
bg=$BG_PID
pid=$(send_pid_of "$bg") || fail "no sitx-send process"
wait_log "$WORK/v1.err" 'offer file=mid' 30 || fail "mid.png never offered"
kill -INT "$pid"
wait_send v1 "$bg"
assert_rc 130 "interrupted version 1 run"
assert_grep 'mid\.png: stored as mid\.png' "$SEND_OUT" "version 1 finishes the image in flight"
assert_grep '1 stored' "$SEND_OUT" "version 1: the summary"
stored_for "$INBOX" mid
assert_same_bytes "$src/mid.png" "$STORED"
[ "$(grep -c 'cancelled by sender' "$RECV_LOG")" -eq "$n_cancel" ] || fail "a CANCEL on version 1"
assert_inbox_count "$INBOX" 2
finish
