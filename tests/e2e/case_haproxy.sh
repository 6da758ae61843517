#!/usr/bin/env bash
# Two receivers behind a real HAProxy (mode tcp, balance roundrobin,
# send-proxy-v2, one server with the CRC32C TLV, the other with health
# checks that send LOCAL headers): images sent through it are
# stored by both receivers with the same pixels, and the receivers log the
# sender's address (127.0.0.1), not HAProxy's (it connects from 127.0.0.5,
# the only trusted proxy). Direct connections are refused: from an
# untrusted address even with a valid header, and from the trusted address
# without one (or with a v1 text line); a LOCAL header (a health check) is
# answered with the greeting. HAProxy and the receivers are stopped here.
. "$(dirname "$0")/lib.sh"

HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
if [ ! -x "$HAPROXY" ]; then
    [ "${CI:-}" = true ] && fail "haproxy is not installed (scripts/setup installs it)"
    skip "haproxy is not installed (Debian package haproxy; scripts/setup installs it)"
fi
command -v ss >/dev/null 2>&1 || skip "ss (iproute2) is needed to see HAProxy listen"
PROXY_ADDR=127.0.0.5

src=$WORK/src
mkdir -p "$src" "$WORK/inbox1" "$WORK/inbox2"
gen_png "$src/lb-1.png" 160 120 301
gen_jpeg "$src/lb-2.jpg" 200 150 85 302
gen_png "$src/lb-3.png" 90 70 303
gen_jpeg "$src/lb-4.jpg" 120 90 90 304

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"

# The hook of docs/OPERATING.md ("More than one receiver"), with the shared
# directory as its argument: files each image by sender and content hash.
SHARED=$WORK/shared
mkdir -p "$SHARED"
cat >"$WORK/to-shared.sh" <<'HOOK'
#!/bin/sh
set -e
dir=$1
ext=${SITX_NAME##*.}
tmp="$dir/.incoming.$(uname -n).$$"
cp "$SITX_FILE" "$tmp"
ln "$tmp" "$dir/$SITX_SENDER-$SITX_HASH.$ext" 2>/dev/null || true
rm -f "$tmp"
HOOK
chmod +x "$WORK/to-shared.sh"

# Both receivers share one key, so a sender pins one receiver key for the
# pair; each has its own inbox, and the hook feeds the shared directory.
start_recv --inbox "$WORK/inbox1" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --proxy-protocol --proxy-trusted "$PROXY_ADDR,::1" --verbose \
    --on-receive "$WORK/to-shared.sh $SHARED"
R1_PID=$RECV_PID R1_PORT=$RECV_PORT R1_LOG=$RECV_LOG
start_recv --inbox "$WORK/inbox2" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --proxy-protocol --proxy-trusted "$PROXY_ADDR/32" --verbose \
    --on-receive "$WORK/to-shared.sh $SHARED"
R2_PID=$RECV_PID R2_PORT=$RECV_PORT R2_LOG=$RECV_LOG

# A free port for HAProxy's frontend.
HA_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    fail "cannot find a free port"
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend sitx
    bind 127.0.0.1:$HA_PORT
    default_backend receivers
backend receivers
    balance roundrobin
    server r1 127.0.0.1:$R1_PORT send-proxy-v2 proxy-v2-options crc32c source $PROXY_ADDR
    server r2 127.0.0.1:$R2_PORT send-proxy-v2 source $PROXY_ADDR check check-send-proxy inter 1s
EOF
"$HAPROXY" -c -f "$WORK/haproxy.cfg" >"$WORK/haproxy-check.log" 2>&1 ||
    fail "haproxy -c refuses the configuration: $(cat "$WORK/haproxy-check.log")"
HA_LOG=$WORK/haproxy.log
E2E_LOGS+=("$HA_LOG")
"$HAPROXY" -db -f "$WORK/haproxy.cfg" >"$HA_LOG" 2>&1 </dev/null &
HA_PID=$!
E2E_PIDS+=("$HA_PID")
ha_listening() {
    kill -0 "$HA_PID" 2>/dev/null || fail "haproxy exited: $(cat "$HA_LOG")"
    [ -n "$(ss -Hltn "sport = :$HA_PORT")" ]
}
wait_until 20 ha_listening || fail "haproxy is not listening on $HA_PORT after 20 s"
note "haproxy pid $HA_PID on port $HA_PORT -> $R1_PORT, $R2_PORT"

# Four sends, one connection each: round robin gives each receiver two.
for img in lb-1.png lb-2.jpg lb-3.png lb-4.jpg; do
    send --key "$WORK/alice.key" --receiver-key "$recv_pub" "127.0.0.1:$HA_PORT" "$src/$img"
    assert_rc 0 "send of $img through haproxy"
done
n1=$(inbox_files "$WORK/inbox1" | wc -l)
n2=$(inbox_files "$WORK/inbox2" | wc -l)
note "receiver 1 stored $n1, receiver 2 stored $n2"
[ "$n1" -ge 1 ] && [ "$n2" -ge 1 ] || fail "round robin did not reach both receivers ($n1, $n2)"
[ $((n1 + n2)) -eq 4 ] || fail "want 4 images stored in all, got $n1 + $n2"
for stem in lb-1 lb-2 lb-3 lb-4; do
    if inbox_files "$WORK/inbox1" | grep -q "^$stem\."; then
        stored_for "$WORK/inbox1" "$stem"
    else
        stored_for "$WORK/inbox2" "$stem"
    fi
    assert_same_pixels "$src/$stem".* "$STORED"
done

# Both receivers saw the sender's own address and the proxy beside it; the
# stored and authenticated lines name 127.0.0.1, never HAProxy's address.
# Receiver 1 gets the CRC32C TLV, and checks it.
assert_grep "proxied peer=127\.0\.0\.1:[0-9]+ via=$PROXY_ADDR:[0-9]+ crc32c=ok" "$R1_LOG" \
    "receiver 1 checked HAProxy's CRC32C"
assert_no_grep "crc32c=none" "$R1_LOG" "every header to receiver 1 carried a CRC32C"
assert_grep "proxied peer=127\.0\.0\.1:[0-9]+ via=$PROXY_ADDR:[0-9]+ crc32c=none" "$R2_LOG" \
    "receiver 2 logs the real address and the proxy"
for log in "$R1_LOG" "$R2_LOG"; do
    assert_grep 'authenticated peer=127\.0\.0\.1:[0-9]+ key=' "$log" "authenticated as 127.0.0.1"
    assert_grep 'stored peer=127\.0\.0\.1:[0-9]+ ' "$log" "stored from 127.0.0.1"
    # Health checks (LOCAL headers) keep HAProxy's address and may close
    # before a HELLO; what must never carry it is an authenticated sender.
    assert_no_grep "(authenticated|stored) peer=$PROXY_ADDR|connection-closed peer=$PROXY_ADDR:[0-9]+ key=[^-]" \
        "$log" "HAProxy's address stands for no sender"
    assert_no_grep 'proxy-header-failed' "$log" "every header HAProxy sent was accepted"
done

# probe SRC PORT HEX: connects from SRC, sends the bytes, prints what came
# back before the receiver closed ("" when nothing did), as hex.
probe() {
    timeout 20 python3 - "$@" <<'EOF'
import socket, sys
src, port, data = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
if data:
    s.sendall(data)
got = b""
try:
    while len(got) < 4096:
        b = s.recv(4096)
        if not b:
            break
        got += b
        if len(got) >= 32 and data[12:13] == b"\x20":
            break  # a LOCAL header: the greeting is all we wait for
except (ConnectionResetError, socket.timeout):
    pass
print(got.hex())
EOF
}
SIG=0d0a0d0a000d0a515549540a
# PROXY TCP4 192.0.2.7:51514 -> 127.0.0.1:PORT, a valid header.
HDR=${SIG}2111000cc0000207"7f000001"c93a1e25

# From an untrusted address: refused before a byte is read, even with a valid header.
out=$(probe 127.0.0.1 "$R1_PORT" "$HDR") || fail "probe failed"
[ -z "$out" ] || fail "an untrusted peer with a PROXY header got an answer: $out"
wait_log "$R1_LOG" 'connection-refused peer=127\.0\.0\.1:[0-9]+ reason=untrusted-proxy' 10 ||
    fail "no untrusted-proxy refusal logged"
# A real sender straight to a receiver: refused the same way (it takes that
# for a busy receiver and tries again for its --timeout).
send --key "$WORK/alice.key" --receiver-key "$recv_pub" --retries 0 --timeout 2 \
    "127.0.0.1:$R2_PORT" "$src/lb-1.png"
[ "$SEND_RC" -ne 0 ] || fail "a direct send past the proxy succeeded"
wait_log "$R2_LOG" 'connection-refused peer=127\.0\.0\.1:[0-9]+ reason=untrusted-proxy' 10 ||
    fail "the direct sender was not refused as untrusted"

# From the trusted address without a header (a sender's HELLO first): no
# greeting, closed, logged.
out=$(probe "$PROXY_ADDR" "$R1_PORT" 5349545801010000) || fail "probe failed"
[ -z "$out" ] || fail "a connection without a PROXY header got an answer: $out"
wait_log "$R1_LOG" "proxy-header-failed peer=$PROXY_ADDR:[0-9]+ reason=malformed" 10 ||
    fail "no proxy-header-failed for a connection without a header"
# ... nor with the version 1 text line.
v1=$(printf 'PROXY TCP4 192.0.2.7 127.0.0.1 51514 7717\r\n' | od -An -tx1 | tr -d ' \n')
out=$(probe "$PROXY_ADDR" "$R2_PORT" "$v1") || fail "probe failed"
[ -z "$out" ] || fail "a v1 PROXY line got an answer: $out"
wait_log "$R2_LOG" "proxy-header-failed peer=$PROXY_ADDR:[0-9]+ reason=version .*version 1" 10 ||
    fail "a v1 header was not refused by name"
# ... nor when it stays silent: the short header timeout ends it.
out=$(probe "$PROXY_ADDR" "$R2_PORT" "") || fail "probe failed"
[ -z "$out" ] || fail "a silent connection got an answer: $out"
assert_grep "proxy-header-failed peer=$PROXY_ADDR:[0-9]+ reason=timeout" "$R2_LOG" \
    "a silent trusted peer times out"

# A LOCAL header (what a health check sends): the greeting comes back, and
# the connection is the proxy's own.
out=$(probe "$PROXY_ADDR" "$R1_PORT" "${SIG}20000000") || fail "probe failed"
[ "${#out}" -ge 64 ] && [ "${out:0:8}" = 53495458 ] ||
    fail "no greeting after a LOCAL header: '$out'"
assert_grep "proxy-local peer=$PROXY_ADDR:[0-9]+" "$R1_LOG" "LOCAL keeps the proxy's address"

# Admission counts the header's address, not the proxy's: with
# --max-startups-per-address 1, a second unauthenticated connection for
# 192.0.2.7 takes the first one's slot (which is closed), while one for
# 192.0.2.8 leaves both alone, though all three come from the proxy.
mkdir -p "$WORK/inbox3"
start_recv --inbox "$WORK/inbox3" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --proxy-protocol --proxy-trusted "$PROXY_ADDR" --max-startups-per-address 1 --log-interval 1
R3_LOG=$RECV_LOG
timeout 30 python3 - "$PROXY_ADDR" "$RECV_PORT" "$SIG" >"$WORK/cap.out" 2>&1 <<'PY' ||
import socket, sys
src, port, sig = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
def conn(last_octet):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
    s.sendall(sig + bytes([0x21, 0x11, 0, 12, 192, 0, 2, last_octet, 127, 0, 0, 1,
                           0xC9, 0x3A, 0x1E, 0x25]))
    return s
def greeting(s):
    got = b""
    try:
        while len(got) < 32:
            b = s.recv(32 - len(got))
            if not b:
                break
            got += b
    except ConnectionResetError:
        pass
    return len(got)
def closed(s):
    s.settimeout(1)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
a = conn(7)
ga = greeting(a)
b = conn(7)
gb = greeting(b)
c = conn(8)
gc = greeting(c)
got = (ga, gb, gc, closed(a), closed(b), closed(c))
print(*got)
sys.exit(0 if got == (32, 32, 32, True, False, False) else 1)
PY
    fail "admission behind the proxy: greetings and closes $(cat "$WORK/cap.out") (want 32 32 32 True False False)"
# The eviction is summarised under the real address, not the proxy's.
wait_log "$R3_LOG" 'connections-evicted count=1 addresses=1 seconds=[0-9]+ top=192\.0\.2\.7\*1$' 10 ||
    fail "no eviction summary naming 192.0.2.7"
stop_recv TERM

# The shared directory holds the four images once each, with their bytes.
shared_count() { find "$SHARED" -maxdepth 1 -type f ! -name '.*' | wc -l; }
hooks_done() { cat "$R1_LOG" "$R2_LOG" | grep -c 'hook-done '; }
hooks_at_least() { [ "$(hooks_done)" -ge "$1" ]; } # counted anew on every poll
wait_until 20 hooks_at_least 4 || fail "$(hooks_done) hook(s) finished, want 4"
assert_no_grep 'hook-(failed|timeout|dropped)' "$R1_LOG" "the hook ran cleanly on receiver 1"
assert_no_grep 'hook-(failed|timeout|dropped)' "$R2_LOG" "the hook ran cleanly on receiver 2"
[ "$(shared_count)" -eq 4 ] || fail "the hooks filed $(shared_count) image(s), want 4"
for img in lb-1.png lb-2.jpg lb-3.png lb-4.jpg; do
    stem=${img%.*}
    if inbox_files "$WORK/inbox1" | grep -q "^$stem\."; then
        stored_for "$WORK/inbox1" "$stem"
    else
        stored_for "$WORK/inbox2" "$stem"
    fi
    h=$(b2sum -l 256 "$STORED" | cut -d' ' -f1)
    shared=$(find "$SHARED" -maxdepth 1 -name "*-$h.${img##*.}")
    [ -n "$shared" ] || fail "no shared copy of $img (hash $h)"
    assert_same_bytes "$STORED" "$shared"
done

# The receivers still serve through HAProxy after all that. lb-2 again:
# the receiver that stored it says "already stored"; the other one (round
# robin) stores a second copy, since its index does not know the first.
# Either way the shared directory still holds it once.
send --key "$WORK/alice.key" --receiver-key "$recv_pub" "127.0.0.1:$HA_PORT" "$src/lb-2.jpg"
assert_rc 0 "a send through haproxy after the refusals"
if grep -q 'already stored' "$SEND_OUT"; then
    note "lb-2 reached the receiver that had it: already stored"
else
    assert_grep 'stored as lb-2' "$SEND_OUT" "lb-2 stored by the other receiver"
    [ "$(inbox_files "$WORK/inbox1" | grep -c '^lb-2')" -eq 1 ] &&
        [ "$(inbox_files "$WORK/inbox2" | grep -c '^lb-2')" -eq 1 ] ||
        fail "want one lb-2 in each inbox: $(inbox_files "$WORK/inbox1") / $(inbox_files "$WORK/inbox2")"
    note "lb-2 reached the other receiver: stored there too"
    wait_until 20 hooks_at_least 5 || fail "the second copy's hook did not finish"
fi
[ "$(shared_count)" -eq 4 ] || fail "the shared directory holds $(shared_count) images, want 4"

kill -TERM "$HA_PID" 2>/dev/null
wait_exit "$HA_PID" 10 || fail "haproxy did not stop on SIGTERM"
RECV_PID=$R1_PID RECV_LOG=$R1_LOG
stop_recv TERM
RECV_PID=$R2_PID RECV_LOG=$R2_LOG
stop_recv TERM
check_sanitizers "$R3_LOG"
assert_no_tmp "$WORK/inbox1"
assert_no_tmp "$WORK/inbox2"
pass
