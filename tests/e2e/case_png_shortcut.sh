#!/usr/bin/env bash
# The receiver checks a PNG's image data without unfiltering rows, and
# steps back to the full streaming path whenever that shortcut cannot
# decide. Whatever the shortcut does, the receiver's verdict must be the
# full path's: for well-formed containers around good, damaged and unusual
# image data (png_variants.py), a real receiver stores exactly what
# `sitx-imgtool validate-full` accepts, with the same pixels, and refuses
# the rest as BAD_IMAGE with the same reason.
. "$(dirname "$0")/lib.sh"

gen_png "$WORK/src.png" 1500 1100 7
mkdir "$WORK/v"
python3 "$(dirname "$0")/png_variants.py" "$WORK/src.png" "$WORK/v" ||
    fail "png_variants.py failed"

PW=$WORK/password
mkpass "$PW"
mkdir "$WORK/inbox"
start_recv --inbox "$WORK/inbox" --password-file "$PW"
n_ok=0
n_bad=0
n_local=0
for f in "$WORK"/v/*.png; do
    name=$(basename "$f" .png)
    want=$("$IMGTOOL" validate-full "$f")
    send --password-file "$PW" --compress none --retries 0 "127.0.0.1:$RECV_PORT" "$f"
    if [ "$SEND_RC" = 3 ]; then
        # The sender's structure check refused it before any byte left (it
        # is stricter than the receiver about IDAT chunks split by others).
        n_local=$((n_local + 1))
    elif [ "$want" = ok ]; then
        assert_rc 0 "$name: the full path accepts it, so must the receiver"
        stored_for "$WORK/inbox" "$name"
        assert_same_bytes "$f" "$STORED"
        assert_same_pixels "$WORK/src.png" "$STORED"
        n_ok=$((n_ok + 1))
    else
        reason=${want#"$f: "}
        assert_rc 1 "$name: the full path refuses it ($reason), so must the receiver"
        assert_grep "BAD_IMAGE" "$SEND_OUT" "$name: refused as BAD_IMAGE"
        grep -qF -- "$reason" "$SEND_OUT" ||
            fail "$name: the receiver's reason is not the full path's \"$reason\""
        n_bad=$((n_bad + 1))
    fi
done
note "$n_ok variants stored, $n_bad refused by the receiver, $n_local by the sender"
# The variants cover both sides; an all-accepting or all-refusing receiver fails.
[ "$n_ok" -ge 5 ] || fail "only $n_ok variants were valid"
[ "$n_bad" -ge 6 ] || fail "only $n_bad variants were refused"
assert_inbox_count "$WORK/inbox" "$n_ok"
finish
