#!/usr/bin/env bash
# Pairing while no window is open is refused at once, and logged, while a
# normal transfer running at the same time is not disturbed. A receiver
# without --control refuses pairing too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair_lib.sh"

src=$WORK/src
mkdir "$src"
N=30
for i in $(seq $N); do
    gen_jpeg "$src/busy-$i.jpg" 1600 1200 92 $((80 + i))
done
# A long deadline: the batch is held still for a moment below.
start_pair_recv --deadline 60
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >>"$AUTHZ"
kill -HUP "$RECV_PID"
wait_log "$RECV_LOG" 'reloaded .*authorized=1' 10 || fail "the receiver did not reload"
authz_before=$(cat "$AUTHZ")

# The batch is stopped (SIGSTOP) as soon as it has authenticated, so the
# pairing attempts certainly run while its connection is open and an image
# is in flight, however fast this machine moves the images; it then goes on.
send_bg batch --key "$WORK/alice.key" --receiver-key "$RECV_PUB" \
    "127.0.0.1:$RECV_PORT" "$src"/busy-*.jpg
batch=$BG_PID
wait_log "$RECV_LOG" 'authenticated .*name=alice' 20 || fail "the transfer did not start"
pkill -STOP -P "$batch" 2>/dev/null # sitx-send itself, under timeout(1)
kill -STOP "$batch" 2>/dev/null
held=$(inbox_files "$INBOX" | wc -l)
[ "$held" -lt "$N" ] || fail "the batch ended before it could be held ($held of $N stored)"
note "batch held with $held of $N images stored"
attempts=0
for attempts in 1 2 3; do
    send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456 --name "intruder-$attempts"
    assert_rc 7 "pairing attempt $attempts while the window is shut"
    assert_grep 'refused pairing' "$SEND_ERR" "refusal message"
done
kill -CONT "$batch" 2>/dev/null
pkill -CONT -P "$batch" 2>/dev/null
wait_send batch "$batch"
assert_rc 0 "the transfer that ran during the refused pairings"
assert_inbox_count "$INBOX" $N
for i in $(seq $N); do
    stored_for "$INBOX" "busy-$i"
    assert_same_pixels "$src/busy-$i.jpg" "$STORED"
done
[ "$(grep -c 'pair-refused .*reason=window-shut' "$RECV_LOG")" -eq "$attempts" ] ||
    fail "want $attempts logged refusals"
[ "$(cat "$AUTHZ")" = "$authz_before" ] || fail "a refused pairing changed the authorised senders"
[ ! -e "$KNOWN" ] || fail "a refused pairing pinned a key"
stop_recv TERM

# Without --control there is no window at all.
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$AUTHZ"
send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456
assert_rc 7 "pairing with a receiver that has no control socket"
assert_grep 'pair-refused' "$RECV_LOG" "refusal logged"
# A receiver in password mode cannot pair: key mode only.
stop_recv TERM
start_pw_recv
send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456
assert_rc 7 "pairing with a password-mode receiver"
assert_grep 'password mode' "$SEND_ERR" "says why"
finish
