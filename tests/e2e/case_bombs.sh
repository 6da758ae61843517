#!/usr/bin/env bash
# Image bombs from an authorised sender (key mode, sent as they are with
# --compress none), made by sitx-imgtool bomb:
#  - eight at once (arithmetic-coded progressive JPEGs that need 30 MiB each
#    to validate and a second of CPU, a progressive JPEG that needs 33 MiB,
#    compressed-text and decompression-bomb PNGs) are all stored, some after
#    waiting for validation memory, and the receiver's peak RSS stays under
#    --validation-memory plus a baseline (without the budget it is twice
#    that: four validations at once on libuv's four threads);
#  - alone: PNG with 2.4 GB of zTXt/iTXt/iCCP stored with its bytes; 64 Mpx
#    PNG of zero rows stored; progressive JPEGs of 64 and 36 Mpx refused
#    TOO_LARGE for the memory they need; 999 scans refused at the scan cap;
#  - a PNG over the receiver's pixel limit is refused TOO_LARGE;
#  - a validation still running when its deadline passes stops: the
#    receiver's CPU time stops growing after the TIMEOUT;
#  - a sender over its validation CPU budget gets RATE_LIMITED, with the
#    wait in the message;
#  - an honest image sent afterwards is stored.
. "$(dirname "$0")/lib.sh"

src=$WORK/src
INBOX=$WORK/inbox
mkdir "$src" "$INBOX"

bomb() {
    "$IMGTOOL" bomb "$@" >/dev/null || fail "sitx-imgtool bomb $* failed"
    [ -s "$2" ] || fail "sitx-imgtool bomb $1 wrote nothing to $2"
}
bomb ztxt "$src/ztxt.png"
bomb ztxt "$src/text.png" 300
bomb pixels "$src/pixels.png" 8000 8000
bomb pixels "$src/zeros.png" 7000 7000
bomb scans "$src/scans-64mpx.jpg"                 # 8000 x 8000, 999 scans
bomb scans "$src/scans-999.jpg" 2048 2048 999
bomb arith "$src/arith-36mpx.jpg" 6000 6000 0
bomb scans "$src/prog.jpg" 2560 2048 10 # 31 MiB of coefficients
bomb arith "$src/arith.jpg" 2000 2000     # 3.5 MB, 24 MiB of coefficients
bomb arith "$src/arith-16mpx.jpg" 4000 4000 # 14 MB, 2 s of CPU in libjpeg
# Five different files of the same picture: a comment after SOI tells them apart.
for i in 1 2 3 4 5; do
    { head -c 2 "$src/arith.jpg" && printf '\377\376\000\004%02d' "$i" &&
        tail -c +3 "$src/arith.jpg"; } >"$src/arith-$i.jpg" || fail "cannot write arith-$i.jpg"
done
gen_jpeg "$src/honest.jpg" 640 480 85 7
[ "$(file_size "$src/ztxt.png")" -gt 2000000 ] || fail "ztxt.png is smaller than meant"

genkey "$SITX_RECV" "$WORK/recv.key"
recv_pub=$PUBKEY
genkey "$SITX_SEND" "$WORK/alice.key"
printf '%s alice\n' "$PUBKEY" >"$WORK/authorized"

# ksend ARGS...: one image run as alice, sent as it is, no retries.
ksend() {
    send --key "$WORK/alice.key" --receiver-key "$recv_pub" --compress none "$@"
}

# VmHWM (peak resident set) of a process, in KiB.
hwm_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# utime + stime of a process, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

BUDGET_MIB=64
# Allowed on top of the budget: the process itself, its libraries and the
# buffers of eight connections (4 MiB idle, under 16 MiB in all in the Release
# build); the sanitizers' shadow memory and quarantine need more (11 MiB
# idle).
BASELINE_MIB=20
libs=$(ldd "$SITX_RECV" 2>/dev/null)
if [[ $libs == *libasan* ]]; then
    BASELINE_MIB=40
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
fi

start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --validation-memory "${BUDGET_MIB}M" --verbose

# --- eight at once -----------------------------------------------------------
together=(arith-1.jpg arith-2.jpg arith-3.jpg arith-4.jpg arith-5.jpg prog.jpg ztxt.png zeros.png)
pids=()
for f in "${together[@]}"; do
    send_bg "at-once-${f%.*}" --key "$WORK/alice.key" --receiver-key "$recv_pub" \
        --compress none "127.0.0.1:$RECV_PORT" "$src/$f"
    pids+=("$BG_PID")
done
for i in "${!together[@]}"; do
    f=${together[$i]}
    wait_send "at-once-${f%.*}" "${pids[$i]}"
    assert_rc 0 "${together[$i]} among eight at once"
done
assert_inbox_count "$INBOX" 8
for f in "${together[@]}"; do
    stored_for "$INBOX" "${f%.*}"
    assert_same_bytes "$src/$f" "$STORED"
done
peak=$(hwm_kib "$RECV_PID")
note "peak RSS with eight bombs at once: $((peak / 1024)) MiB (budget $BUDGET_MIB + $BASELINE_MIB)"
[ "$peak" -le $(((BUDGET_MIB + BASELINE_MIB) * 1024)) ] ||
    fail "receiver peak RSS $((peak / 1024)) MiB is over ${BUDGET_MIB} + ${BASELINE_MIB} MiB"
note "transfers that waited for validation memory: $(grep -c 'memory-wait' "$RECV_LOG")"

# --- one at a time -------------------------------------------------------------
ksend "127.0.0.1:$RECV_PORT" "$src/text.png"
assert_rc 0 "PNG with 2.4 GB of compressed text"
stored_for "$INBOX" text
assert_same_bytes "$src/text.png" "$STORED"
ksend "127.0.0.1:$RECV_PORT" "$src/pixels.png"
assert_rc 0 "PNG of 64 Mpx zero rows"
stored_for "$INBOX" pixels
assert_same_bytes "$src/pixels.png" "$STORED"

for f in scans-64mpx.jpg arith-36mpx.jpg; do
    ksend --retries 0 "127.0.0.1:$RECV_PORT" "$src/$f"
    assert_rc 1 "$f"
    assert_grep "TOO_LARGE.*(needs|memory)" "$SEND_OUT" "$f refused for the memory it needs"
done
ksend --retries 0 "127.0.0.1:$RECV_PORT" "$src/scans-999.jpg"
assert_rc 1 "progressive JPEG of 999 scans"
assert_grep 'TOO_LARGE.*scan' "$SEND_OUT" "999 scans refused at the scan cap"
assert_grep 'refused .*file=scans-999.jpg status=TOO_LARGE' "$RECV_LOG" "receiver log of the refusal"
assert_inbox_count "$INBOX" 10
assert_no_tmp "$INBOX"

ksend "127.0.0.1:$RECV_PORT" "$src/honest.jpg"
assert_rc 0 "an honest image after the bombs"
stored_for "$INBOX" honest
assert_same_bytes "$src/honest.jpg" "$STORED"
stop_recv

# --- over the pixel limit --------------------------------------------------------
INBOX=$WORK/inbox2 # a fresh inbox: nothing there is "already stored"
mkdir "$INBOX"
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --max-pixels 16M
ksend --retries 0 "127.0.0.1:$RECV_PORT" "$src/pixels.png"
assert_rc 1 "64 Mpx PNG over a 16 Mpx limit"
assert_grep 'TOO_LARGE.*pixels' "$SEND_OUT" "pixel limit refusal"
assert_inbox_count "$INBOX" 0
stop_recv

# --- the deadline stops validation --------------------------------------------------
# The shortcut steps aside for arithmetic coding, so libjpeg decodes the
# 16 Mpx noise itself (two seconds of CPU in the Release build) until the
# 100 ms deadline cancels it.
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --validation-memory 512M --deadline 100ms
ksend --retries 0 "127.0.0.1:$RECV_PORT" "$src/arith-16mpx.jpg"
assert_rc 1 "16 Mpx arithmetic-coded JPEG under a 100 ms deadline"
assert_grep 'TIMEOUT' "$SEND_OUT" "TIMEOUT for the slow validation"
wait_log "$RECV_LOG" 'timeout .*file=arith-16mpx.jpg' 10 || fail "no timeout line in the receiver log"
sleep 0.5
t1=$(cpu_ticks "$RECV_PID")
sleep 1.5
t2=$(cpu_ticks "$RECV_PID")
note "receiver CPU in the 1.5 s after the TIMEOUT: $((t2 - t1)) ticks"
# Without the cancel the decode would run on at a full core (150 ticks in
# 1.5 s); stopped, it idles.
[ $((t2 - t1)) -le 30 ] || fail "the receiver kept using CPU after the TIMEOUT: $((t2 - t1)) ticks in 1.5 s"
assert_inbox_count "$INBOX" 0

stop_recv

# Each 2000 x 2000 arithmetic-coded JPEG costs about a second of CPU to
# validate, over a budget of 1 s a minute: after one or two are stored the
# sender is told to wait, with the wait in the message.
start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$WORK/authorized" \
    --validation-memory 512M --validation-cpu 1
limited=0
stored=0
for i in 1 2 3 4 5; do
    ksend --retries 0 "127.0.0.1:$RECV_PORT" "$src/arith-$i.jpg"
    if grep -q 'RATE_LIMITED' "$SEND_OUT"; then
        assert_rc 1 "arith-$i.jpg over the CPU budget"
        limited=1
        break
    fi
    assert_rc 0 "arith-$i.jpg within the CPU budget"
    stored=$((stored + 1))
done
[ "$limited" = 1 ] || fail "no RATE_LIMITED after five slow validations with --validation-cpu 1"
[ "$stored" -ge 1 ] || fail "the first image was refused before any CPU was spent"
note "stored $stored before RATE_LIMITED"
assert_grep 'RATE_LIMITED.*CPU budget.*retry in [0-9]+ s' "$SEND_OUT" "CPU budget refusal with the wait"
assert_inbox_count "$INBOX" "$stored"

finish
