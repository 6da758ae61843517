#!/usr/bin/env bash
# sitx-send HOST DIR: the PNG and JPEG files of DIR, one "skipped" line per
# entry left out, a summary at the end; with -r the subdirectories too, kept
# as subdirectories of the inbox, and nothing ever written outside it.
. "$(dirname "$0")/lib.sh"

src=$WORK/src/photos
mkdir -p "$src/sub/deeper" "$src/.git" "$src/..dots" "$src/back\\slash"
gen_png "$src/a.png" 40 30 301
gen_jpeg "$src/b.jpg" 64 48 80 302
gen_png "$src/no-extension" 20 20 303    # an image by content, whatever its name
gen_png "$src/sub/c.png" 33 21 304
gen_jpeg "$src/sub/deeper/d.jpg" 50 50 75 305
gen_png "$src/back\\slash/e.png" 17 17 306
gen_png "$src/.hidden.png" 10 10 307
gen_png "$src/.git/f.png" 11 11 308
gen_png "$src/..dots/g.png" 12 12 309
gen_png "$WORK/src/outside.png" 24 24 310
printf 'not an image\n' >"$src/notes.txt"
printf '# notes\n' >"$src/sub/readme.md"
: >"$src/empty.png"
mkfifo "$src/fifo.png"
ln -s . "$src/loop"                       # a symlink loop: never descended
ln -s ../outside.png "$src/link.png"      # a link to a file: sent as that file
ln -s nowhere.png "$src/dangling.png"
# A path too long to keep: the receiver flattens it into the inbox.
long=$src/sub
for i in 1 2 3 4 5 6; do
    long=$long/$(printf 'level%d-%040d' "$i" 0)
done
mkdir -p "$long"
gen_png "$long/h.png" 13 13 311

start_pw_recv

# --- without -r: the top level only ----------------------------------------
send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "a directory without -r"
for f in a.png b.jpg link.png; do
    assert_grep "^$src/$f: stored as $f " "$SEND_OUT" "$f sent under its base name"
    assert_same_bytes "$src/$f" "$INBOX/$f"
done
assert_grep "^$src/no-extension: stored as no-extension.png " "$SEND_OUT" "an image without extension"
assert_same_bytes "$src/no-extension" "$INBOX/no-extension.png"
assert_grep "^skipped $src/notes.txt: not a PNG or JPEG$" "$SEND_OUT" "the text file"
assert_grep "^skipped $src/empty.png: not a PNG or JPEG$" "$SEND_OUT" "the empty file"
assert_grep "^skipped $src/\\.hidden\\.png: hidden$" "$SEND_OUT" "the hidden file"
assert_grep "^skipped $src/\\.git: hidden$" "$SEND_OUT" "the hidden directory"
assert_grep "^skipped $src/fifo.png: not a regular file$" "$SEND_OUT" "the FIFO"
assert_grep "^skipped $src/dangling.png: broken symbolic link$" "$SEND_OUT" "the dangling link"
assert_no_grep "sub|loop|deeper" "$SEND_OUT" "subdirectories without -r"
assert_grep "^sitx-send: 4 stored, 0 already stored, 0 refused, 0 failed, 7 skipped, .* sent in [0-9]+\\.[0-9] s$" \
    "$SEND_OUT" "the summary"
[ "$(tail -n 1 "$SEND_OUT" | cut -c1-10)" = "sitx-send:" ] || fail "the summary is not the last line"
[ "$(find "$INBOX" -mindepth 1 ! -name '.*' | wc -l)" -eq 4 ] ||
    fail "want 4 files and no directory in the inbox: $(find "$INBOX" -mindepth 1 ! -name '.*')"
stop_recv

# --- with -r: the tree, into a new inbox -----------------------------------
rm -rf "$INBOX"
start_pw_recv
send -r --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" "$src/"
assert_rc 0 "a directory with -r"
assert_grep "^skipped $src/loop: symbolic link to a directory, not followed$" "$SEND_OUT" "the loop"
assert_grep "^skipped $src/\\.\\.dots: hidden$" "$SEND_OUT" "a dot-dot directory"
assert_grep "^sitx-send: 8 stored, 0 already stored, 0 refused, 0 failed, 9 skipped, " \
    "$SEND_OUT" "the summary with -r"
# The stored tree is the source tree's images, byte for byte.
for rel in a.png b.jpg link.png sub/c.png sub/deeper/d.jpg; do
    assert_grep "^$src/$rel: stored as $rel " "$SEND_OUT" "$rel under its relative path"
    assert_same_bytes "$src/$rel" "$INBOX/$rel"
done
assert_same_pixels "$src/sub/deeper/d.jpg" "$INBOX/sub/deeper/d.jpg"
# A backslash is no separator: the receiver makes it '_'.
assert_same_bytes "$src/back\\slash/e.png" "$INBOX/back_slash/e.png"
# Too long with its directories: the file lands in the inbox itself.
assert_same_bytes "$long/h.png" "$INBOX/h.png"
got=$(cd "$INBOX" && find . ! -name '.*' -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')
want="a.png b.jpg back_slash/e.png h.png link.png no-extension.png sub/c.png sub/deeper/d.jpg "
[ "$got" = "$want" ] || fail "stored tree: got '$got', want '$want'"
# Nothing anywhere but in the inbox.
[ "$(ls -A "$WORK" | grep -vE '^(inbox|src|password|state|recv\..*|send\..*|same-pixels.err)$')" = "" ] ||
    fail "files beside the inbox: $(ls -A "$WORK")"
[ -z "$(find "$INBOX" -type l)" ] || fail "a symbolic link in the inbox"

# Once more: everything already stored, and the JSON forms.
send -r --json --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "the tree again, --json"
json_check "$SEND_OUT" 'len([o for o in objs if o.get("status") == "ALREADY_STORED"]) == 8'
json_check "$SEND_OUT" \
    'any(o.get("status") == "SKIPPED" and o["file"].endswith("/notes.txt") and o["reason"] == "not a PNG or JPEG" for o in objs)'
json_check "$SEND_OUT" 'len([o for o in objs if o.get("status") == "SKIPPED"]) == 9'
json_check "$SEND_OUT" '"summary" in objs[-1] and "summary" not in objs[0] and "status" not in objs[-1]'
json_check "$SEND_OUT" \
    'objs[-1]["summary"]["already_stored"] == 8 and objs[-1]["summary"]["stored"] == 0 and objs[-1]["summary"]["skipped"] == 9 and objs[-1]["summary"]["images"] == 8'
json_check "$SEND_OUT" 'isinstance(objs[-1]["summary"]["ms"], int) and objs[-1]["summary"]["bytes_sent"] == 0'

# Files and directories mixed, a non-image given by name stays an error.
send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/sub" "$src/notes.txt"
assert_rc 3 "a text file given by name"
assert_grep "^$src/sub/c.png: already stored as sub/c.png$" "$SEND_OUT" "the directory's image"
assert_grep "^sitx-send: 0 stored, 1 already stored, 0 refused, 1 failed, 1 skipped, " \
    "$SEND_OUT" "the summary counts the error as failed"
assert_grep "^skipped $src/sub/readme.md: not a PNG or JPEG$" "$SEND_OUT" "sub's text file"

# --quiet: no skipped lines, no summary.
send -r --quiet --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src"
assert_rc 0 "--quiet"
[ ! -s "$SEND_OUT" ] || fail "--quiet printed: $(cat "$SEND_OUT")"

# One image given: no summary, as before.
send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/a.png"
assert_rc 0 "one image"
[ "$(grep -c . "$SEND_OUT")" -eq 1 ] || fail "one image, want one line"

# An empty directory: nothing to send, no connection, exit 0.
mkdir "$WORK/src/empty"
send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$WORK/src/empty"
assert_rc 0 "an empty directory"
assert_grep "^sitx-send: 0 stored, 0 already stored, 0 refused, 0 failed, 0 skipped, 0 B sent" \
    "$SEND_OUT" "the empty directory's summary"

finish
