#!/usr/bin/env bash
# What sitx-recv.service relies on, played the way systemd plays it, without
# systemd: the options of receiver/sitx-recv.conf, split as ExecStart splits
# $SITX_RECV_OPTS (only its paths moved into a temporary directory and its
# port made free), start the receiver; NOTIFY_SOCKET gets READY=1 once it
# listens (Type=notify), WATCHDOG=1 at half of WATCHDOG_USEC (WatchdogSec=),
# RELOADING=1 then READY=1 on SIGHUP (ExecReload=), STOPPING=1 on SIGTERM,
# each from the main process itself (NotifyAccess=main); with JOURNAL_STREAM
# set, every log line carries its syslog level; UMask=0027 still stores
# images 0640; SIGTERM ends it with status 0.
. "$(dirname "$0")/lib.sh"

need_tools python3
for v in SITX_RECV SITX_SEND; do
    [ -x "${!v:-}" ] || die "$v is not an executable"
done
unset SITX_PASSWORD SITX_LOG_JSON

mkdir -p "$WORK/etc" "$WORK/inbox"
chmod 0750 "$WORK/etc" "$WORK/inbox"

# --- the configuration, read as systemd reads it ----------------------------------
CONF="$WORK/etc/sitx-recv.conf"
sed -e "s#/etc/sitx/#$WORK/etc/#g" -e "s#/var/lib/sitx/inbox#$WORK/inbox#g" \
    -e 's#--listen 0\.0\.0\.0:7717#--listen 127.0.0.1:0#' \
    "$SITX_SOURCE_DIR/receiver/sitx-recv.conf" >"$CONF"
grep -q -- '--listen 127.0.0.1:0' "$CONF" || die "the configuration no longer listens on 0.0.0.0:7717"
opts=$(env -i /bin/sh -c '. "$1" && printf "%s" "$SITX_RECV_OPTS"' sh "$CONF") ||
    die "the configuration is not a valid environment file"
# ExecStart splits an unbraced $VAR at white space (new lines too) and
# removes quotes.
opts=${opts//$'\n'/ }
eval "set -- $opts"
[ $# -gt 0 ] || die "SITX_RECV_OPTS is empty"
note "options: $*"

"$SITX_RECV" --gen-key "$WORK/etc/recv.key" >"$WORK/recv.pub" || die "receiver --gen-key failed"
"$SITX_SEND" --gen-key "$WORK/send.key" >"$WORK/send.pub" 2>/dev/null || die "sender --gen-key failed"
"$SITX_SEND" --gen-key "$WORK/send2.key" >"$WORK/send2.pub" 2>/dev/null || die "--gen-key failed"
printf '%s first-sender\n' "$(head -n 1 "$WORK/send.pub")" >"$WORK/etc/authorized_senders"

# --- a notify socket that records who sent what ----------------------------------
cat >"$WORK/notify.py" <<'EOF'
import socket, struct, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
with open(out, "a", buffering=1) as f:
    f.write("bound\n")
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        for line in msg.decode("utf-8", "replace").split("\n"):
            if line:
                f.write("%d %s\n" % (pid, line))
EOF
NOTIFY="$WORK/notify.log"
: >"$NOTIFY"
python3 "$WORK/notify.py" "$WORK/notify.sock" "$NOTIFY" &
PKG_PIDS+=($!)

# wait_for WHAT FILE PATTERN [SECONDS]: until a line of FILE matches.
wait_for() {
    local i
    for ((i = 0; i < ${4:-30} * 10; i++)); do
        if grep -Eq -e "$3" "$2"; then
            return 0
        fi
        sleep 0.1
    done
    fail "no $1 within ${4:-30} s"
    return 1
}
wait_for "notify socket" "$NOTIFY" '^bound$' 10 || finish

# --- start it as the unit does ------------------------------------------------------
LOG="$WORK/recv.log"
: >"$LOG"
# JOURNAL_STREAM names stderr's device and inode, as systemd sets it.
journal=$(stat -c '%d:%i' "$LOG")
(
    umask 0027
    export NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=2000000 JOURNAL_STREAM="$journal"
    # WATCHDOG_PID must be the main process: this shell's pid, kept by exec.
    exec bash -c 'export WATCHDOG_PID=$$; exec "$0" "$@"' "$SITX_RECV" "$@" 2>>"$LOG"
) &
RECV_PID=$!
PKG_PIDS+=("$RECV_PID")

if ! wait_for "READY=1" "$NOTIFY" "^$RECV_PID READY=1$"; then
    sed 's/^/  | /' "$LOG"
    finish
fi
port=$(sed -n 's/.*sitx-recv: listening addr=[^ ]*:\([0-9]*\) .*/\1/p' "$LOG" | head -n 1)
[ -n "$port" ] || { sed 's/^/  | /' "$LOG"; die "no port in the listening line"; }
note "listening on 127.0.0.1:$port"
# The first ping comes 1 s after start; two show it keeps coming.
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    [ "$(grep -c "^$RECV_PID WATCHDOG=1$" "$NOTIFY")" -ge 2 ] && break
    sleep 0.5
done
[ "$(grep -c "^$RECV_PID WATCHDOG=1$" "$NOTIFY")" -ge 2 ] || fail "fewer than two WATCHDOG=1 in 10 s"

# --- an image through the configured key mode --------------------------------------
python3 - "$WORK/img.png" <<'EOF'
import struct, sys, zlib
w, h = 16, 16
raw = b"".join(b"\0" + b"".join(bytes((x * 16, y * 16, 128)) for x in range(w))
               for y in range(h))
def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
       chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
EOF
timeout 60 "$SITX_SEND" --quiet --key "$WORK/send.key" --receiver-key "$WORK/recv.pub" \
    "127.0.0.1:$port" "$WORK/img.png" >"$WORK/send.out" 2>&1
rc=$?
expect_eq "sitx-send exit status" "$rc" 0
stored=$(find "$WORK/inbox" -maxdepth 1 -type f ! -name '.*' | head -n 1)
if [ -z "$stored" ]; then
    fail "no image in the inbox"
else
    expect_eq "mode of the stored image under UMask=0027" "$(stat -c %a "$stored")" 640
    cmp -s "$stored" "$WORK/img.png" || note "stored file differs from the original (recompressed)"
fi

# --- reload: ExecReload=/bin/kill -HUP $MAINPID ----------------------------------------
printf '%s second-sender\n' "$(head -n 1 "$WORK/send2.pub")" >>"$WORK/etc/authorized_senders"
n_ready=$(grep -c "^$RECV_PID READY=1$" "$NOTIFY")
kill -HUP "$RECV_PID"
wait_for "RELOADING=1" "$NOTIFY" "^$RECV_PID RELOADING=1$" 10
for _ in $(seq 100); do
    [ "$(grep -c "^$RECV_PID READY=1$" "$NOTIFY")" -gt "$n_ready" ] && break
    sleep 0.1
done
[ "$(grep -c "^$RECV_PID READY=1$" "$NOTIFY")" -gt "$n_ready" ] || fail "no READY=1 after the reload"
if ! awk -v p="$RECV_PID" '$0 == p " RELOADING=1" { r = NR } $0 == p " READY=1" && r { ok = 1 }
    END { exit !ok }' "$NOTIFY"; then
    fail "READY=1 did not follow RELOADING=1"
fi
wait_for "reloaded log line" "$LOG" 'sitx-recv: reloaded .*authorized=2' 10

# --- stop: SIGTERM, as systemctl stop sends it -------------------------------------------
kill -TERM "$RECV_PID"
wait_for "STOPPING=1" "$NOTIFY" "^$RECV_PID STOPPING=1$" 10
status=timeout
for _ in $(seq 150); do
    if ! kill -0 "$RECV_PID" 2>/dev/null; then
        wait "$RECV_PID"
        status=$?
        break
    fi
    sleep 0.1
done
expect_eq "exit status after SIGTERM" "$status" 0

# --- what the journal would have seen ---------------------------------------------------
if grep -v '^<[3-7]>sitx-recv: ' "$LOG"; then
    fail "log lines above lack a <N> level prefix under JOURNAL_STREAM"
fi
grep -q '^<6>sitx-recv: listening ' "$LOG" || fail "no <6> listening line"
grep -q '^<6>sitx-recv: stored ' "$LOG" || fail "no <6> stored line"
grep -q '^<5>sitx-recv: stopped' "$LOG" || fail "no <5> stopped line"
# Only the main process may notify (NotifyAccess=main).
if awk -v p="$RECV_PID" '$1 != "bound" && $1 != p' "$NOTIFY" | grep .; then
    fail "notifications above came from another process than the main one"
fi
if [ "$PKG_FAILS" -ne 0 ]; then
    echo "----- receiver log -----"
    sed 's/^/  | /' "$LOG"
    echo "----- notifications -----"
    sed 's/^/  | /' "$NOTIFY"
    echo "----- sender -----"
    sed 's/^/  | /' "$WORK/send.out"
fi
finish
