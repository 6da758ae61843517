#!/usr/bin/env bash
# --json: one JSON object per image with file, status, stored_as,
# bytes_sent, attempts, ms and error, for a stored image and a refused one,
# and the summary object that closes a run of more than one image.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
mkdir "$src"
gen_png "$src/fits.png" 16 16 171
gen_png "$src/over.png" 256 256 172
[ "$(file_size "$src/over.png")" -gt 20000 ] || fail "over.png too small"

start_pw_recv --max-size 20000
send --password-file "$PW" --compress none --json "127.0.0.1:$RECV_PORT" \
    "$src/fits.png" "$src/over.png"
assert_rc 1 "one stored, one refused"
# The run's summary closes it, wrapped so that it is no image's object.
json_check "$SEND_OUT" 'len(objs) == 3 and set(objs[-1]) == {"summary"}'
json_check "$SEND_OUT" \
    'objs[-1]["summary"]["stored"] == 1 and objs[-1]["summary"]["refused"] == 1 and objs[-1]["summary"]["images"] == 2'
images=$WORK/images.json
grep -v '^{"summary":' "$SEND_OUT" >"$images"
json_check "$images" 'len(objs) == 2'
json_check "$images" \
    'all(set(o) >= {"file", "status", "stored_as", "bytes_sent", "attempts", "ms", "error"} for o in objs)'
json_check "$images" \
    'all(isinstance(o["attempts"], int) and o["attempts"] >= 1 and isinstance(o["bytes_sent"], int) and isinstance(o["ms"], (int, float)) for o in objs)'
# Objects come in the order the answers arrive; "file" says which is which.
json_check "$images" \
    'sorted(o["file"] for o in objs) == sorted(["'"$src/fits.png"'", "'"$src/over.png"'"])'
stored_for "$INBOX" fits
fits="[o for o in objs if o['file'].endswith('/fits.png')][0]"
over="[o for o in objs if o['file'].endswith('/over.png')][0]"
json_check "$images" "${fits}['stored_as'].endswith('$(basename "$STORED")') and not ${fits}['error']"
json_check "$images" "str(${fits}['status']).upper() in ('OK', 'STORED')"
json_check "$images" "${fits}['bytes_sent'] >= $(file_size "$src/fits.png")"
json_check "$images" \
    "'TOO_LARGE' in (str(${over}['status']) + str(${over}['error'])).upper() and ${over}['error'] and not ${over}['stored_as']"
assert_inbox_count "$INBOX" 1
# Nothing but JSON on stdout; humans read stderr.
[ "$(grep -c . "$SEND_OUT")" -eq 3 ] || fail "stdout has lines other than the 2 objects and the summary"

finish
