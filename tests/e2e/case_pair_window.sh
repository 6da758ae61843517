#!/usr/bin/env bash
# The pairing window: it ends at its deadline (the operator's client exits
# 3, a pairing attempt afterwards is refused), a sender still waiting when
# it ends is told so, a second sender during a pairing is refused (one at a
# time), a second operator while one is attached is told "busy", and a
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

# 4. The receiver stops while a window is open: the operator is told, the
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
