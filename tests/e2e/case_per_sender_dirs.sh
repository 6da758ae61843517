#!/usr/bin/env bash
# sitx-recv --per-sender-dirs: key mode stores under INBOX/<the sender's name
# in the authorised-senders file>/ (made one safe directory, the fingerprint
# when nothing is left of it or there is none), password mode under
# INBOX/password/; a name that another entry shares, that is "password" or
# spelt like a fingerprint gives the fingerprint too, so no sender writes
# into another's directory; a folder sent with -r keeps its tree below; the dedup
# index still answers ALREADY_STORED; the web page lists and serves the
# images by their relative names, and refuses names that leave the inbox.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_curl

src=$WORK/src/photos
INBOX=$WORK/inbox
mkdir -p "$src/sub" "$INBOX"
gen_png "$src/a.png" 40 30 401
gen_jpeg "$src/sub/b.jpg" 64 48 80 402

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
for who in alice bob carol dave erin frank gina hank; do
    genkey "$SITX_SEND" "$WORK/$who.key"
    eval "${who}_pub=\$PUBKEY"
done
fingerprint() {
    "$SITX_SEND" --print-public "$WORK/$1.key" | sed -n 's/^fingerprint: //p'
}
# bob's name would climb out of the inbox, dave's is nothing but dots, carol
# has none; erin and frank share one (as a paired sender may pick a name
# already taken), gina is called password, hank is called carol's
# fingerprint.
{
    printf '%s alice\n' "$alice_pub"
    printf '%s ../../Bob/scans\n' "$bob_pub"
    printf '%s\n' "$carol_pub"
    printf '%s ...\n' "$dave_pub"
    printf '%s twin\n' "$erin_pub"
    printf '%s twin\n' "$frank_pub"
    printf '%s password\n' "$gina_pub"
    printf '%s %s\n' "$hank_pub" "$(fingerprint carol)"
} >"$WORK/authorized"
as() {
    local who=$1
    shift
    send --key "$WORK/$who.key" --receiver-key "$recv_pub" --compress none "$@"
}

start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --per-sender-dirs --http 127.0.0.1:0
http_port

as alice -r "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "alice sends the tree"
assert_grep "^$src/a.png: stored as alice/a.png " "$SEND_OUT" "RESULT names alice's directory"
assert_grep "^$src/sub/b.jpg: stored as alice/sub/b.jpg " "$SEND_OUT" "and the tree below it"
assert_same_bytes "$src/a.png" "$INBOX/alice/a.png"
assert_same_bytes "$src/sub/b.jpg" "$INBOX/alice/sub/b.jpg"
assert_same_pixels "$src/sub/b.jpg" "$INBOX/alice/sub/b.jpg"

as bob -r "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "bob sends the same tree"
assert_same_bytes "$src/a.png" "$INBOX/_.._Bob_scans/a.png"
assert_same_bytes "$src/sub/b.jpg" "$INBOX/_.._Bob_scans/sub/b.jpg"

carol_fp=$(fingerprint carol)
dave_fp=$(fingerprint dave)
[ -n "$carol_fp" ] && [ -n "$dave_fp" ] || fail "no fingerprints printed"
as carol "127.0.0.1:$RECV_PORT" "$src/a.png"
assert_rc 0 "carol, no name"
assert_grep "stored as $carol_fp/a.png " "$SEND_OUT" "a sender without a name: its fingerprint"
assert_same_bytes "$src/a.png" "$INBOX/$carol_fp/a.png"
as dave "127.0.0.1:$RECV_PORT" "$src/a.png"
assert_rc 0 "dave, a name of dots"
assert_same_bytes "$src/a.png" "$INBOX/$dave_fp/a.png"
others=""
for who in erin frank gina hank; do
    fp=$(fingerprint $who)
    as $who "127.0.0.1:$RECV_PORT" "$src/a.png"
    assert_rc 0 "$who, a name that is not its own alone"
    assert_grep "stored as $fp/a.png " "$SEND_OUT" "$who goes under its fingerprint"
    assert_same_bytes "$src/a.png" "$INBOX/$fp/a.png"
    others="$others $fp $fp/a.png"
done

# Already stored: found in the index under its directory.
as alice -r "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "alice again"
assert_grep "^$src/sub/b.jpg: already stored as alice/sub/b.jpg$" "$SEND_OUT" "already stored"
assert_grep "^sitx-send: 0 stored, 2 already stored, " "$SEND_OUT" "the summary"

got=$(cd "$INBOX" && find . ! -name '.*' | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')
want="_.._Bob_scans _.._Bob_scans/a.png _.._Bob_scans/sub _.._Bob_scans/sub/b.jpg $carol_fp $carol_fp/a.png $dave_fp $dave_fp/a.png alice alice/a.png alice/sub alice/sub/b.jpg $others "
want=$(printf '%s\n' $want | LC_ALL=C sort | tr '\n' ' ')
[ "$got" = "$want" ] || fail "inbox: got '$got', want '$want'"
[ "$(ls -A "$WORK" | grep -cvE '^(inbox|src|authorized|.*\.key|recv\..*|send\..*|same-pixels.err|.*\.json.*|img.*)$')" -eq 0 ] ||
    fail "files beside the inbox: $(ls -A "$WORK")"

# The web side: relative names listed, served, thumbnailed; escapes refused.
http_get /api/v1/images "$WORK/images.json"
expect_code 200 "/api/v1/images"
python3 - "$WORK/images.json" <<'PY' || fail "listing: $(cat "$WORK/images.json")"
import json, sys
names = sorted(i["name"] for i in json.load(open(sys.argv[1]))["images"])
assert "alice/sub/b.jpg" in names and "_.._Bob_scans/a.png" in names, names
assert not any(n.startswith(".") or "/." in n for n in names), names
PY
http_get "/api/v1/images/alice%2Fsub%2Fb.jpg" "$WORK/img-b"
expect_code 200 "an image in a subdirectory"
assert_same_bytes "$src/sub/b.jpg" "$WORK/img-b"
http_get "/api/v1/thumbs/alice%2Fsub%2Fb.jpg" "$WORK/img-thumb"
expect_code 200 "its thumbnail"
assert_grep '^Content-Type: image/jpeg' "$WORK/img-thumb.hdr" "the thumbnail is a JPEG"
for bad in "alice%2F..%2F..%2Fauthorized" "alice/../../authorized" "%2Fetc%2Fpasswd" \
    "alice%2F%2Fa.png" "alice%2F.sitx-index" "..%2Frecv.key"; do
    http_get "/api/v1/images/$bad" "$WORK/img-bad"
    expect_code 404 "/api/v1/images/$bad"
done
stop_recv

# Password mode: everyone under INBOX/password/.
PW=$WORK/password
mkpass "$PW"
start_recv --inbox "$INBOX" --password-file "$PW" --per-sender-dirs
send --password-file "$PW" -r "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "password mode"
assert_grep "stored as password/sub/b.jpg " "$SEND_OUT" "password mode's directory"
assert_same_bytes "$src/sub/b.jpg" "$INBOX/password/sub/b.jpg"
assert_same_pixels "$src/a.png" "$INBOX/password/a.png"

finish
