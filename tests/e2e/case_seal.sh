#!/usr/bin/env bash
# Sealed files with the real programs: sitx-send --seal writes one, sitx-recv
# --open checks, decrypts, validates and stores it. Round trips in the three
# modes on corpus PNG and JPEG files (--compress none: the same bytes;
# lossless: the same pixels), the ciphertext picture, and every failure a
# user can meet: each with its exit code and message, and DIR left empty.
. "$(dirname "$0")/lib.sh"
need_corpus

src=$WORK/src
mkdir "$src" || fail "cannot create $src"
cp "$SITX_CORPUS_DIR/png/pngsuite/basn2c08.png" "$src/suite.png" || fail "no corpus PNG"
cp "$SITX_CORPUS_DIR/jpeg/libjpeg-turbo/testorig.jpg" "$src/photo.jpg" || fail "no corpus JPEG"

genkey "$SITX_RECV" "$WORK/recv.key"
RECV_PUB=$PUBKEY
genkey "$SITX_RECV" "$WORK/other.key"
genkey "$SITX_SEND" "$WORK/send.key"
SEND_PUB=$PUBKEY
genkey "$SITX_SEND" "$WORK/stranger.key"
mkpass "$WORK/pw" "correct horse battery staple"
mkpass "$WORK/badpw" "incorrect horse"
printf '%s\n' "$RECV_PUB" >"$WORK/recv.pub"
printf '%s alice\n' "$SEND_PUB" >"$WORK/authorized"

# open_sealed FILE DIR ARGS...: sitx-recv --open under a timeout; sets
# OPEN_RC, OPEN_OUT, OPEN_ERR.
open_sealed() {
    local file=$1 dir=$2
    shift 2
    E2E_SEQ=$((E2E_SEQ + 1))
    OPEN_OUT="$WORK/open.$E2E_SEQ.out"
    OPEN_ERR="$WORK/open.$E2E_SEQ.err"
    E2E_LOGS+=("$OPEN_OUT" "$OPEN_ERR")
    mkdir -p "$dir" || fail "cannot create $dir"
    timeout -k 5 "$E2E_CLIENT_TIMEOUT" "$SITX_RECV" --open "$file" --out "$dir" "$@" \
        >"$OPEN_OUT" 2>"$OPEN_ERR" </dev/null
    OPEN_RC=$?
    note "sitx-recv --open ${file#"$WORK"/} $* -> exit $OPEN_RC"
    show '    out| ' "$OPEN_OUT"
    show '    err| ' "$OPEN_ERR"
    [ "$OPEN_RC" -ne 124 ] && [ "$OPEN_RC" -ne 137 ] || fail "sitx-recv --open did not finish"
    check_sanitizers "$OPEN_ERR"
}

# refused FILE WANT_RC REGEX WHAT ARGS...: --open fails with WANT_RC, says
# REGEX on stderr, prints nothing on stdout and leaves its DIR empty (no
# temporary file either).
refused() {
    local file=$1 want=$2 re=$3 what=$4 dir
    shift 4
    dir=$WORK/out-refused-$E2E_SEQ
    open_sealed "$file" "$dir" "$@"
    [ "$OPEN_RC" -eq "$want" ] || fail "$what: sitx-recv --open exited $OPEN_RC, want $want"
    assert_grep "$re" "$OPEN_ERR" "$what: the message"
    [ ! -s "$OPEN_OUT" ] || fail "$what: printed on stdout: $(cat "$OPEN_OUT")"
    [ -z "$(find "$dir" -mindepth 1)" ] || fail "$what: DIR is not empty: $(ls -A "$dir")"
}

# --- round trips ---------------------------------------------------------------

# Signed (X), --compress none: the very bytes come out, and the opener names
# the sender, by name when --authorized lists it.
for img in suite.png photo.jpg; do
    send --seal "$WORK/$img.x.sitx" --receiver-key "$WORK/recv.pub" --key "$WORK/send.key" \
        --compress none "$src/$img"
    assert_rc 0 "seal $img (signed)"
    assert_grep "sealed .*$img.* for receiver [0-9a-f]{16}, signed by [0-9a-f]{16}" "$SEND_OUT" \
        "the sealer says what it did"
    open_sealed "$WORK/$img.x.sitx" "$WORK/out-x-$img" --key "$WORK/recv.key"
    [ "$OPEN_RC" -eq 0 ] || fail "open $img (signed): exit $OPEN_RC"
    assert_same_bytes "$src/$img" "$WORK/out-x-$img/$img"
    fp=$(sed -n 's/.*signed by \([0-9a-f]\{16\}\).*/\1/p' "$SEND_OUT")
    assert_grep "stored .*$img.* sealed by $fp\$" "$OPEN_OUT" "the opener names the sender"
    open_sealed "$WORK/$img.x.sitx" "$WORK/out-xa-$img" --key "$WORK/recv.key" \
        --authorized "$WORK/authorized"
    [ "$OPEN_RC" -eq 0 ] || fail "open $img with --authorized: exit $OPEN_RC"
    assert_grep "sealed by $fp \(alice\)" "$OPEN_OUT" "the authorised sender's name"
    assert_same_bytes "$src/$img" "$WORK/out-xa-$img/$img"

    # lossless (the default): the same pixels.
    send --seal "$WORK/$img.xl.sitx" --receiver-key "$WORK/recv.pub" --key "$WORK/send.key" \
        "$src/$img"
    assert_rc 0 "seal $img (signed, lossless)"
    open_sealed "$WORK/$img.xl.sitx" "$WORK/out-xl-$img" --key "$WORK/recv.key"
    [ "$OPEN_RC" -eq 0 ] || fail "open $img (signed, lossless): exit $OPEN_RC"
    stored_for "$WORK/out-xl-$img" "${img%%.*}"
    assert_same_pixels "$src/$img" "$STORED"
done

# Anonymous (N), --compress none.
send --seal "$WORK/anon.sitx" --receiver-key "$RECV_PUB" --compress none "$src/photo.jpg"
assert_rc 0 "seal anonymously"
assert_grep "anonymous" "$SEND_OUT" "the sealer says anonymous"
open_sealed "$WORK/anon.sitx" "$WORK/out-anon" --key "$WORK/recv.key"
[ "$OPEN_RC" -eq 0 ] || fail "open anonymous: exit $OPEN_RC"
assert_grep "sealed by anonymous" "$OPEN_OUT" "the opener says anonymous"
assert_same_bytes "$src/photo.jpg" "$WORK/out-anon/photo.jpg"

# Password (Npsk0): none gives the same bytes, lossless the same pixels.
for img in suite.png photo.jpg; do
    send --seal "$WORK/$img.none.sitx" --password-file "$WORK/pw" --compress none "$src/$img"
    assert_rc 0 "seal $img (password, none)"
    open_sealed "$WORK/$img.none.sitx" "$WORK/out-pn-$img" --password-file "$WORK/pw"
    [ "$OPEN_RC" -eq 0 ] || fail "open $img (password, none): exit $OPEN_RC"
    assert_grep "sealed with the password" "$OPEN_OUT" "password mode named"
    assert_same_bytes "$src/$img" "$WORK/out-pn-$img/$img"

    send --seal "$WORK/$img.ll.sitx" --password-file "$WORK/pw" --compress lossless \
        --strip-metadata "$src/$img"
    assert_rc 0 "seal $img (password, lossless)"
    open_sealed "$WORK/$img.ll.sitx" "$WORK/out-pl-$img" --password-file "$WORK/pw"
    [ "$OPEN_RC" -eq 0 ] || fail "open $img (password, lossless): exit $OPEN_RC"
    stored_for "$WORK/out-pl-$img" "${img%%.*}"
    assert_same_pixels "$src/$img" "$STORED"
done

# The name and format are inside the encryption, and the length is a bucket:
# no trace of the name or of a PNG/JPEG signature, a length padmé allows.
for f in "$WORK/suite.png.x.sitx" "$WORK/photo.jpg.none.sitx"; do
    if LC_ALL=C grep -qaE 'suite|photo|PNG|JFIF|IHDR' "$f"; then
        fail "${f#"$WORK"/} shows the name or format in clear"
    fi
    python3 - "$f" <<'EOF' || fail "${f#"$WORK"/} is not padded to a bucket"
import os, sys
n = os.path.getsize(sys.argv[1])
e = n.bit_length() - 1
s = e.bit_length()
assert n >= 1024 and n % (1 << (e - s)) == 0, n
EOF
done

# --- the ciphertext picture --------------------------------------------------------

send --seal "$WORK/pic.sitx" --receiver-key "$RECV_PUB" --preview "$WORK/pic-preview.png" \
    "$src/photo.jpg"
assert_rc 0 "seal with --preview"
"$IMGTOOL" validate "$WORK/pic-preview.png" >/dev/null 2>&1 || fail "the preview is not a valid PNG"
info=$("$IMGTOOL" info "$WORK/pic-preview.png") || fail "sitx-imgtool info on the preview failed"
note "preview: $info"
python3 - "$WORK/pic.sitx" "$info" <<'EOF' || fail "the preview does not show the sealed bytes"
import os, re, sys
n = os.path.getsize(sys.argv[1])
w, h = map(int, re.search(r"(\d+)\s*x\s*(\d+)", sys.argv[2]).groups())
# Every sealed byte is a pixel channel; the source is 227x149, so wider than high.
assert w * h * 3 >= n > (w * h - w) * 3, (w, h, n)
assert w > h, (w, h)
EOF

# --- what is refused --------------------------------------------------------------

# An existing output is never overwritten.
cp "$WORK/anon.sitx" "$WORK/keep.sitx"
send --seal "$WORK/keep.sitx" --receiver-key "$RECV_PUB" "$src/photo.jpg"
assert_rc 3 "--seal onto an existing file"
assert_grep "exists.*not overwriting" "$SEND_ERR" "the message"
assert_same_bytes "$WORK/anon.sitx" "$WORK/keep.sitx"

refused "$WORK/photo.jpg.none.sitx" 4 "wrong password" "wrong password" \
    --password-file "$WORK/badpw"
cp "$WORK/photo.jpg.x.sitx" "$WORK/for-recv.sitx"
refused "$WORK/for-recv.sitx" 4 "not sealed for this key" "another receiver's key" \
    --key "$WORK/other.key"
# ... and it says nothing of the image: no name, format, size or sender.
assert_no_grep "photo|jpe?g|png|bytes|227|sealed by|[0-9a-f]{16}" "$OPEN_ERR" \
    "the wrong key learns nothing"
refused "$WORK/photo.jpg.x.sitx" 4 "sealed for a receiver key: give --key" "a password for a key file" \
    --password-file "$WORK/pw"

send --seal "$WORK/stranger.sitx" --receiver-key "$RECV_PUB" --key "$WORK/stranger.key" \
    "$src/suite.png"
assert_rc 0 "seal by a key not in the authorised list"
refused "$WORK/stranger.sitx" 4 "who is not in" "a sender not authorised" \
    --key "$WORK/recv.key" --authorized "$WORK/authorized"
refused "$WORK/anon.sitx" 4 "anonymously" "anonymous under --authorized" \
    --key "$WORK/recv.key" --authorized "$WORK/authorized"

size=$(file_size "$WORK/photo.jpg.x.sitx")
cp "$WORK/photo.jpg.x.sitx" "$WORK/flipped.sitx"
printf '\x5a' | dd of="$WORK/flipped.sitx" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$WORK/flipped.sitx" "$WORK/photo.jpg.x.sitx" && fail "the flip changed nothing"
refused "$WORK/flipped.sitx" 5 "damaged or was altered" "a flipped byte" --key "$WORK/recv.key"

head -c $((size - 100)) "$WORK/photo.jpg.x.sitx" >"$WORK/truncated.sitx"
refused "$WORK/truncated.sitx" 5 "truncated" "a truncated file" --key "$WORK/recv.key"

cp "$WORK/photo.jpg.x.sitx" "$WORK/appended.sitx"
printf '\n' >>"$WORK/appended.sitx"
refused "$WORK/appended.sitx" 5 "appended" "an appended byte" --key "$WORK/recv.key"

refused "$src/photo.jpg" 3 "not a sitx sealed file" "a JPEG, not a sealed file" \
    --key "$WORK/recv.key"
head -c 4000 /dev/urandom >"$WORK/noise.sitx"
refused "$WORK/noise.sitx" 3 "not a sitx sealed file" "random bytes" --password-file "$WORK/pw"

# An image that fails the opener's validation: over its pixel and size
# limits, and one whose pixel data is broken (CRCs intact, so the sender's
# structure check lets it through and only the full decode refuses it).
refused "$WORK/photo.jpg.x.sitx" 6 "fails validation" "over --max-pixels" \
    --key "$WORK/recv.key" --max-pixels 1000
refused "$WORK/photo.jpg.x.sitx" 6 "over the limit" "over --max-size" \
    --key "$WORK/recv.key" --max-size 1k
gen_png "$WORK/good.png" 64 48 7
python3 - "$WORK/good.png" "$src/broken.png" <<'EOF' || fail "cannot make the broken PNG"
import struct, sys, zlib
data = bytearray(open(sys.argv[1], "rb").read())
pos, out = 8, bytearray(data[:8])
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = bytearray(data[pos + 8:pos + 8 + n])
    if kind == b"IDAT":
        body = bytearray(zlib.compress(b"\x07" * 5000))  # filter type 7 does not exist
    out += struct.pack(">I4s", len(body), kind) + body
    out += struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    pos += 12 + n
open(sys.argv[2], "wb").write(out)
EOF
send --seal "$WORK/broken.sitx" --password-file "$WORK/pw" --compress none "$src/broken.png"
assert_rc 0 "the structure check passes the broken PNG"
refused "$WORK/broken.sitx" 6 "fails validation" "an image that does not decode" \
    --password-file "$WORK/pw"

# Opening twice into one DIR never overwrites: the second copy gets a new name.
open_sealed "$WORK/anon.sitx" "$WORK/out-twice" --key "$WORK/recv.key"
open_sealed "$WORK/anon.sitx" "$WORK/out-twice" --key "$WORK/recv.key"
[ "$OPEN_RC" -eq 0 ] || fail "second open into the same DIR: exit $OPEN_RC"
assert_inbox_count "$WORK/out-twice" 2
assert_no_tmp "$WORK/out-twice"

pass
