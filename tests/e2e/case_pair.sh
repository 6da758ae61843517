#!/usr/bin/env bash
# Pairing with matching codes: each side is told the code the other showed,
# both exit 0, the receiver's authorised senders and the sender's known
# receivers each gain exactly one line, and then an image goes through with
# no key option at all (the default key and pins in XDG_CONFIG_HOME). The
# window closed after that pairing: a second attempt is refused, with
# nothing written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair_lib.sh"

src=$WORK/src
mkdir "$src"
gen_jpeg "$src/paired.jpg" 160 120 85 71
start_pair_recv
authz_before=$(lines "$AUTHZ")

start_operator op 60s
start_pairing_sender ps "$RECV_PORT" --name "my laptop"
code_of "$WORK/ps.out"
sender_code=$CODE
code_of "$WORK/op.out"
recv_code=$CODE
[ "$sender_code" = "$recv_code" ] || fail "codes differ without a relay: $sender_code / $recv_code"
[ -f "$SENDER_KEY" ] || fail "no key was created at $SENDER_KEY"
[ "$(stat -c %a "$SENDER_KEY")" = 600 ] || fail "the new key is not mode 0600"
assert_grep 'created a new key' "$WORK/ps.err" "first use creates the key"
[ "$(lines "$KNOWN")" -eq 0 ] || fail "the sender pinned before anyone confirmed"
[ "$(lines "$AUTHZ")" -eq "$authz_before" ] || fail "the receiver wrote before anyone confirmed"

tell_op "$sender_code"
tell_sender "$recv_code"
wait_done "$PS_PID" "pairing sender"
[ "$DONE_RC" -eq 0 ] || fail "sitx-send --pair exited $DONE_RC, want 0"
wait_done "$OP_PID" "pairing operator"
[ "$DONE_RC" -eq 0 ] || fail "sitx-recv --pair-window exited $DONE_RC, want 0"
assert_grep 'paired with 127.0.0.1' "$WORK/ps.out" "sender reports the pairing"
assert_grep '^paired: ' "$WORK/op.out" "operator sees the pairing"

# Exactly one new line each, holding the right keys and the sanitised name.
[ "$(lines "$AUTHZ")" -eq $((authz_before + 1)) ] || fail "authorised senders: want one new line"
sender_pub=$("$SITX_SEND" --print-public "$SENDER_KEY" | head -n 1)
grep -qxF "$sender_pub my-laptop" "$AUTHZ" || fail "no '$sender_pub my-laptop' line in $AUTHZ"
[ "$(stat -c %a "$AUTHZ")" = 644 ] || fail "the authorised senders lost their mode 0644"
[ "$(lines "$KNOWN")" -eq 1 ] || fail "known receivers: want exactly one line"
grep -qxF "127.0.0.1:$RECV_PORT $RECV_PUB" "$KNOWN" || fail "the receiver's key is not pinned"
assert_grep "pair-code .*code=$recv_code" "$RECV_LOG" "the receiver logs the code"
assert_grep 'paired key=' "$RECV_LOG" "the receiver logs the pairing"

# --list-senders shows the new sender with its fingerprint.
fp=$("$SITX_SEND" --print-public "$SENDER_KEY" | sed -n 's/^fingerprint: //p')
"$SITX_RECV" --list-senders --authorized "$AUTHZ" >"$WORK/list.out" || fail "--list-senders failed"
awk -v fp="$fp" -v pub="$sender_pub" '$1 == fp && $2 == "my-laptop" && $3 == pub { ok = 1 }
    END { exit !ok }' "$WORK/list.out" || fail "--list-senders: $(cat "$WORK/list.out")"

# No key option: the default key and the pin do it.
send "127.0.0.1:$RECV_PORT" "$src/paired.jpg"
assert_rc 0 "an image after pairing, with no key option"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" paired
assert_same_pixels "$src/paired.jpg" "$STORED"

# The window closed after one pairing: another attempt is refused.
send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456
assert_rc 7 "pairing once the window closed"
assert_grep 'refused pairing' "$SEND_ERR" "refusal message"
assert_grep 'pair-refused .*reason=window-shut' "$RECV_LOG" "the receiver logs the refusal"
[ "$(lines "$AUTHZ")" -eq $((authz_before + 1)) ] || fail "a refused pairing wrote a line"
[ "$(lines "$KNOWN")" -eq 1 ] || fail "a refused pairing pinned a key"
finish
