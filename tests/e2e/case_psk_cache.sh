#!/usr/bin/env bash
# The password key cache: the first sitx-send derives the key with Argon2id,
# the next ones to the same receiver take it from the cache; a receiver
# restart (new salt) or an edited password file derives again; a cache file
# others can read, a symbolic link or a tampered key never fails a send;
# --no-psk-cache derives every time.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
for i in $(seq 1 16); do
    gen_png "$src/pc-$i.png" 64 48 $((700 + i))
done
CACHE=$XDG_STATE_HOME/sitx/psk-cache
n=0

DERIVED='password: derived the key \(Argon2id ops [0-9]+, [0-9]+ MiB\) in [0-9]+ ms'
CACHED='password: key taken from the cache \(salt unchanged\)'

# send_one WHAT ARGS...: sends the next image with --verbose, checks that it
# is stored with the same pixels, and that the key came the way WHAT says.
send_one() {
    local what=$1
    shift
    n=$((n + 1))
    send --verbose --password-file "$PW" "$@" "127.0.0.1:$RECV_PORT" "$src/pc-$n.png"
    assert_rc 0 "send $n ($what)"
    stored_for "$INBOX" "pc-$n"
    assert_same_pixels "$src/pc-$n.png" "$STORED"
    case $what in
    derived)
        assert_grep "$DERIVED" "$SEND_ERR" "send $n derives the key"
        assert_no_grep "$CACHED" "$SEND_ERR" "send $n takes nothing from the cache"
        ;;
    rederived)
        assert_grep "$CACHED" "$SEND_ERR" "send $n tries the key from the cache"
        assert_grep "$DERIVED" "$SEND_ERR" "send $n derives the key after all"
        [ "$(grep -c 'derived the key' "$SEND_ERR")" -eq 1 ] || fail "send $n derived more than once"
        ;;
    cached)
        assert_grep "$CACHED" "$SEND_ERR" "send $n takes the key from the cache"
        assert_no_grep 'derived the key' "$SEND_ERR" "send $n runs no Argon2id"
        ;;
    esac
}

mode_of() {
    stat -c %a "$1"
}

start_pw_recv

send_one derived
[ -f "$CACHE" ] || fail "no key cache at $CACHE after a derivation"
[ "$(mode_of "$CACHE")" = 600 ] || fail "key cache mode $(mode_of "$CACHE"), want 600"
[ "$(mode_of "$XDG_STATE_HOME/sitx")" = 700 ] || fail "state directory is not mode 700"
if grep -qF "$(cat "$PW")" "$CACHE"; then
    fail "the key cache holds the passphrase"
fi
send_one cached
send_one cached

# --no-psk-cache: Argon2id on every run, the cache left alone.
cp "$CACHE" "$WORK/cache.before"
send_one derived --no-psk-cache
send_one derived --no-psk-cache
assert_same_bytes "$WORK/cache.before" "$CACHE"

# The same passphrase written again: another file as far as the cache knows.
pwtext=$(cat "$PW")
printf '%s\n' "$pwtext" >"$PW"
send_one derived
send_one cached

# A flipped byte in the cached key: refused by the receiver, derived once
# more, sent all the same; the entry is repaired for the next run.
python3 - "$CACHE" <<'PY' || fail "cannot tamper with the cache"
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
f = lines[1].split(" ")
f[-1] = ("0" if f[-1][0] != "0" else "1") + f[-1][1:]
lines[1] = " ".join(f)
with open(p, "r+") as fh:
    fh.write("\n".join(lines))
PY
send_one rederived
assert_grep 'refused the (cached key|key from the key cache)' "$SEND_ERR" "says the cached key was refused"
assert_no_grep 'authentication failed' "$SEND_ERR" "no authentication failure reported"
send_one cached

# Others may read it: a warning, a derivation, and a cache of our own again.
chmod 640 "$CACHE"
send_one derived
assert_grep 'key cache ignored.*(group or others|0640)' "$SEND_ERR" "warns about the open cache"
[ "$(mode_of "$CACHE")" = 600 ] || fail "the open cache was not replaced by a 0600 one"
send_one cached

# A symbolic link is never followed, neither read nor written through.
echo 'not a cache' >"$WORK/elsewhere"
chmod 600 "$WORK/elsewhere"
rm "$CACHE"
ln -s "$WORK/elsewhere" "$CACHE"
send_one derived
assert_grep 'key cache ignored.*symbolic link' "$SEND_ERR" "warns about the symbolic link"
[ "$(cat "$WORK/elsewhere")" = 'not a cache' ] || fail "written through the symbolic link"
[ -f "$CACHE" ] && [ ! -L "$CACHE" ] || fail "the link was not replaced by a cache file"

# A malformed file: a warning, never a failed send.
echo 'sitx-psk-cache 1' >"$CACHE.new"
printf 'garbage' >>"$CACHE.new"
chmod 600 "$CACHE.new"
mv "$CACHE.new" "$CACHE"
send_one derived
assert_grep 'key cache ignored.*truncated' "$SEND_ERR" "warns about the malformed cache"

# A receiver restart draws a new salt: the cached key no longer applies.
stop_recv TERM
start_pw_recv
send_one derived
send_one cached

finish
