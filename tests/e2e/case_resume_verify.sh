#!/usr/bin/env bash
# A partial is never trusted (PROTOCOL.md §7 rule 7): a file changed on the
# sender's disk starts from 0 and is stored as it is now; a partial that
# expired (--partial-ttl) is gone; one whose header was tampered with on
# the receiver's disk is refused by the validator and the image starts
# over (past the header the prefix hash catches it: case_resume_prefix.sh);
# each time the stored image is the sender's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/resume_lib.sh"

src=$WORK/src
mkdir "$src"

# cut FILE: sends FILE through a proxy that cuts the link at half; the
# receiver keeps a partial of it.
cut() {
    # Older partials may expire meanwhile: look for one written after this.
    touch "$WORK/cut.mark"
    start_proxy "$RECV_PORT" --mode truncate --after $(($(file_size "$1") / 2)) --direction up
    send --password-file "$PW" --compress none --retries 0 --json "127.0.0.1:$PROXY_PORT" "$1"
    assert_rc 5 "cut with no retry left"
    stop_proxy
    new_partial() {
        [ -n "$(find "$INBOX/.sitx-partial" -type f -newer "$WORK/cut.mark")" ]
    }
    wait_until 10 new_partial || fail "no partial kept after cutting $1"
}

# full FILE WHAT: sends FILE directly; it must be stored from offset 0.
full() {
    send --password-file "$PW" --compress none --json "127.0.0.1:$RECV_PORT" "$1"
    assert_rc 0 "$2"
    json_check "$SEND_OUT" "objs[0]['status'] == 'OK' and 'resumed_from' not in objs[0] and objs[0]['bytes_sent'] == $(file_size "$1")"
    stored_for "$INBOX" "$(basename "$1" .png)"
    assert_same_bytes "$1" "$STORED"
}

# The default TTL (24 h) for the cases that look at a kept partial: a short
# one could sweep it before a loaded machine gets to look.
start_pw_recv

# 1. The file changes between the attempts (same name and size): a clean
#    restart, never the old bytes stitched to the new ones.
gen_big_png "$src/changed.png" 8 10
cut "$src/changed.png"
gen_big_png "$src/changed.png" 8 11
full "$src/changed.png" "the changed file"
assert_no_grep "resume .*bytes=$(file_size "$src/changed.png")" "$RECV_LOG" "resumed a changed file"

# 2. The partial expires, and the next attempt is from 0.
gone() {
    ! has_partials "$INBOX"
}
#  a. Found expired when the receiver starts: its age is set back past
#     the TTL of the next start.
gen_big_png "$src/expired.png" 8 12
cut "$src/expired.png"
stop_recv TERM
for f in $(partials "$INBOX"); do touch -d '2 hours ago' "$f"; done
start_pw_recv --partial-ttl 1h
wait_until 10 gone || fail "a partial older than the TTL outlived the start: $(partials "$INBOX")"
assert_grep 'partials-expired count=[1-9]' "$RECV_LOG" "the start's sweep logged the expiry"
full "$src/expired.png" "after the partial expired at the start"
#  b. Swept while the receiver runs (every quarter of a short TTL). The
#     cut is not looked at: the log says a partial was swept.
stop_recv TERM
start_pw_recv --partial-ttl 3s
gen_big_png "$src/swept.png" 8 14
start_proxy "$RECV_PORT" --mode truncate --after $(($(file_size "$src/swept.png") / 2)) --direction up
send --password-file "$PW" --compress none --retries 0 --json "127.0.0.1:$PROXY_PORT" "$src/swept.png"
assert_rc 5 "cut with no retry left"
stop_proxy
swept() {
    grep -q 'partials-expired count=[1-9]' "$RECV_LOG" && gone
}
wait_until 30 swept || fail "the partial was not swept: $(partials "$INBOX")"
full "$src/swept.png" "after the partial was swept"

# Longer-lived partials for the tampering cases.
stop_recv TERM
start_recv --inbox "$INBOX" --password-file "$PW"

# 3. A byte of the PNG header flipped in the partial: the validator refuses
#    the re-read prefix, the receiver starts over from 0.
gen_big_png "$src/header.png" 8 13
cut "$src/header.png"
python3 - "$(partials "$INBOX")" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(12)
    b = f.read(1)
    f.seek(12)
    f.write(bytes([b[0] ^ 0x40]))
EOF
full "$src/header.png" "a partial with a broken header"
assert_grep 'resume-restart ' "$RECV_LOG" "the receiver saw the broken prefix"

# --partial-ttl 0 keeps none: a cut leaves nothing behind.
stop_recv TERM
start_recv --inbox "$INBOX" --password-file "$PW" --partial-ttl 0
gen_big_png "$src/none.png" 8 15
start_proxy "$RECV_PORT" --mode truncate --after 4000000 --direction up
send --password-file "$PW" --compress none --retries 0 --json "127.0.0.1:$PROXY_PORT" \
    "$src/none.png"
assert_rc 5 "cut with no retry left"
stop_proxy
full "$src/none.png" "with --partial-ttl 0"
[ -z "$(partials "$INBOX")" ] || fail "--partial-ttl 0 kept a partial"
finish
