#!/usr/bin/env bash
# The pairing window: it ends at its deadline (the operator's client exits
# 3, a pairing attempt afterwards is refused), a sender still waiting when
# it ends is told so, a second sender during a pairing is refused (one at a
# time), at most 3 handshakes per window, a second operator while one is attached is told "busy", and a
# receiver that stops closes its window and removes its socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair_lib.sh"

start_pair_recv
authz_before=$(cat "$AUTHZ")

# 1. A window nobody uses closes by itself; afterwards pairing is refused.
start_operator op1 1s
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 3 ] || fail "an unused window: the operator exited $DONE_RC, want 3"
assert_grep 'result timeout' "$WORK/op1.err" "the operator is told the window timed out"
assert_grep 'pair-window-closed result=timeout' "$RECV_LOG" "the receiver logs the timeout"
send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456
assert_rc 7 "pairing after the window timed out"
assert_grep 'refused pairing' "$SEND_ERR" "refusal message"
exec 7>&-

# 2. The window ends while the codes are shown and nobody answered.
start_operator op2 3s
start_pairing_sender ps2 "$RECV_PORT" --name slow
code_of "$WORK/ps2.out"
code_of "$WORK/op2.out"
# Neither side answers.
wait_done "$PS_PID" "sender"
[ "$DONE_RC" -eq 7 ] || fail "a sender whose window ended exited $DONE_RC, want 7"
assert_grep 'said timeout' "$WORK/ps2.err" "the sender is told the window closed"
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 3 ] || fail "the operator whose window ended exited $DONE_RC, want 3"
exec 7>&- 8>&-

# 3. One pairing at a time, and one operator at a time.
start_operator op3 60s
start_pairing_sender ps3 "$RECV_PORT" --name first
code_of "$WORK/op3.out"
send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456 --name second
assert_rc 7 "a second pairing while one is in progress"
assert_grep 'pair-refused .*reason=busy' "$RECV_LOG" "the receiver logs the busy refusal"
timeout 20 "$SITX_RECV" --pair-window 10s --control "$CTL" --pair-code 123456 \
    >"$WORK/op-second.out" 2>"$WORK/op-second.err" </dev/null
rc=$?
[ "$rc" -eq 3 ] || fail "a second operator exited $rc, want 3"
assert_grep 'busy' "$WORK/op-second.err" "the second operator is told busy"
tell_sender "no" # any line that is not the code declines
wait_done "$PS_PID" "sender"
[ "$DONE_RC" -eq 7 ] || fail "the declining sender exited $DONE_RC, want 7"
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 3 ] || fail "the operator of a declined pairing exited $DONE_RC, want 3"

exec 7>&- 8>&-

# 4. At most 3 handshakes per window. Senders that leave during the
# handshake (their pin names another key, so they stop after message 2)
# leave the window open, but the fourth attempt is refused.
"$SITX_SEND" --gen-key "$WORK/other.key" >"$WORK/other.pub" 2>/dev/null || fail "--gen-key"
mkdir -p "$(dirname "$KNOWN")"
printf '127.0.0.1:%s %s\n' "$RECV_PORT" "$(head -n 1 "$WORK/other.pub")" >"$KNOWN"
start_operator op5 60s
for n in 1 2 3; do
    send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456 --name "leaver-$n"
    assert_rc 4 "attempt $n, a sender that leaves in the handshake"
done
[ "$(grep -c 'pair-attempt-ended' "$RECV_LOG")" -eq 3 ] || fail "want three attempts that ended"
send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456 --name fourth
assert_rc 7 "a fourth attempt in one window"
assert_grep 'pair-refused .*reason=rate-limited' "$RECV_LOG" "the receiver logs the rate limit"
rm -f "$KNOWN"
closed_before=$(grep -c 'pair-window-closed' "$RECV_LOG")
kill -TERM "$OP_PID" 2>/dev/null
wait_done "$OP_PID" "operator"
closed_since() { [ "$(grep -c 'pair-window-closed' "$RECV_LOG")" -gt "$closed_before" ]; }
wait_until 10 closed_since ||
    fail "the window did not close when its operator left"
assert_grep "operator's pairing client went away" "$RECV_LOG" "says why it closed"
exec 7>&-

# 5. The receiver stops while a window is open: the operator is told, the
# receiver exits 0 and removes its socket.
start_operator op4 60s
stop_recv TERM
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 3 ] || fail "the operator of a stopping receiver exited $DONE_RC, want 3"
assert_grep 'stopping' "$WORK/op4.err" "the operator is told why"
[ ! -e "$CTL" ] || fail "the control socket was left behind"

[ "$(cat "$AUTHZ")" = "$authz_before" ] || fail "the authorised senders changed"
[ ! -e "$KNOWN" ] || fail "a pin was written"
finish
