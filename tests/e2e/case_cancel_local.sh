#!/usr/bin/env bash
# An image the sender's own decode refuses while it is already being
# streamed (with --compress none only that decode looks at the pixels): on
# version 2 the sender withdraws it with CANCEL LOCAL, the receiver logs
# "cancelled by sender", stores nothing and answers CANCELLED, and the
# connection goes on with the next image. On version 1 the old way stays:
# an END hash that cannot match (INTEGRITY at the receiver). Either way the
# sender reports the local error, exit 3. The web side counts it as
# cancelled, not refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/http_lib.sh"
need_curl

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"
# 10 MB of noise: decoding it takes far longer than the handshake and the
# OFFER, so the image is in flight when the decode reaches the cut.
gen_png "$src/whole.png" 2500 2500 91
size=$(file_size "$src/whole.png")
head -c $((size - 4000)) "$src/whole.png" >"$src/cut.png"
gen_png "$src/after.png" 200 150 92

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --http 127.0.0.1:0
http_port

send --key "$WORK/alice.key" --receiver-key "$recv_pub" --compress none --verbose \
    "127.0.0.1:$RECV_PORT" "$src/cut.png" "$src/after.png"
assert_rc 3 "an image the sender's decode refuses"
assert_grep 'cut\.png: not sent: .*(truncated|corrupt)' "$SEND_OUT" "the local error is reported"
assert_grep 'after\.png: stored as after\.png' "$SEND_OUT" "the next image goes through"
assert_grep 'cancel .*file=cut\.png reason=LOCAL' "$SEND_ERR" "the sender sent CANCEL"
wait_log "$RECV_LOG" 'cancelled .*file=cut\.png .*cancelled by sender' 10 ||
    fail "the receiver did not log the cancel"
assert_no_grep 'INTEGRITY' "$RECV_LOG" "no INTEGRITY on version 2"
assert_no_grep 'stored .*file=cut' "$RECV_LOG" "nothing stored for the withdrawn image"
assert_inbox_count "$INBOX" 1
stored_for "$INBOX" after
assert_same_bytes "$src/after.png" "$STORED"
assert_no_tmp "$INBOX"
http_get /metrics "$WORK/metrics.txt"
[ "$(metric "$WORK/metrics.txt" sitx_images_cancelled_total)" = 1 ] ||
    fail "the cancel is not counted in sitx_images_cancelled_total"
[ "$(metric "$WORK/metrics.txt" 'sitx_images_refused_total{reason="INTEGRITY"}')" = 0 ] ||
    fail "the cancel counted as INTEGRITY"
http_get '/api/v1/events?since=0' "$WORK/events.json"
python3 - "$WORK/events.json" <<'PY' || fail "no cancelled event for cut.png in /api/v1/events"
import json, sys
evs = json.load(open(sys.argv[1]))
evs = evs["events"] if isinstance(evs, dict) else evs
assert any(e["kind"] == "cancelled" and e["status"] == "CANCELLED" and e["name"] == "cut.png"
           for e in evs), evs
PY

# Version 1: no CANCEL, the END hash withdraws it.
send --key "$WORK/alice.key" --receiver-key "$recv_pub" --compress none --protocol 1 \
    "127.0.0.1:$RECV_PORT" "$src/cut.png"
assert_rc 3 "the same image on version 1"
assert_grep 'cut\.png: not sent: .*(truncated|corrupt)' "$SEND_OUT" "the local error on version 1"
wait_log "$RECV_LOG" 'refused .*file=cut\.png status=INTEGRITY' 10 ||
    fail "version 1: the receiver did not answer INTEGRITY"
[ "$(grep -c 'cancelled by sender' "$RECV_LOG")" -eq 1 ] || fail "a CANCEL on version 1"
assert_inbox_count "$INBOX" 1
finish
