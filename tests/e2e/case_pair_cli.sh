#!/usr/bin/env bash
# The key and pairing commands' edges: --print-public agrees with --gen-key
# on both programs and refuses a missing or readable-by-others key;
# --list-senders reports a bad file by line; every wrong combination of the
# pairing options is a usage error (2) with a message; a control socket
# that cannot be reached is exit 1; a --control path that is not a socket
# stops the receiver from starting; a sender whose pin names another key
# for the receiver stops before its handshake ends (4), and nothing is
# written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pair_lib.sh"

# run NAME WANT PROG ARGS...: runs a command expected to exit WANT.
run() {
    local name=$1 want=$2 rc
    shift 2
    timeout 20 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
    rc=$?
    E2E_LOGS+=("$WORK/$name.out" "$WORK/$name.err")
    [ "$rc" -eq "$want" ] || fail "$name: exit $rc, want $want: $(cat "$WORK/$name.err")"
}

for prog in "$SITX_SEND" "$SITX_RECV"; do
    p=$(basename "$prog")
    genkey "$prog" "$WORK/$p.key"
    gen_fp=$("$prog" --gen-key "$WORK/$p.key2" | sed -n 's/^fingerprint: //p')
    run "$p-print" 0 "$prog" --print-public "$WORK/$p.key"
    [ "$(head -n 1 "$WORK/$p-print.out")" = "$PUBKEY" ] || fail "$p --print-public: another key"
    run "$p-print2" 0 "$prog" --print-public "$WORK/$p.key2"
    grep -qx "fingerprint: $gen_fp" "$WORK/$p-print2.out" || fail "$p --print-public: fingerprint"
    chmod 644 "$WORK/$p.key"
    [ "$p" = sitx-send ] && want=3 || want=1
    run "$p-print-perms" $want "$prog" --print-public "$WORK/$p.key"
    assert_grep 'chmod 600' "$WORK/$p-print-perms.err" "$p: a readable key is refused"
    run "$p-print-missing" $want "$prog" --print-public "$WORK/nope.key"
    assert_grep 'nope.key' "$WORK/$p-print-missing.err" "$p: the missing file is named"
    run "$p-print-extra" 2 "$prog" --print-public "$WORK/$p.key2" --verbose
done

# --list-senders
printf '# none yet\n' >"$WORK/empty"
run list-empty 0 "$SITX_RECV" --list-senders --authorized "$WORK/empty"
[ ! -s "$WORK/list-empty.out" ] || fail "--list-senders of an empty file printed something"
printf '%s\nnot-a-key x\n' "$PUBKEY" >"$WORK/bad"
run list-bad 1 "$SITX_RECV" --list-senders --authorized "$WORK/bad"
assert_grep 'line 2' "$WORK/list-bad.err" "--list-senders names the bad line"
run list-missing 1 "$SITX_RECV" --list-senders --authorized "$WORK/none"
run list-alone 2 "$SITX_RECV" --list-senders

# Usage errors.
run pw-no-control 2 "$SITX_RECV" --pair-window 1m --pair-code 123456
assert_grep 'control' "$WORK/pw-no-control.err" "--pair-window needs --control"
run pw-bad-code 2 "$SITX_RECV" --pair-window 1m --control "$CTL" --pair-code 12x456
assert_grep 'six digits' "$WORK/pw-bad-code.err" "a bad --pair-code"
run pw-no-tty 2 "$SITX_RECV" --pair-window 1m --control "$CTL"
assert_grep 'terminal' "$WORK/pw-no-tty.err" "no terminal and no --pair-code"
run pw-long 2 "$SITX_RECV" --pair-window 61m --control "$CTL" --pair-code -
run pw-code-alone 2 "$SITX_RECV" --pair-code 123456
run pw-with-inbox 2 "$SITX_RECV" --pair-window 1m --control "$CTL" --pair-code - --inbox "$WORK"
mkpass "$WORK/pw"
run control-pw-mode 2 "$SITX_RECV" --inbox "$WORK" --password-file "$WORK/pw" --control "$CTL"
assert_grep 'key mode' "$WORK/control-pw-mode.err" "--control needs key mode"
run pair-images 2 "$SITX_SEND" --pair 127.0.0.1:1 --pair-code 123456 a.png
run pair-no-tty 2 "$SITX_SEND" --pair 127.0.0.1:1
assert_grep 'terminal' "$WORK/pair-no-tty.err" "no terminal and no --pair-code"
run pair-bad-code 2 "$SITX_SEND" --pair 127.0.0.1:1 --pair-code 1234567
run pair-password 2 "$SITX_SEND" --pair 127.0.0.1:1 --pair-code 123456 --password-file "$WORK/pw"
run name-alone 2 "$SITX_SEND" --name x 127.0.0.1:1 a.png
run pair-bad-host 2 "$SITX_SEND" --pair '[::1' --pair-code 123456
run pw-no-daemon 1 "$SITX_RECV" --pair-window 1m --control "$WORK/no-such.sock" --pair-code 123456
assert_grep 'cannot reach' "$WORK/pw-no-daemon.err" "no daemon behind the socket"
[ ! -e "$KNOWN" ] && [ ! -e "$SENDER_KEY" ] || fail "a usage error wrote a file"

# A --control path that is not a socket: the receiver does not start.
mkdir -p "$WORK/inbox0"
: >"$WORK/not-a-socket"
run control-file 1 "$SITX_RECV" --listen 127.0.0.1:0 --inbox "$WORK/inbox0" \
    --key "$WORK/sitx-recv.key2" --authorized "$WORK/empty" --control "$WORK/not-a-socket"
assert_grep 'control-failed' "$WORK/control-file.err" "the receiver says why"
[ -f "$WORK/not-a-socket" ] || fail "the receiver removed a file that was not its socket"

# A sender that pins another key for this receiver stops before message 3.
other_key=$(head -n 1 "$WORK/sitx-send-print.out")
start_pair_recv
[ "$other_key" != "$RECV_PUB" ] || fail "two keys alike"
mkdir -p "$(dirname "$KNOWN")"
printf '127.0.0.1:%s %s\n' "$RECV_PORT" "$other_key" >"$KNOWN"
known_before=$(cat "$KNOWN")
authz_before=$(cat "$AUTHZ")
start_operator op 30s
send --pair "127.0.0.1:$RECV_PORT" --pair-code 123456
assert_rc 4 "pairing with a receiver pinned under another key"
assert_grep 'pins another key' "$SEND_ERR" "says which file pins what"
assert_grep 'pair-attempt-ended' "$RECV_LOG" "the receiver saw the sender leave in the handshake"
assert_no_grep 'pair-code ' "$RECV_LOG" "no code was shown"
[ "$(cat "$KNOWN")" = "$known_before" ] || fail "the pin changed"
[ "$(cat "$AUTHZ")" = "$authz_before" ] || fail "the authorised senders changed"
kill -TERM "$OP_PID" 2>/dev/null
wait_done "$OP_PID" "operator"
finish
