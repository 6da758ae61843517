#!/usr/bin/env bash
# What a first-time user tries: --help (exit 0, lists the options),
# --version, and usage errors (exit 2 with a message on stderr).
. "$(dirname "$0")/lib.sh"

out=$WORK/help.out
err=$WORK/help.err
E2E_LOGS+=("$out" "$err")

timeout 10 "$SITX_RECV" --help >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 0 ] || fail "sitx-recv --help exited $rc"
for opt in --listen --inbox --password-file --key --authorized --deadline --max-size \
    --max-pixels --max-connections --min-free --on-receive --log-format --gen-key; do
    grep -qe "$opt" "$out" || fail "sitx-recv --help does not mention $opt"
done

timeout 10 "$SITX_SEND" --help >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 0 ] || fail "sitx-send --help exited $rc"
for opt in --password-file --key --receiver-key --compress --strip-metadata --retries \
    --timeout --json --quiet --gen-key; do
    grep -qe "$opt" "$out" || fail "sitx-send --help does not mention $opt"
done
grep -qi 'exit' "$out" || fail "sitx-send --help does not describe its exit codes"

for prog in "$SITX_RECV" "$SITX_SEND"; do
    timeout 10 "$prog" --version >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 0 ] || fail "$(basename "$prog") --version exited $rc"
    grep -qE '[0-9]+\.[0-9]+\.[0-9]+' "$out" || fail "$(basename "$prog") --version prints no version"
done

# Usage errors: exit 2, a message on stderr, nothing on stdout.
timeout 10 "$SITX_SEND" --no-such-option >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 2 ] || fail "sitx-send --no-such-option exited $rc, want 2"
[ -s "$err" ] || fail "sitx-send --no-such-option printed nothing on stderr"
gen_png "$WORK/u.png" 8 8 181
mkpass "$WORK/pw"
timeout 10 "$SITX_SEND" --password-file "$WORK/pw" >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 2 ] || fail "sitx-send without a receiver exited $rc, want 2"
timeout 10 "$SITX_SEND" --password-file "$WORK/pw" --compress sideways 127.0.0.1:9 "$WORK/u.png" \
    >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 2 ] || fail "sitx-send --compress sideways exited $rc, want 2"
grep -q sideways "$err" || fail "the --compress error does not quote the bad value"
timeout 10 "$SITX_RECV" --listen 127.0.0.1:0 >"$out" 2>"$err"
rc=$?
[ "$rc" -ne 0 ] || fail "sitx-recv without --inbox exited 0"
[ -s "$err" ] || fail "sitx-recv without --inbox printed nothing on stderr"

# The proxy options: each needs the other, and a bad range is quoted.
mkdir -p "$WORK/inbox"
recv_usage() { # WANT_RE ARGS...
    local want=$1
    shift
    timeout 10 "$SITX_RECV" --listen 127.0.0.1:0 --inbox "$WORK/inbox" --password-file "$WORK/pw" \
        "$@" >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "sitx-recv $* exited $rc, want 2"
    [ ! -s "$out" ] || fail "sitx-recv $* printed on stdout: $(cat "$out")"
    grep -qE -- "$want" "$err" || fail "sitx-recv $*: stderr lacks /$want/: $(cat "$err")"
}
recv_usage '--proxy-protocol needs --proxy-trusted' --proxy-protocol
recv_usage '--proxy-trusted is only used with --proxy-protocol' --proxy-trusted 127.0.0.1
recv_usage "--proxy-trusted: \`10\.1\.2\.3/8': address has bits set past the prefix length" \
    --proxy-protocol --proxy-trusted 127.0.0.1,10.1.2.3/8
recv_usage "--proxy-trusted: \`proxy\.lan': not an IPv4 or IPv6 address" \
    --proxy-protocol --proxy-trusted proxy.lan
recv_usage "--proxy-trusted: \`127\.0\.0\.1,': empty entry" --proxy-protocol --proxy-trusted 127.0.0.1,

pass
