#!/usr/bin/env bash
# A man in the middle (tests/support/pair_relay.c) runs its own handshake
# with each side and re-encrypts between them. The two sides show two
# different codes; told each other's, both refuse and nothing is written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair_lib.sh"

RELAY="$SITX_TOOLS_DIR/sitx-pair-relay"
[ -x "$RELAY" ] || fail "no $RELAY"
start_pair_recv
authz_before=$(cat "$AUTHZ")

E2E_LOGS+=("$WORK/relay.out" "$WORK/relay.err")
"$RELAY" "$RECV_PORT" >"$WORK/relay.out" 2>"$WORK/relay.err" </dev/null &
E2E_PIDS+=($!)
wait_log "$WORK/relay.out" '^listening port=' 10 || fail "the relay did not start"
relay_port=$(sed -n 's/^listening port=//p' "$WORK/relay.out")

start_operator op 60s
start_pairing_sender ps "$relay_port" --name victim
code_of "$WORK/ps.out"
s=$CODE
code_of "$WORK/op.out"
r=$CODE
wait_log "$WORK/relay.out" '^codes ' 10 || fail "the relay did not finish its handshakes"
[ "$s" != "$r" ] || fail "both sides show $s through a relay"
# What each side showed is what the relay's leg with it gives.
grep -qx "codes sender-leg=$s receiver-leg=$r" "$WORK/relay.out" ||
    fail "the relay's codes are not the ones shown: $(cat "$WORK/relay.out")"
# Neither side saw the other's key: each saw one of the relay's.
fp_real=$("$SITX_RECV" --print-public "$WORK/recv.key" | sed -n 's/^fingerprint: //p')
assert_no_grep "fingerprint $fp_real" "$WORK/ps.out" "the sender saw the real receiver's key"

# The people compare: each side is told the code the other one shows.
tell_sender "$r"
tell_op "$s"
wait_done "$PS_PID" "sender"
[ "$DONE_RC" -eq 7 ] || fail "sitx-send --pair through a relay exited $DONE_RC, want 7"
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 3 ] || fail "sitx-recv --pair-window through a relay exited $DONE_RC, want 3"
[ "$(cat "$AUTHZ")" = "$authz_before" ] || fail "the relay's key was authorised"
[ ! -e "$KNOWN" ] || fail "the sender pinned the relay's key"
assert_grep 'pair-declined' "$RECV_LOG" "receiver logs the refusal"
exec 7>&- 8>&-

# A pairing connection is not an authorised one: an OFFER on it ends the
# pairing, and nothing is stored.
"$RELAY" "$RECV_PORT" --offer >"$WORK/relay2.out" 2>"$WORK/relay2.err" </dev/null &
E2E_PIDS+=($!)
E2E_LOGS+=("$WORK/relay2.out" "$WORK/relay2.err")
wait_log "$WORK/relay2.out" '^listening port=' 10 || fail "the relay did not start"
relay_port=$(sed -n 's/^listening port=//p' "$WORK/relay2.out")
start_operator op2 60s
start_pairing_sender ps2 "$relay_port" --name smuggler
wait_log "$WORK/relay2.out" '^offer sent' 10 || fail "the relay sent no OFFER"
wait_done "$OP_PID" "operator"
[ "$DONE_RC" -eq 3 ] || fail "an OFFER on a pairing connection: the operator exited $DONE_RC, want 3"
assert_grep 'result failed' "$WORK/op2.err" "the operator is told the pairing failed"
assert_grep 'pair-failed .*type 0x01' "$RECV_LOG" "the receiver logs the OFFER it refused"
wait_done "$PS_PID" "sender"
[ "$DONE_RC" -eq 7 ] || fail "the sender behind the smuggling relay exited $DONE_RC, want 7"
assert_no_grep 'offer|accept|stored' "$RECV_LOG" "a transfer began on a pairing connection"
assert_inbox_count "$INBOX" 0
[ "$(cat "$AUTHZ")" = "$authz_before" ] || fail "the authorised senders changed"
[ ! -e "$KNOWN" ] || fail "the sender pinned a key"
finish
