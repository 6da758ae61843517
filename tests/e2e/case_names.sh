#!/usr/bin/env bash
# Hostile file names: control characters, leading dots, invalid UTF-8,
# backslashes, a 255-byte name, a wrong extension, a path with "..". Every
# image is stored inside the inbox under a safe name, and nothing appears
# anywhere else.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir -p "$src/dir" "$src/cwd"
names=(
    $'evil\x01name.png'
    $'esc\x1b[31mred.png'
    '.hidden.png'
    $'new\nline.png'
    $'bad\xffutf8.png'
    'back\slash.png'
    '..png'
    'wrong-ext.txt'
    "$(printf 'L%.0s' $(seq 251)).png"
    'spaces and ünïcødé.png'
)
seed=100
for n in "${names[@]}"; do
    seed=$((seed + 1))
    gen_png "$src/dir/$n" 24 24 "$seed"
done
gen_jpeg "$src/dir/x.jpg" 24 24 80 200

INBOX=$WORK/jail/inbox
mkdir -p "$INBOX"
PW=$WORK/password
mkpass "$PW"
start_recv --inbox "$INBOX" --password-file "$PW"
(cd "$src" && find . | LC_ALL=C sort) >"$WORK/src.before"

args=()
for n in "${names[@]}"; do
    args+=("../dir/$n")
done
args+=("../dir/../dir/x.jpg")
# Relative paths with "..", from a working directory beside the images.
E2E_SEQ=$((E2E_SEQ + 1))
SEND_OUT="$WORK/send.$E2E_SEQ.out"
SEND_ERR="$WORK/send.$E2E_SEQ.err"
E2E_LOGS+=("$SEND_OUT" "$SEND_ERR")
(cd "$src/cwd" && timeout -k 5 "$E2E_CLIENT_TIMEOUT" "$SITX_SEND" --password-file "$PW" \
    --compress none "127.0.0.1:$RECV_PORT" "${args[@]}" >"$SEND_OUT" 2>"$SEND_ERR" </dev/null)
SEND_RC=$?
note "sitx-send (${#args[@]} hostile names) -> exit $SEND_RC"
show '    out| ' "$SEND_OUT"
show '    err| ' "$SEND_ERR"
assert_rc 0 "hostile names"
names_out=$SEND_OUT
names_err=$SEND_ERR

want=$(( ${#names[@]} + 1 ))
assert_inbox_count "$INBOX" "$want"
# Hidden entries are invisible to inbox_files: the only ones allowed are the
# receiver's own dedup index and its (empty) partial store (temporary files
# are checked by finish).
hidden=$(find "$INBOX" -mindepth 1 -name '.*' ! -name .sitx-index ! -name '.sitx-tmp-*' \
    ! -name .sitx-partial -printf '%f ')
[ -z "$hidden" ] || fail "hidden files in the inbox: $hidden"
[ -z "$(find "$INBOX" -mindepth 2)" ] || fail "subdirectories in the inbox"

# Each stored name is safe, and each source's bytes are there exactly once.
python3 - "$INBOX" "$src/dir" <<'PYEOF' || fail "stored names or contents are wrong"
import hashlib, os, sys
inbox, srcdir = (os.fsencode(a) for a in sys.argv[1:3])
bad = []
stored = {}
for name in os.listdir(inbox):
    if name in (b".sitx-index", b".sitx-partial"):
        continue
    why = []
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        why.append("not UTF-8")
        text = name.decode("utf-8", "replace")
    if any(c < 0x20 or c == 0x7F for c in name) or any(0x80 <= ord(c) <= 0x9F for c in text):
        why.append("control character")
    if b"/" in name or b"\\" in name:
        why.append("path separator")
    if name.startswith(b"."):
        why.append("leading dot")
    if len(name) > 255:
        why.append("longer than 255 bytes")
    with open(os.path.join(inbox, name), "rb") as f:
        data = f.read()
    ext = b".png" if data.startswith(b"\x89PNG") else b".jpg"
    if not name.lower().endswith((ext, b".jpeg") if ext == b".jpg" else ext):
        why.append("extension does not match the content")
    if why:
        bad.append(f"{name!r}: {', '.join(why)}")
    stored.setdefault(hashlib.sha256(data).hexdigest(), []).append(name)
for name in os.listdir(srcdir):
    path = os.path.join(srcdir, name)
    if not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()
    got = stored.get(h, [])
    if len(got) != 1:
        bad.append(f"source {name!r} stored {len(got)} times: {got}")
for b in bad:
    print("   ", b)
sys.exit(1 if bad else 0)
PYEOF

# Nothing outside the inbox: its parent holds only the inbox, the sources
# are untouched, and no stored name shows up anywhere else under $WORK.
[ "$(ls -A "$WORK/jail")" = inbox ] || fail "files beside the inbox: $(ls -A "$WORK/jail")"
(cd "$src" && find . | LC_ALL=C sort) >"$WORK/src.after"
cmp -s "$WORK/src.before" "$WORK/src.after" || fail "files appeared among the sources"
strays=$(find "$WORK" -path "$INBOX" -prune -o -path "$src" -prune -o -type f \
    \( -name '*.png' -o -name '*.jpg' -o -name '*name*' \) -print)
[ -z "$strays" ] || fail "image files outside the inbox: $strays"

# The report stays one line per image, and a name cannot smuggle control
# characters (terminal escapes, line breaks) into the user's terminal, in a
# success line or in an error.
[ "$(wc -l <"$names_out")" -eq $((want + 1)) ] ||
    fail "sitx-send printed $(wc -l <"$names_out") stdout lines for $want images and the summary"
assert_no_control "$names_out" "file names in the report"
assert_no_control "$names_err" "file names on stderr"
printf 'not an image\n' >"$src/dir/"$'evil\x1b[2J\x07text.png'
send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/dir/"$'evil\x1b[2J\x07text.png'
assert_rc 3 "a text file with a hostile name"
assert_no_control "$SEND_OUT" "a hostile name in the error report"
assert_no_control "$SEND_ERR" "a hostile name in the error message"

finish
