#!/usr/bin/env bash
# A wrong code on either side: neither file changes, the sender exits 7 and
# the operator's client 3, and the refusal is logged. Then a clean pairing
# in a new window still works (nothing was left half-done).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair_lib.sh"

start_pair_recv
authz_before=$(cat "$AUTHZ")

# 1. The sender is told a code that is not the receiver's.
start_operator op1 60s
start_pairing_sender ps1 "$RECV_PORT" --name wrong-at-sender
code_of "$WORK/ps1.out"
s=$CODE
code_of "$WORK/op1.out"
r=$CODE
tell_sender "$(other_code "$r")"
wait_done "$PS_PID" "sender with a wrong code"
[ "$DONE_RC" -eq 7 ] || fail "sitx-send --pair with a wrong code exited $DONE_RC, want 7"
assert_grep 'differs' "$WORK/ps1.err" "sender says the code differs"
tell_op "$s" # the operator's side was right; it must not matter
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 3 ] || fail "sitx-recv --pair-window exited $DONE_RC, want 3"
assert_grep 'not paired: result declined' "$WORK/op1.err" "operator told of the refusal"
assert_grep 'pair-declined .*by=sender' "$RECV_LOG" "receiver logs the sender's refusal"
[ "$(cat "$AUTHZ")" = "$authz_before" ] || fail "the authorised senders changed"
[ ! -e "$KNOWN" ] || fail "the sender wrote $KNOWN"
exec 7>&- 8>&-

# 2. The operator is told a code that is not the sender's.
start_operator op2 60s
start_pairing_sender ps2 "$RECV_PORT" --name wrong-at-receiver
code_of "$WORK/ps2.out"
s=$CODE
code_of "$WORK/op2.out"
r=$CODE
tell_sender "$r" # the sender's side is right and says yes first
wait_log "$WORK/ps2.out" 'waiting for the receiver' 10 || fail "the sender did not confirm"
tell_op "$(other_code "$s")"
wait_done "$OP_PID" "operator with a wrong code"
[ "$DONE_RC" -eq 3 ] || fail "sitx-recv --pair-window with a wrong code exited $DONE_RC, want 3"
wait_done "$PS_PID" "sender"
[ "$DONE_RC" -eq 7 ] || fail "sitx-send --pair exited $DONE_RC after the operator's no, want 7"
assert_grep 'not paired: the receiver said declined' "$WORK/ps2.err" "sender told of the refusal"
assert_grep 'pair-declined .*by=operator' "$RECV_LOG" "receiver logs the operator's refusal"
[ "$(cat "$AUTHZ")" = "$authz_before" ] || fail "the authorised senders changed"
[ ! -e "$KNOWN" ] || fail "the sender wrote $KNOWN"
exec 7>&- 8>&-

# 3. Matching codes in a fresh window: it pairs.
start_operator op3 60s
start_pairing_sender ps3 "$RECV_PORT" --name right
code_of "$WORK/ps3.out"
s=$CODE
code_of "$WORK/op3.out"
r=$CODE
tell_op "$s"
tell_sender "$r"
wait_done "$PS_PID" "sender"
[ "$DONE_RC" -eq 0 ] || fail "the pairing after two refusals exited $DONE_RC, want 0"
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 0 ] || fail "the operator after two refusals exited $DONE_RC, want 0"
[ "$(lines "$AUTHZ")" -eq $(($(printf '%s\n' "$authz_before" | wc -l) + 1)) ] ||
    fail "want one new authorised sender"
[ "$(lines "$KNOWN")" -eq 1 ] || fail "want one pinned receiver"
finish
