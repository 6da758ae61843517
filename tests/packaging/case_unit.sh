#!/usr/bin/env bash
# The systemd unit as "cmake --install" installs it: "systemd-analyze verify"
# finds nothing to say, and "systemd-analyze security --offline=yes" rates it
# at most 1.5 with no exposure beyond the ones a LAN-facing network daemon
# cannot avoid (listed and justified below).
#
# verify checks that ExecStart's binary exists and runs "man" for the
# Documentation= page, so it gets a copy of the unit whose ExecStart points
# into the DESTDIR tree, and MANPATH pointing at the installed pages.
. "$(dirname "$0")/lib.sh"

need_tools cmake systemd-analyze
B="$SITX_BUILD_DIR"
D="$WORK/dest"
DESTDIR="$D" cmake --install "$B" >"$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log"; die "cmake --install failed"; }
UNIT=$(find "$D" -name sitx-recv.service -type f | head -n 1)
[ -n "$UNIT" ] || die "cmake --install installed no sitx-recv.service"
note "unit: ${UNIT#"$D"}"

# --- the settings the service relies on ------------------------------------------
setting() {
    sed -n "s/^$1=//p" "$UNIT" | tail -n 1
}
while read -r key want; do
    expect_eq "$key" "$(setting "$key")" "$want"
done <<'EOF'
Type notify
NotifyAccess main
WatchdogSec 30s
User sitx
Group sitx
NoNewPrivileges yes
ProtectSystem strict
ProtectHome yes
PrivateTmp yes
PrivateDevices yes
ReadWritePaths /var/lib/sitx/inbox
RestrictAddressFamilies AF_INET AF_INET6 AF_UNIX
SystemCallErrorNumber EPERM
SystemCallArchitectures native
MemoryDenyWriteExecute yes
UMask 0027
ProtectKernelTunables yes
ProtectKernelModules yes
ProtectKernelLogs yes
ProtectControlGroups yes
ProtectClock yes
ProtectHostname yes
ProtectProc invisible
ProcSubset pid
RestrictNamespaces yes
RestrictRealtime yes
RestrictSUIDSGID yes
LockPersonality yes
PrivateUsers yes
ExecReload /bin/kill -HUP $MAINPID
Restart on-failure
EOF
grep -qx 'CapabilityBoundingSet=' "$UNIT" || fail "CapabilityBoundingSet= is not empty"
grep -qx 'SystemCallFilter=@system-service' "$UNIT" || fail "no SystemCallFilter=@system-service"
grep -q '^IPAddressDeny=' "$UNIT" && fail "IPAddressDeny= would shut out LAN senders"
case "$(setting ExecStart)" in
*' $SITX_RECV_OPTS') ;;
*) fail "ExecStart does not pass \$SITX_RECV_OPTS: $(setting ExecStart)" ;;
esac
[ -n "$(setting EnvironmentFile)" ] || fail "no EnvironmentFile="

# --- systemd-analyze verify ----------------------------------------------------------
mkdir -p "$WORK/verify"
V="$WORK/verify/sitx-recv.service"
sed "s#^ExecStart=/#ExecStart=$D/#" "$UNIT" >"$V"
man_dir=$(find "$D" -type d -path '*/share/man' | head -n 1)
man_opt=--man=yes
if ! command -v man >/dev/null 2>&1; then
    note "man missing: verify skips the Documentation= check"
    man_opt=--man=no
fi
MANPATH="$man_dir" systemd-analyze verify "$man_opt" "$V" >"$WORK/verify.out" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ -s "$WORK/verify.out" ]; then
    sed 's/^/  | /' "$WORK/verify.out"
    fail "systemd-analyze verify: exit $rc, output above"
fi
# The check above would pass a unit it cannot read: show it can fail.
printf '[Service]\nExecStart=/bin/true\nNoSuchSetting=1\n' >"$WORK/verify/bad.service"
if ! systemd-analyze verify --man=no "$WORK/verify/bad.service" 2>&1 | grep -q NoSuchSetting; then
    fail "systemd-analyze verify does not report an unknown setting here"
fi

# --- systemd-analyze security ------------------------------------------------------
# Allowed exposures, each unavoidable for this service:
#   PrivateNetwork=, RestrictAddressFamilies=~AF_(INET|INET6): it serves TCP.
#   IPAddressDeny=: senders may come from any LAN or internet address.
#   RestrictAddressFamilies=~AF_UNIX: sd_notify and the journal stream.
#   RootDirectory=/RootImage=: it runs the host's binary and libraries.
#   DeviceAllow=: ProtectClock= itself adds a read-only char-rtc rule.
#   UMask=: 0027, so the group sitx can read stored images.
# Together they weigh about 1.1; 1.5 leaves room for rounding and nothing more.
systemd-analyze security --offline=yes --no-pager "$UNIT" >"$WORK/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for sitx-recv.service: \([0-9.]*\).*/\1/p' \
    "$WORK/security.out")
[ -n "$score" ] || { cat "$WORK/security.out"; die "no exposure score in the output"; }
note "exposure: $(grep 'Overall exposure' "$WORK/security.out" | sed 's/.*: //')"
if ! awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }'; then
    fail "exposure $score is above 1.5"
fi
systemd-analyze security --offline=yes --threshold=15 --no-pager "$UNIT" >/dev/null 2>&1 ||
    fail "systemd-analyze security --threshold=15 fails"
allowed='^(PrivateNetwork=|RestrictAddressFamilies=~AF_\(INET\|INET6\)|IPAddressDeny=|'
allowed+='RestrictAddressFamilies=~AF_UNIX|RootDirectory=/RootImage=|DeviceAllow=|UMask=)$'
grep '✗' "$WORK/security.out" | awk '{ print $2 }' | sort -u >"$WORK/exposed"
while read -r what; do
    if ! grep -Eq "$allowed" <<<"$what"; then
        fail "unexpected exposure: $(grep -F -e "$what" "$WORK/security.out" | head -n 1)"
    fi
done <"$WORK/exposed"
[ -s "$WORK/exposed" ] || fail "no exposure listed at all: is the output format different?"
finish
