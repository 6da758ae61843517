#!/usr/bin/env bash
# "cmake --install" of the build tree ctest runs in, into a DESTDIR: the
# binaries, man pages, unit, example configuration and guides land where
# GNUInstallDirs and systemd say, and the installed unit and configuration
# name the paths of this prefix (a /usr/local build must not start
# /usr/bin/sitx-recv), differing from the sources in those paths only.
. "$(dirname "$0")/lib.sh"

need_tools cmake
B="$SITX_BUILD_DIR"
D="$WORK/dest"

cache() {
    sed -n "s/^$1:[A-Z]*=//p" "$B/CMakeCache.txt"
}
PREFIX=$(cache CMAKE_INSTALL_PREFIX)
BINDIR=$(cache CMAKE_INSTALL_BINDIR)
# GNUInstallDirs leaves MANDIR empty in the cache when it is the default.
MANDIR=$(cache CMAKE_INSTALL_MANDIR)
DATAROOTDIR=$(cache CMAKE_INSTALL_DATAROOTDIR)
MANDIR=${MANDIR:-${DATAROOTDIR:-share}/man}
UNITDIR=$(cache SITX_SYSTEMD_UNITDIR_USED)
[ -n "$PREFIX" ] && [ -n "$UNITDIR" ] || die "no install settings in $B/CMakeCache.txt"
abs() { # a GNUInstallDirs value: absolute as is, else below the prefix
    case "$1" in
    /*) echo "$1" ;;
    *) echo "$PREFIX/$1" ;;
    esac
}
note "prefix $PREFIX, unit dir $UNITDIR"
# The distribution's unit directory is for packages; other prefixes keep
# the unit below themselves.
if [ "$PREFIX" != /usr ]; then
    case "$(abs "$UNITDIR")" in
    "$PREFIX"/*) ;;
    *) fail "prefix $PREFIX installs the unit outside it, in $UNITDIR" ;;
    esac
fi

DESTDIR="$D" cmake --install "$B" >"$WORK/install.log" 2>&1 ||
    { cat "$WORK/install.log"; die "cmake --install failed"; }

BIN="$D$(abs "$BINDIR")"
for prog in sitx-recv sitx-send; do
    [ -x "$BIN/$prog" ] || fail "no executable $BIN/$prog"
done
MAN="$D$(abs "$MANDIR")"
for page in man1/sitx-send.1 man8/sitx-recv.8; do
    if [ -f "$MAN/$page.gz" ]; then
        gzip -dc "$MAN/$page.gz" | cmp -s - "$SITX_SOURCE_DIR/docs/$(basename "$page")" ||
            fail "$page.gz is not the page from docs/"
    elif [ -f "$MAN/$page" ]; then
        cmp -s "$MAN/$page" "$SITX_SOURCE_DIR/docs/$(basename "$page")" ||
            fail "$page is not the page from docs/"
    else
        fail "no $MAN/$page(.gz)"
    fi
done
UNIT="$D$(abs "$UNITDIR")/sitx-recv.service"
[ -f "$UNIT" ] || die "no unit at $UNIT"
expect_file_mode "$UNIT" 644 "$(id -u)" "$(id -g)"

# Every path the unit names exists in the installed tree.
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNIT")
env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$UNIT")
expect_eq "ExecStart binary" "$exec_start" "$(abs "$BINDIR")/sitx-recv"
[ -x "$D$exec_start" ] || fail "ExecStart names $exec_start, not installed"
[ -f "$D$env_file" ] || fail "EnvironmentFile names $env_file, not installed"
confdir=$(dirname "$env_file")
expect_file_mode "$D$confdir" 750 "$(id -u)" "$(id -g)"
expect_file_mode "$D$env_file" 644 "$(id -u)" "$(id -g)"
rw=$(sed -n 's/^ReadWritePaths=//p' "$UNIT")
expect_eq "ReadWritePaths" "$rw" /var/lib/sitx/inbox

# Mapped back to the Debian paths, the installed files are the sources.
to_debian() {
    sed -e "s#$(abs "$BINDIR")/sitx-recv#/usr/bin/sitx-recv#g" -e "s#$confdir/#/etc/sitx/#g" "$1"
}
to_debian "$UNIT" | cmp -s - "$SITX_SOURCE_DIR/receiver/sitx-recv.service" ||
    fail "installed unit differs from receiver/sitx-recv.service beyond its paths"
to_debian "$D$env_file" | cmp -s - "$SITX_SOURCE_DIR/receiver/sitx-recv.conf" ||
    fail "installed configuration differs from receiver/sitx-recv.conf beyond its paths"
# The configuration's key paths point into the configuration directory.
for opt in --key --authorized; do
    path=$(sed -n "s/^[[:space:]]*$opt[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p" "$D$env_file")
    expect_eq "$opt in the configuration" "$(dirname "$path")" "$confdir"
done

for doc in OPERATING.md SENDING.md; do
    [ -n "$(find "$D$PREFIX" -path "*/doc/sitx/$doc" -type f)" ] || fail "$doc not installed"
done
finish
