#!/usr/bin/env bash
# --on-receive runs the operator's command once per stored image with
# SITX_FILE, SITX_SIZE and SITX_SENDER in its environment; a command that
# fails is logged but does not change the receipt.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_jpeg "$src/hooked.jpg" 160 120 85 161
gen_png "$src/hook-fails.png" 60 40 162

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"

cat >"$WORK/hook.sh" <<HOOK
#!/bin/sh
{
    printf 'SITX_FILE=%s\n' "\$SITX_FILE"
    printf 'SITX_SIZE=%s\n' "\$SITX_SIZE"
    printf 'SITX_SENDER=%s\n' "\$SITX_SENDER"
} >"$WORK/hook.tmp" && mv "$WORK/hook.tmp" "$WORK/hook.env"
HOOK
chmod +x "$WORK/hook.sh"

start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --on-receive "$WORK/hook.sh"
send --key "$WORK/alice.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" "$src/hooked.jpg"
assert_rc 0 "send with a hook"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" hooked
wait_until 20 test -s "$WORK/hook.env" || fail "the --on-receive command did not run within 20 s"
E2E_LOGS+=("$WORK/hook.env")
hook_file=$(sed -n 's/^SITX_FILE=//p' "$WORK/hook.env")
hook_size=$(sed -n 's/^SITX_SIZE=//p' "$WORK/hook.env")
hook_sender=$(sed -n 's/^SITX_SENDER=//p' "$WORK/hook.env")
case "$hook_file" in
/*) [ "$hook_file" -ef "$STORED" ] || fail "SITX_FILE=$hook_file is not the stored $STORED" ;;
*) [ "$hook_file" = "$(basename "$STORED")" ] || [ "$INBOX/$hook_file" -ef "$STORED" ] ||
       fail "SITX_FILE=$hook_file is not the stored $(basename "$STORED")" ;;
esac
[ "$hook_size" = "$(file_size "$STORED")" ] ||
    fail "SITX_SIZE=$hook_size, the stored file has $(file_size "$STORED") bytes"
printf '%s\n' "$hook_sender" | grep -qE 'alice|[0-9a-f]{16}' ||
    fail "SITX_SENDER='$hook_sender' names neither the peer (alice) nor its fingerprint"
stop_recv

# A failing hook: the image is stored and the sender told so all the same.
printf '#!/bin/sh\necho "hook going wrong" >&2\nexit 3\n' >"$WORK/bad-hook.sh"
chmod +x "$WORK/bad-hook.sh"
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --on-receive "$WORK/bad-hook.sh"
send --key "$WORK/alice.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" \
    "$src/hook-fails.png"
assert_rc 0 "send with a failing hook"
assert_inbox_count "$INBOX" 2
stored_for "$INBOX" hook-fails
assert_same_pixels "$src/hook-fails.png" "$STORED"
wait_log "$RECV_LOG" '(hook|receive|command).*(fail|exit|status)|(fail|exit|status).*(hook|receive|command)' 20 ||
    fail "the receiver did not log the failing --on-receive command"

finish
