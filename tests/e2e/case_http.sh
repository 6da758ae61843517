#!/usr/bin/env bash
# The web side over real HTTP: a key-mode receiver with --http on a free
# loopback port lists the images already in its inbox (from the dedup
# index) and the ones sitx-send delivers, with the hashes both sides agree
# on (and b2sum); /api/v1/images/NAME gives the stored bytes with the right
# type; refusals (a JPEG with damaged entropy data, an unknown key) show up
# with their reason, a transfer cut off mid-image as aborted, a stalled one
# as TIMEOUT; /metrics
# moves; names outside the inbox are 404; only
# GET and HEAD; strict headers everywhere. Then the rules for where it may
# listen and the token: off loopback without a token it refuses to start,
# a wrong or missing token gets 401, the right one (Bearer or Basic) 200.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_curl

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
gen_png "$src/before.png" 120 90 301
gen_jpeg "$src/photo.jpg" 640 480 85 302
gen_png "$src/chart.png" 200 150 303
gen_jpeg "$src/broken.jpg" 320 240 85 304
# Damage the entropy-coded data, keeping the markers: the sender's own
# structure check passes it, the receiver's full decode refuses it.
python3 - "$src/broken.jpg" <<'PY' || fail "cannot damage broken.jpg"
import random, sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
i = d.find(b'\xff\xda')
start = i + 2 + ((d[i + 2] << 8) | d[i + 3])
random.seed(7)
for k in range(start + 200, start + 1200):
    d[k] = random.randrange(0, 255)
open(p, 'wb').write(bytes(d))
PY

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"
genkey "$SITX_SEND" "$WORK/mallory.key"
keyargs=(--inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized")
alice() {
    send --key "$WORK/alice.key" --receiver-key "$recv_pub" "$@"
}

# An image stored before the web side existed.
start_recv "${keyargs[@]}"
alice "127.0.0.1:$RECV_PORT" "$src/before.png"
assert_rc 0 "send before --http"
alice_fp=$(sed -n 's/.*authenticated .*key=\([^ ]*\) .*name=alice.*/\1/p' "$RECV_LOG" | head -n 1)
[ -n "$alice_fp" ] || fail "no fingerprint for alice in the receiver's log"
stop_recv

start_recv "${keyargs[@]}" --http 127.0.0.1:0
http_port

http_get /api/v1/images "$WORK/images0.json"
expect_code 200 "/api/v1/images"
assert_grep '^Content-Type: application/json' "$WORK/images0.json.hdr" "JSON type"
python3 - "$WORK/images0.json" "$(b2sum -l 256 "$INBOX/before.png" | cut -d' ' -f1)" \
    "$alice_fp" <<'PY' || fail "the inbox listed at start is wrong: $(cat "$WORK/images0.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d['count'] == 1, d
i = d['images'][0]
assert i['name'] == 'before.png' and i['hash'] == sys.argv[2], i
assert i['sender'] == 'alice' and i['fingerprint'] == sys.argv[3], i
assert (i['width'], i['height'], i['format'], i['size']) == (120, 90, 'PNG', 
        __import__('os').path.getsize(sys.argv[1].replace('images0.json', 'inbox/before.png'))), i
PY
http_get /metrics "$WORK/metrics0.txt"
expect_code 200 "/metrics"
assert_grep '^Content-Type: text/plain; version=0.0.4' "$WORK/metrics0.txt.hdr" "Prometheus type"
[ "$(metric "$WORK/metrics0.txt" sitx_images_stored_total)" = 0 ] || fail "stored before any send"

# Two images sent now, with --json to compare the sender's view.
alice --json --compress none "127.0.0.1:$RECV_PORT" "$src/photo.jpg" "$src/chart.png"
assert_rc 0 "send two images"
cp "$SEND_OUT" "$WORK/sent.json"
http_get /api/v1/images "$WORK/images1.json"
expect_code 200 "/api/v1/images after sending"
python3 - "$WORK/images1.json" "$WORK/sent.json" "$INBOX" "$alice_fp" <<'PY' ||
import hashlib, json, os, sys
api = json.load(open(sys.argv[1]))
sent = [o for o in (json.loads(l) for l in open(sys.argv[2]) if l.strip()) if 'summary' not in o]
names = [i['name'] for i in api['images']]
# Newest first: the two just sent (in the order they were stored), then the old one.
assert names[2] == 'before.png' and sorted(names[:2]) == ['chart.png', 'photo.jpg'], names
byname = {i['name']: i for i in api['images']}
for s in sent:
    i = byname[s['stored_as']]
    data = open(os.path.join(sys.argv[3], s['stored_as']), 'rb').read()
    assert i['hash'] == s['hash'] == hashlib.blake2b(data, digest_size=32).hexdigest(), (i, s)
    assert i['size'] == len(data) and i['sender'] == 'alice' and i['fingerprint'] == sys.argv[4]
assert (byname['photo.jpg']['width'], byname['photo.jpg']['height']) == (640, 480)
assert byname['photo.jpg']['format'] == 'JPEG'
PY
    fail "the API does not match what was sent: $(cat "$WORK/images1.json")"

for name in photo.jpg chart.png; do
    http_get "/api/v1/images/$name" "$WORK/got-$name"
    expect_code 200 "/api/v1/images/$name"
    assert_same_bytes "$WORK/got-$name" "$INBOX/$name"
done
assert_grep '^Content-Type: image/jpeg' "$WORK/got-photo.jpg.hdr" "JPEG type"
assert_grep '^Content-Type: image/png' "$WORK/got-chart.png.hdr" "PNG type"
http_get /api/v1/thumbs/photo.jpg "$WORK/thumb.jpg"
expect_code 200 "thumbnail"
"$IMGTOOL" validate "$WORK/thumb.jpg" >/dev/null 2>&1 || fail "the thumbnail is not a JPEG"
"$IMGTOOL" info "$WORK/thumb.jpg" | grep -qE '192 ?x ?144|192x144|width=192.*height=144' ||
    fail "thumbnail size: $("$IMGTOOL" info "$WORK/thumb.jpg")"

# Strict headers on pages, API, images and errors alike.
http_get / "$WORK/page.html"
expect_code 200 "the page"
assert_grep '^Content-Type: text/html' "$WORK/page.html.hdr" "HTML type"
assert_no_grep '<script>|<script [^s]|[[:space:]]on[a-z]+=' "$WORK/page.html" "no inline script in the page"
http_get /no/such/thing "$WORK/nothing"
expect_code 404 "an unknown path"
for f in page.html images1.json got-photo.jpg metrics0.txt nothing; do
    h=$WORK/$f.hdr
    assert_grep "^Content-Security-Policy: default-src 'self';.*frame-ancestors 'none'" "$h" "CSP ($f)"
    assert_no_grep "^Content-Security-Policy:.*unsafe-inline" "$h" "no unsafe-inline ($f)"
    assert_grep '^X-Content-Type-Options: nosniff' "$h" "nosniff ($f)"
    assert_grep '^Referrer-Policy: no-referrer' "$h" "Referrer-Policy ($f)"
    assert_grep '^Cache-Control: ' "$h" "Cache-Control ($f)"
done

# Refusals: an image the receiver's decoder refuses, and a key it does not know.
alice --compress none "127.0.0.1:$RECV_PORT" "$src/broken.jpg"
assert_rc 1 "a JPEG with damaged entropy data"
assert_grep 'BAD_IMAGE' "$SEND_OUT" "the sender is told BAD_IMAGE"
send --key "$WORK/mallory.key" --receiver-key "$recv_pub" "127.0.0.1:$RECV_PORT" "$src/chart.png"
[ "$SEND_RC" -ne 0 ] || fail "an unknown key was let in"
wait_log "$RECV_LOG" 'auth-failed .*unknown-key' 10 || fail "no auth-failed line for mallory"
http_get '/api/v1/events?since=0' "$WORK/events.json"
expect_code 200 "/api/v1/events"
python3 - "$WORK/events.json" <<'PY' || fail "events are wrong: $(cat "$WORK/events.json")"
import json, sys
d = json.load(open(sys.argv[1]))
ev = d['events']
assert d['seq'] == ev[-1]['seq'] and [e['seq'] for e in ev] == sorted(e['seq'] for e in ev)
stored = [e['name'] for e in ev if e['kind'] == 'stored']
assert sorted(stored) == ['chart.png', 'photo.jpg'], stored
listed = [i['name'] for i in json.load(open(sys.argv[1].replace('events.json', 'images1.json')))['images']]
assert listed[:2] == stored[::-1], (listed, stored)
bad = [e for e in ev if e['kind'] == 'refused']
assert len(bad) == 1 and bad[0]['status'] == 'BAD_IMAGE' and bad[0]['name'] == 'broken.jpg', bad
assert 'JPEG' in bad[0]['message'] and bad[0]['sender'] == 'alice', bad
auth = [e for e in ev if e['kind'] == 'auth-failed']
assert len(auth) == 1 and auth[0]['reason'] == 'unknown-key' and auth[0]['fingerprint'], auth
PY
last=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seq"])' "$WORK/events.json")
http_get "/api/v1/events?since=$last" "$WORK/events-none.json"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["events"] == []' \
    "$WORK/events-none.json" || fail "since=$last still returns events"
http_get '/api/v1/events?since=nope' "$WORK/events-bad"
expect_code 400 "a bad since"

wait_until 10 sh -c "curl -s --max-time 5 http://127.0.0.1:$HTTP_PORT/metrics |
    grep -qx 'sitx_connections_open 0'" || fail "connections_open does not return to 0"
http_get /metrics "$WORK/metrics1.txt"
m=$WORK/metrics1.txt
[ "$(metric "$m" sitx_images_stored_total)" = 2 ] || fail "stored_total is not 2"
[ "$(metric "$m" 'sitx_images_refused_total{reason="BAD_IMAGE"}')" = 1 ] ||
    fail "refused BAD_IMAGE is not 1"
[ "$(metric "$m" 'sitx_handshakes_failed_total{reason="unknown-key"}')" = 1 ] ||
    fail "handshakes failed unknown-key is not 1"
want=$(($(file_size "$INBOX/photo.jpg") + $(file_size "$INBOX/chart.png")))
[ "$(metric "$m" sitx_stored_bytes_total)" = "$want" ] || fail "stored bytes are not $want"
[ "$(metric "$m" sitx_received_bytes_total)" -gt "$want" ] || fail "received bytes did not move"
[ "$(metric "$m" sitx_validation_seconds_count)" = 3 ] || fail "validation count is not 3"
[ "$(metric "$m" 'sitx_validation_seconds_bucket{le="+Inf"}')" = 3 ] || fail "+Inf bucket"
[ "$(metric "$m" sitx_inbox_free_bytes)" -gt 0 ] || fail "no free space reported"

# A sender cut off mid-image (the fault proxy ends the stream): the events
# say aborted, then stored once the sender tried again.
gen_png "$src/cut.png" 256 256 305
start_proxy "$RECV_PORT" --mode truncate --after 2000 --direction up
alice --compress none --retries 3 "127.0.0.1:$PROXY_PORT" "$src/cut.png"
assert_rc 0 "a cut connection, then a retry"
stop_proxy
wait_log "$RECV_LOG" 'stored .*file=cut\.png' 10 || fail "cut.png was not stored after the retry"
http_get "/api/v1/events?since=$last" "$WORK/events-cut.json"
python3 - "$WORK/events-cut.json" <<'PY' || fail "no aborted event: $(cat "$WORK/events-cut.json")"
import json, sys
ev = json.load(open(sys.argv[1]))['events']
kinds = [(e['kind'], e['name']) for e in ev]
assert kinds[0] == ('aborted', 'cut.png') and ('stored', 'cut.png') in kinds, kinds
assert ev[0]['status'] is None and 'END' in ev[0]['message'], ev[0]
PY
http_get /metrics "$WORK/metrics2.txt"
[ "$(metric "$WORK/metrics2.txt" sitx_images_aborted_total)" -ge 1 ] || fail "aborted_total did not move"
[ "$(metric "$WORK/metrics2.txt" sitx_images_stored_total)" = 3 ] || fail "stored_total is not 3"

# Nothing outside what the receiver stored: traversal, hidden files, files
# that merely sit in the inbox, encodings of all of these.
cp "$src/chart.png" "$INBOX/dropped-by-hand.png"
ln -s /etc/passwd "$INBOX/link.png"
for path in '/api/v1/images/..%2f..%2fetc%2fpasswd' '/api/v1/images/..%2F..%2F..%2Fetc%2Fpasswd' \
    '/api/v1/images/../../etc/passwd' '/api/v1/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd' \
    '/api/v1/images/..' '/api/v1/images/%2e%2e' '/api/v1/images/.sitx-index' \
    '/api/v1/images/%2esitx-index' '/api/v1/images/dropped-by-hand.png' '/api/v1/images/link.png' \
    '/api/v1/images/photo.jpg%00' '/api/v1/images/%2fetc%2fpasswd' '/api/v1/thumbs/..%2f..%2fetc%2fpasswd' \
    '/../../etc/passwd' '/api/v1/images/photo.jpg/..'; do
    http_get "$path" "$WORK/trav"
    expect_code 404 "$path"
    assert_no_grep 'root:' "$WORK/trav" "$path leaks /etc/passwd"
done
# Read-only: no method but GET and HEAD.
for method in POST PUT DELETE PATCH; do
    http_get /api/v1/images/photo.jpg "$WORK/write" -X "$method" --data-binary x
    expect_code 405 "$method"
done
[ -f "$INBOX/photo.jpg" ] || fail "a write request removed photo.jpg"
http_get /api/v1/images/photo.jpg "$WORK/head" -I
expect_code 200 "HEAD"
# A page reached through a DNS name (rebinding) is refused when there is no token.
http_get / "$WORK/rebind" -H 'Host: attacker.example'
expect_code 403 "a foreign Host"
stop_recv

# Where it may listen: loopback (127.0.0.0/8, ::1) without a token, nowhere
# else; the token file must be private.
for addr in 0.0.0.0:0 '[::]:0' 192.0.2.1:8080; do
    out=$("$SITX_RECV" --listen 127.0.0.1:0 "${keyargs[@]}" --http "$addr" 2>&1 </dev/null)
    rc=$?
    [ "$rc" -eq 2 ] || fail "--http $addr without a token: exit $rc, want 2: $out"
    grep -q -- '--http-token-file' <<<"$out" || fail "--http $addr: message does not say why: $out"
done
for bad in 127.0.0.1 99999 127.0.0.1:99999 '[::1]' :; do
    out=$("$SITX_RECV" --listen 127.0.0.1:0 "${keyargs[@]}" --http "$bad" 2>&1 </dev/null)
    [ $? -eq 2 ] && grep -qF -- "--http: not ADDR:PORT: \`$bad'" <<<"$out" || fail "--http $bad: $out"
done
out=$("$SITX_RECV" --listen 127.0.0.1:0 "${keyargs[@]}" --http localhost:0 2>&1 </dev/null)
[ $? -eq 2 ] && grep -q 'IP address' <<<"$out" || fail "--http localhost:0: $out"
out=$("$SITX_RECV" --listen 127.0.0.1:0 "${keyargs[@]}" --http-token-file "$WORK/x" 2>&1 </dev/null)
[ $? -eq 2 ] && grep -q 'needs --http' <<<"$out" || fail "--http-token-file alone: $out"
head -c 24 /dev/urandom | base64 >"$WORK/token.open"
chmod 0644 "$WORK/token.open"
out=$(timeout 20 "$SITX_RECV" --listen 127.0.0.1:0 "${keyargs[@]}" --http 127.0.0.1:0 \
    --http-token-file "$WORK/token.open" 2>&1 </dev/null)
rc=$?
[ "$rc" -eq 1 ] || fail "a token file readable by others: exit $rc, want 1: $out"
grep -q 'http-token-error' <<<"$out" || fail "a token file readable by others: $out"

(umask 077 && head -c 24 /dev/urandom | base64 >"$WORK/token") || fail "cannot write the token"
token=$(cat "$WORK/token")
start_recv "${keyargs[@]}" --deadline 2 --http 127.0.0.2:0 --http-token-file "$WORK/token"
HTTP_HOST=127.0.0.2
http_port
grep -q 'http-serving addr=127.0.0.2:.* token=required' "$RECV_LOG" || fail "token not required"
assert_no_grep "$token" "$RECV_LOG" "the token is never logged"
http_get /api/v1/images "$WORK/t-none"
expect_code 401 "no token"
assert_grep '^WWW-Authenticate: Bearer' "$WORK/t-none.hdr" "401 says how to authenticate"
assert_no_grep 'before.png' "$WORK/t-none" "a 401 shows nothing"
http_get /api/v1/images "$WORK/t-wrong" -H "Authorization: Bearer ${token}x"
expect_code 401 "a wrong token"
http_get /api/v1/images "$WORK/t-short" -H "Authorization: Bearer ${token%?}"
expect_code 401 "a token one character short"
http_get /metrics "$WORK/t-basic-wrong" -u "op:nope"
expect_code 401 "a wrong Basic password"
http_get /api/v1/images "$WORK/t-ok" -H "Authorization: Bearer $token"
expect_code 200 "the right token"
assert_grep 'before.png' "$WORK/t-ok" "the right token sees the inbox"
http_get / "$WORK/t-basic" -u "operator:$token" -H 'Host: sitx.example.org'
expect_code 200 "the right token as Basic, any Host"

# A link that stalls past the deadline: TIMEOUT on the page, then the retry.
gen_png "$src/stall.png" 256 256 306
start_proxy "$RECV_PORT" --mode stall --after 2000 --direction up
alice --compress none --retries 3 --timeout 4 "127.0.0.1:$PROXY_PORT" "$src/stall.png"
assert_rc 0 "a stalled link, then a retry"
stop_proxy
http_get /api/v1/events "$WORK/t-events.json" -H "Authorization: Bearer $token"
expect_code 200 "events with the token"
python3 - "$WORK/t-events.json" <<'PY' || fail "no TIMEOUT event: $(cat "$WORK/t-events.json")"
import json, sys
ev = json.load(open(sys.argv[1]))['events']
t = [e for e in ev if e['kind'] == 'refused' and e['status'] == 'TIMEOUT']
assert t and t[0]['name'] == 'stall.png' and 'deadline' in t[0]['message'], ev
assert any(e['kind'] == 'stored' and e['name'] == 'stall.png' for e in ev), ev
PY
http_get /metrics "$WORK/t-metrics.txt" -H "Authorization: Bearer $token"
[ "$(metric "$WORK/t-metrics.txt" 'sitx_images_refused_total{reason="TIMEOUT"}')" -ge 1 ] ||
    fail "refused TIMEOUT did not move"

# A port alone means the IPv4 loopback (here port 0: any free one).
stop_recv
start_recv "${keyargs[@]}" --http 0
grep -q 'http-serving addr=127\.0\.0\.1:[1-9][0-9]* token=none' "$RECV_LOG" ||
    fail "--http PORT does not listen on 127.0.0.1: $(grep http-serving "$RECV_LOG")"
HTTP_HOST=127.0.0.1
http_port
http_get /metrics "$WORK/port-only.txt"
expect_code 200 "--http PORT"

# The IPv6 loopback is loopback too: no token needed, the page served there.
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    stop_recv
    start_recv "${keyargs[@]}" --http '[::1]:0'
    grep -q 'http-serving addr=\[::1\]:.* token=none' "$RECV_LOG" || fail "no [::1] in http-serving"
    HTTP_HOST='[::1]'
    http_port
    http_get /api/v1/images "$WORK/v6.json"
    expect_code 200 "/api/v1/images over IPv6"
    assert_grep '"stall.png"' "$WORK/v6.json" "the IPv6 listing"
else
    note "no IPv6 on the loopback interface: the [::1] check is left out"
fi

finish
