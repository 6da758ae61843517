#!/usr/bin/env bash
# --compress lossy[:Q] turns a PNG into a JPEG of the same size in pixels
# (and names it .jpg); --strip-metadata removes EXIF on the way while the
# pixels stay the same; without it EXIF arrives intact, whether the bytes
# are sent as they are or recompressed losslessly.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/to-lossy.png" 320 200 201
gen_jpeg "$src/plain.jpg" 240 160 90 202

# Copies of a JPEG with an EXIF block holding a marker string (one per send,
# so none is answered ALREADY_STORED).
python3 - "$src/plain.jpg" "$src/exif-keep.jpg" "$src/exif-strip.jpg" "$src/exif-lossless.jpg" \
    <<'PYEOF' ||
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:2] == b"\xff\xd8"
pos = 2
if data[2:4] == b"\xff\xe0":  # keep JFIF's APP0 first
    pos = 4 + struct.unpack(">H", data[4:6])[0]
for out, tag in ((sys.argv[2], b"keep"), (sys.argv[3], b"strip"), (sys.argv[4], b"lossless")):
    text = b"SITX-E2E-EXIF-MARKER-" + tag + b"\0"
    tiff = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHII", 0x010E, 2, len(text), 26) + struct.pack("<I", 0) + text
    payload = b"Exif\0\0" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    open(out, "wb").write(data[:pos] + app1 + data[pos:])
PYEOF
    fail "cannot build the EXIF test images"
"$IMGTOOL" validate "$src/exif-keep.jpg" >/dev/null || fail "the EXIF test image does not validate"

start_pw_recv

send --password-file "$PW" --compress lossy:70 "127.0.0.1:$RECV_PORT" "$src/to-lossy.png"
assert_rc 0 "--compress lossy:70"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" to-lossy
case "$STORED" in
*.jpg | *.jpeg) ;;
*) fail "a PNG sent as lossy JPEG is stored as $(basename "$STORED")" ;;
esac
info=$("$IMGTOOL" info "$STORED") || fail "sitx-imgtool info failed on $STORED"
[ "$info" = "JPEG 320x200" ] || fail "lossy result is '$info', want 'JPEG 320x200'"

send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" "$src/exif-keep.jpg"
assert_rc 0 "EXIF kept"
stored_for "$INBOX" exif-keep
grep -q 'SITX-E2E-EXIF-MARKER-keep' "$STORED" || fail "EXIF lost without --strip-metadata"

send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/exif-lossless.jpg"
assert_rc 0 "EXIF through lossless recompression"
stored_for "$INBOX" exif-lossless
assert_same_pixels "$src/exif-lossless.jpg" "$STORED"
grep -q 'SITX-E2E-EXIF-MARKER-lossless' "$STORED" ||
    fail "lossless recompression (the default) dropped the EXIF block"

send --password-file "$PW" --strip-metadata "127.0.0.1:$RECV_PORT" "$src/exif-strip.jpg"
assert_rc 0 "--strip-metadata"
stored_for "$INBOX" exif-strip
if grep -q 'SITX-E2E-EXIF-MARKER' "$STORED"; then
    fail "EXIF still in the stored file after --strip-metadata"
fi
assert_same_pixels "$src/exif-strip.jpg" "$STORED"
assert_inbox_count "$INBOX" 4

finish
