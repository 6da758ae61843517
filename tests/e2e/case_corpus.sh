#!/usr/bin/env bash
# Real-world images from the public corpus (libjpeg-turbo test images,
# PngSuite): each arrives with exactly its pixels, as-is, with lossless
# recompression, and with metadata stripped (s03n3p01 and basi3p02 have
# sub-byte rows that end in padding bits). A PngSuite file with a broken CRC
# and a 12-bit JPEG (which Debian's 8-bit libjpeg cannot decode) are refused
# locally.
. "$(dirname "$0")/lib.sh"

need_corpus
jpg=$SITX_CORPUS_DIR/jpeg/libjpeg-turbo
png=$SITX_CORPUS_DIR/png/pngsuite
images=(
    "$jpg/testorig.jpg" "$jpg/testimgint.jpg" "$jpg/testimgari.jpg"
    "$png/basn0g01.png" "$png/basn2c16.png" "$png/basn3p08.png" "$png/basi6a08.png"
    "$png/basn4a16.png" "$png/tbbn3p08.png" "$png/s03n3p01.png" "$png/basi3p02.png"
)
for f in "${images[@]}"; do
    [ -f "$f" ] || fail "corpus file missing: $f"
done

PW=$WORK/password
mkpass "$PW"
for mode in none lossless strip; do
    # A fresh inbox per mode: lossless output equal to the input would
    # otherwise be answered ALREADY_STORED.
    if [ -n "$RECV_PID" ]; then
        stop_recv
    fi
    INBOX=$WORK/inbox-$mode
    mkdir "$INBOX"
    start_recv --inbox "$INBOX" --password-file "$PW"
    if [ "$mode" = strip ]; then
        send --password-file "$PW" --strip-metadata "127.0.0.1:$RECV_PORT" "${images[@]}"
    else
        send --password-file "$PW" --compress "$mode" "127.0.0.1:$RECV_PORT" "${images[@]}"
    fi
    assert_rc 0 "corpus images, --compress $mode"
    assert_inbox_count "$INBOX" "${#images[@]}"
    for f in "${images[@]}"; do
        stem=$(basename "$f")
        stored_for "$INBOX" "${stem%.*}"
        assert_same_pixels "$f" "$STORED"
        if [ "$mode" = none ]; then
            assert_same_bytes "$f" "$STORED"
        fi
    done
done

for bad in "$png/xcsn0g01.png" "$jpg/monkey12.jpg"; do
    send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$bad"
    assert_rc 3 "$(basename "$bad") refused locally"
    assert_grep "$(basename "$bad")" "$SEND_ERR" "the refusal names the file"
done
assert_inbox_count "$INBOX" "${#images[@]}"

finish
