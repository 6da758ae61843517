#!/usr/bin/env bash
# The receiver validates behind the wire: over one connection, the bytes of
# an image keep arriving (and the next image after them) while its
# validation still runs, or waits for validation memory. The receiver's
# verbose "ended" line says how many bytes were validated when the last
# one came in; before the validation had its own chain, the connection
# stopped reading until all but the last two 256 KiB chunks were
# validated, so that figure could not be lower.
#  - a batch whose first image is a large PNG: that PNG's bytes are all in
#    before its validation is, and every image is stored;
#  - a JPEG with damaged entropy data in the middle of a batch is refused
#    BAD_IMAGE, the images after it are stored, no temporary file is left;
#  - with little validation memory, an image that waits for memory held by
#    the image before it still receives all its bytes meanwhile, and it and
#    the image after it are stored.
. "$(dirname "$0")/lib.sh"

CHUNK=262144

src=$WORK/src
mkdir "$src"
gen_png "$src/big.png" 2400 2400 41
gen_png "$src/after1.png" 200 150 42
gen_jpeg "$src/after2.jpg" 640 480 85 43
gen_jpeg "$src/bad.jpg" 1024 768 85 44
gen_png "$src/last.png" 300 200 45
# Damage the entropy-coded data, keeping the markers: the sender's own
# structure check passes it, the receiver's full decode refuses it.
python3 - "$src/bad.jpg" <<'PY' || fail "cannot damage bad.jpg"
import random, sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
i = d.find(b'\xff\xda')
start = i + 2 + ((d[i + 2] << 8) | d[i + 3])
random.seed(9)
for k in range(start + 200, start + 1200):
    d[k] = random.randrange(0, 255)
open(p, 'wb').write(bytes(d))
PY
"$IMGTOOL" bomb arith "$src/arith.jpg" 2000 2000 >/dev/null || fail "sitx-imgtool bomb arith failed"
big_size=$(file_size "$src/big.png")
[ "$big_size" -gt $((8 * CHUNK)) ] || fail "big.png ($big_size bytes) is smaller than meant"

# ended_validated FILE NAME: the validated= figure of NAME's "ended" line.
ended_validated() {
    grep -E "ended .*file=$2 " "$1" | head -n 1 | sed -E 's/.* validated=([0-9]+).*/\1/'
}

# --- one batch, validation behind the wire ----------------------------------
# Three images, so sitx-send keeps to one connection (it opens a second for
# four or more).
start_pw_recv --verbose
send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" \
    "$src/big.png" "$src/bad.jpg" "$src/after1.png"
assert_rc 1 "a batch with one damaged JPEG"
assert_grep '^sitx-send: 2 stored, 0 already stored, 1 refused, ' "$SEND_OUT" "the summary"
assert_grep 'bad\.jpg.*BAD_IMAGE' "$SEND_OUT" "the damaged JPEG is refused BAD_IMAGE"
assert_grep 'refused .*file=bad.jpg status=BAD_IMAGE' "$RECV_LOG" "receiver log of the refusal"
[ "$(grep -c 'authenticated ' "$RECV_LOG")" -eq 1 ] || fail "the batch did not keep to one connection"
assert_inbox_count "$INBOX" 2
assert_no_tmp "$INBOX"
for f in big.png after1.png; do
    stored_for "$INBOX" "${f%.*}"
    assert_same_bytes "$src/$f" "$STORED"
done
v=$(ended_validated "$RECV_LOG" big.png)
[ -n "$v" ] || fail "no ended line for big.png"
note "big.png: $v of $big_size bytes validated when its last byte came in"
[ "$v" -le $((big_size - 2 * CHUNK)) ] ||
    fail "big.png was validated up to $v of $big_size bytes before its END was read"
# Then more: the connection goes on after the refusal.
send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" \
    "$src/after2.jpg" "$src/bad.jpg" "$src/last.png"
assert_rc 1 "a second batch with the damaged JPEG"
assert_grep '^sitx-send: 2 stored, 0 already stored, 1 refused, ' "$SEND_OUT" "the summary"
assert_inbox_count "$INBOX" 4
assert_no_tmp "$INBOX"
stop_recv

# --- a validation waiting for memory --------------------------------------------
# An arithmetic-coded JPEG reserves about 28 MiB from its header until its
# decode at the end (most of a second of CPU): with 40 MiB in all, the
# second of two waits for the first, and last.png after them for both.
INBOX=$WORK/inbox2
mkdir "$INBOX"
for i in 1 2; do
    { head -c 2 "$src/arith.jpg" && printf '\377\376\000\004%02d' "$i" &&
        tail -c +3 "$src/arith.jpg"; } >"$src/arith-$i.jpg" || fail "cannot write arith-$i.jpg"
done
start_recv --inbox "$INBOX" --password-file "$PW" --verbose --validation-memory 40M
send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" \
    "$src/arith-1.jpg" "$src/arith-2.jpg" "$src/last.png"
assert_rc 0 "a batch with a validation that waits for memory"
[ "$(grep -c 'authenticated ' "$RECV_LOG")" -eq 1 ] || fail "the batch did not keep to one connection"
assert_inbox_count "$INBOX" 3
for f in arith-1.jpg arith-2.jpg last.png; do
    stored_for "$INBOX" "${f%.*}"
    assert_same_bytes "$src/$f" "$STORED"
done
waiter=$(grep -m 1 -oE 'memory-wait .*file=arith-[12]\.jpg ' "$RECV_LOG" |
    sed -E 's/.*file=(arith-[12]\.jpg) /\1/')
[ -n "$waiter" ] || fail "neither arith JPEG waited for validation memory"
other=arith-1.jpg
[ "$waiter" = arith-1.jpg ] && other=arith-2.jpg
w_size=$(file_size "$src/$waiter")
v=$(ended_validated "$RECV_LOG" "$waiter")
[ -n "$v" ] || fail "no ended line for $waiter"
note "$waiter waited for memory; $v of $w_size bytes validated when its last byte came in"
[ "$v" -le $((w_size - 2 * CHUNK)) ] ||
    fail "$waiter was validated up to $v of $w_size bytes before its END was read"
# Its END was read while it waited, not once the other gave the memory back.
line_end=$(grep -nE "ended .*file=$waiter " "$RECV_LOG" | head -n 1 | cut -d: -f1)
line_other=$(grep -nE "stored .*file=$other " "$RECV_LOG" | head -n 1 | cut -d: -f1)
[ -n "$line_end" ] && [ -n "$line_other" ] && [ "$line_end" -lt "$line_other" ] ||
    fail "$waiter's END was read only after $other was stored (lines $line_end, $line_other)"

finish
