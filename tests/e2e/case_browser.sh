#!/usr/bin/env bash
# The inbox page in a real browser: headless Chromium, driven over the
# DevTools protocol on a pipe (browser_check.py), loads the page of a
# receiver with --http. The thumbnails decode (naturalWidth > 0); a file
# named like markup is shown as text, with no element or dialog made from
# it; the refusal is listed; an image sent after the page loaded appears on
# top without a reload. The screenshot and the DOM are kept in the build
# tree (tests/e2e/artifacts/). Skips without chromium unless CI=true.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"

CHROMIUM=${SITX_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
    [ "${CI:-}" = true ] && fail "chromium is not installed (CI=true needs it; see scripts/setup)"
    skip "chromium is not installed (apt-get install chromium, or scripts/setup)"
fi
ART=${SITX_ARTIFACT_DIR:-$WORK/artifacts}/browser
mkdir -p "$ART" || fail "cannot create $ART"
rm -f "$ART/inbox.png" "$ART/dom.html"

src=$WORK/src
mkdir "$src"
xss='<img src=x onerror=alert(1)>.png'
gen_png "$src/sunrise.png" 640 400 401
gen_jpeg "$src/harbour.jpg" 1200 800 85 402
gen_png "$src/$xss" 300 300 403
gen_jpeg "$src/late.jpg" 800 600 85 404
gen_jpeg "$src/broken.jpg" 320 240 85 405
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

start_pw_recv --http 127.0.0.1:0
http_port
send --password-file "$PW" "127.0.0.1:$RECV_PORT" "$src/sunrise.png" "$src/harbour.jpg" "$src/$xss"
assert_rc 0 "three images before the page loads"
[ -f "$INBOX/$xss" ] || fail "the receiver renamed '$xss': $(inbox_files "$INBOX" | tr '\n' ' ')"
send --password-file "$PW" --compress none "127.0.0.1:$RECV_PORT" "$src/broken.jpg"
assert_rc 1 "a damaged JPEG"

late_cmd=$(printf '%q ' timeout -k 5 60 "$SITX_SEND" --password-file "$PW" \
    "127.0.0.1:$RECV_PORT" "$src/late.jpg")
E2E_LOGS+=("$WORK/browser.log")
timeout -k 5 150 python3 "$(dirname "$0")/browser_check.py" --chromium "$CHROMIUM" \
    --url "http://127.0.0.1:$HTTP_PORT/" --out "$ART" --images 3 --text "$xss" \
    --refusal BAD_IMAGE --then "$late_cmd" --new late.jpg >"$WORK/browser.log" 2>&1
rc=$?
show '    browser| ' "$WORK/browser.log"
[ "$rc" -eq 0 ] || fail "the browser check failed ($rc)"
[ -f "$INBOX/late.jpg" ] || fail "late.jpg is not in the inbox"

# What the browser saw, kept as artifacts: the screenshot is a real PNG, and
# the DOM holds the name as escaped text, never as an element.
"$IMGTOOL" validate "$ART/inbox.png" >/dev/null 2>&1 || fail "the screenshot is not a valid PNG"
grep -qF '&lt;img src=x onerror=alert(1)&gt;.png' "$ART/dom.html" ||
    fail "the DOM does not show the name as text"
assert_no_grep '<img src="?x' "$ART/dom.html" "no element made from a name"
note "screenshot: $ART/inbox.png"

finish
