#!/usr/bin/env bash
# The Debian package: build it as a packager would (a separate build tree,
# cpack -G DEB), first with the default prefix, then with /usr, and check
# both give the same package below /usr; read its control data and file
# list, then install, upgrade, remove and purge it in a throw-away root.
#
# The throw-away root is a directory with its own /etc/passwd, /etc/group and
# dpkg database. "dpkg --root=R --force-script-chrootless" runs the
# maintainer scripts on this machine with DPKG_ROOT=R, and the scripts then
# create the user with "useradd --prefix R" and touch only paths below R, so
# no user or directory appears on the host (checked: its passwd, group,
# shadow and gshadow stay byte-identical). R's dpkg database lists this
# machine's copies of the packages the .deb depends on, so dpkg checks the
# declared Depends against real Debian 12 packages instead of being forced.
# Without root the whole case runs under fakeroot.
. "$(dirname "$0")/lib.sh"

need_tools cmake cpack dpkg-deb dpkg dpkg-query dpkg-statoverride
if [ "$(id -u)" -ne 0 ]; then
    if [ "${SITX_PKG_FAKEROOT:-0}" = 1 ]; then
        die "fakeroot did not give uid 0"
    fi
    command -v fakeroot >/dev/null 2>&1 || skip_or_fail "not root and no fakeroot"
    note "not root: running under fakeroot"
    rm -rf "$WORK"
    SITX_PKG_FAKEROOT=1 exec fakeroot -- "$BASH" "$0"
fi

VERSION=$(project_version)
[ -n "$VERSION" ] || die "no version in $SITX_SOURCE_DIR/CMakeLists.txt"
ARCH=$(dpkg --print-architecture)

# --- build the package -------------------------------------------------------------
# All steps share 150 s (a clean build takes about 10 s on two cores),
# so with the checks after them the case ends within three minutes.
B="${SITX_DEB_BUILD_DIR:-$WORK/build}"
BUILD_END=$((SECONDS + 150))
left() {
    local n=$((BUILD_END - SECONDS))
    echo $((n > 1 ? n : 1))
}
# configure WHAT CMAKE-ARGS...: (re)configures $B for a Release package.
configure() {
    local what=$1
    shift
    note "configuring $B ($what, Release)"
    timeout "$(left)" cmake -S "$SITX_SOURCE_DIR" -B "$B" "$@" \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DSITX_SANITIZE= -DSITX_FUZZ=OFF \
        >"$WORK/configure.log" 2>&1 || { tail -n 30 "$WORK/configure.log"; die "configure failed"; }
}
# package OUT: builds $B and runs cpack; the .deb goes to OUT.
package() {
    note "building"
    timeout "$(left)" cmake --build "$B" -j 2 >"$WORK/build.log" 2>&1 ||
        { tail -n 30 "$WORK/build.log"; die "build failed (or ran out of time)"; }
    rm -f "$B"/sitx_*.deb
    note "cpack -G DEB"
    (cd "$B" && timeout "$(left)" cpack -G DEB) >"$WORK/cpack.log" 2>&1 ||
        { tail -n 30 "$WORK/cpack.log"; die "cpack failed (or ran out of time)"; }
    [ -f "$B/sitx_${VERSION}_${ARCH}.deb" ] || die "cpack made no sitx_${VERSION}_${ARCH}.deb"
    mv "$B/sitx_${VERSION}_${ARCH}.deb" "$1"
}
# A packager's tree need not set the prefix: with the default (/usr/local)
# the package must still install below /usr, its unit and configuration
# naming /usr/bin and /etc/sitx. It must be the very package a /usr tree makes.
configure "default prefix" -UCMAKE_INSTALL_PREFIX
grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr/local' "$B/CMakeCache.txt" ||
    die "the default prefix is not /usr/local: $(grep CMAKE_INSTALL_PREFIX "$B/CMakeCache.txt")"
package "$WORK/sitx-default-prefix.deb"
configure "prefix /usr" -DCMAKE_INSTALL_PREFIX=/usr
DEB="$WORK/sitx_${VERSION}_${ARCH}.deb"
package "$DEB"
deb_files() { # DEB: paths, modes, owners
    dpkg-deb -c "$1" | awk '{ print $1, $2, $6 }'
}
deb_files "$WORK/sitx-default-prefix.deb" >"$WORK/contents.default"
if grep -E ' \./usr/local' "$WORK/contents.default"; then
    fail "a tree with the default prefix packages files under /usr/local (above)"
fi
grep -qE ' \./usr/bin/sitx-recv$' "$WORK/contents.default" ||
    fail "a tree with the default prefix has no /usr/bin/sitx-recv in its package"
if ! diff -u "$WORK/contents.default" <(deb_files "$DEB") >"$WORK/contents.diff"; then
    fail "the default-prefix package (-) and the /usr one (+) differ: $(cat "$WORK/contents.diff")"
fi
mkdir -p "$WORK/xd" "$WORK/xu"
dpkg-deb -x "$WORK/sitx-default-prefix.deb" "$WORK/xd"
dpkg-deb -x "$DEB" "$WORK/xu"
for f in $(dpkg-deb -c "$DEB" | awk '$1 ~ /^-/ && $6 ~ /(\.service|\.conf)$/ { print $6 }'); do
    cmp -s "$WORK/xd/$f" "$WORK/xu/$f" || fail "$f differs between the two packages"
done

# --- control data ------------------------------------------------------------
field() {
    dpkg-deb -f "$DEB" "$1"
}
expect_eq "Package" "$(field Package)" sitx
expect_eq "Version" "$(field Version)" "$VERSION"
expect_eq "Architecture" "$(field Architecture)" "$ARCH"
[ -n "$(field Maintainer)" ] || fail "no Maintainer field"
DEPENDS=$(field Depends)
note "Depends: $DEPENDS"
# Debian 12's names for what the binaries link, and passwd for useradd.
for pkg in libc6 libsodium23 libuv1 libpng16-16 libjpeg62-turbo libmicrohttpd12 passwd; do
    if ! grep -Eq "(^|, )$pkg( |,|$)" <<<"$DEPENDS"; then
        fail "Depends lacks $pkg"
    fi
done

mkdir -p "$WORK/control"
dpkg-deb -e "$DEB" "$WORK/control"
expect_eq "conffiles" "$(cat "$WORK/control/conffiles" 2>/dev/null)" "/etc/sitx/sitx-recv.conf"
for s in postinst prerm postrm; do
    expect_file_mode "$WORK/control/$s" 755 0 0
    sh -n "$WORK/control/$s" || fail "$s is not valid sh"
    # No surprise starts: no maintainer script enables or starts the unit.
    if grep -Eq 'systemctl[^#]*[[:space:]](enable|start|reenable|unmask)([[:space:]]|$)|--now|deb-systemd-(invoke|helper)' \
        "$WORK/control/$s"; then
        fail "$s enables or starts a unit"
    fi
done

# --- file list: paths, modes, owners ------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $1, $2, $6 }' >"$WORK/contents"
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
UNITDIR=${UNITDIR:-/usr/lib/systemd/system}
expect_entry() {
    if ! grep -qxF -e "$1 root/root .$2" "$WORK/contents"; then
        fail "package lacks '$1 $2' (has: $(grep -F -e " .$2" "$WORK/contents" || echo nothing))"
    fi
}
expect_entry -rwxr-xr-x /usr/bin/sitx-recv
expect_entry -rwxr-xr-x /usr/bin/sitx-send
expect_entry drwxr-x--- /etc/sitx/
expect_entry -rw-r--r-- /etc/sitx/sitx-recv.conf
expect_entry -rw-r--r-- "$UNITDIR/sitx-recv.service"
expect_entry -rw-r--r-- /usr/share/man/man1/sitx-send.1.gz
expect_entry -rw-r--r-- /usr/share/man/man8/sitx-recv.8.gz
expect_entry -rw-r--r-- /usr/share/doc/sitx/OPERATING.md
expect_entry -rw-r--r-- /usr/share/doc/sitx/SENDING.md
if grep -v ' root/root ' "$WORK/contents"; then
    fail "entries above are not owned by root/root"
fi
if awk '$1 ~ /^-..[sS]|^-.....[sS]/' "$WORK/contents" | grep .; then
    fail "setuid or setgid files in the package"
fi
if grep -E ' \./(usr/local|var|home|tmp)/' "$WORK/contents"; then
    fail "the package ships files where a package must not (above)"
fi

# --- the binaries run, and every library they link is a declared dependency
mkdir -p "$WORK/x"
dpkg-deb -x "$DEB" "$WORK/x"
for prog in sitx-recv sitx-send; do
    out=$("$WORK/x/usr/bin/$prog" --version 2>&1) || fail "$prog --version failed: $out"
    grep -q "$VERSION" <<<"$out" || fail "$prog --version does not say $VERSION: $out"
done
if command -v readelf >/dev/null 2>&1; then
    for prog in sitx-recv sitx-send; do
        bin="$WORK/x/usr/bin/$prog"
        for soname in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            path=$(ldd "$bin" | awk -v s="$soname" '$1 == s { print $3 }')
            [ -n "$path" ] || { fail "$prog: ldd cannot find $soname"; continue; }
            owner=""
            for p in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
                owner=$(dpkg-query -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] &&
                    break
            done
            if [ -z "$owner" ]; then
                fail "$prog: no package owns $path ($soname)"
            elif ! grep -Eq "(^|, )$owner( |,|$)" <<<"$DEPENDS"; then
                fail "$prog links $soname from $owner, which Depends does not name"
            fi
        done
    done
else
    note "readelf missing: not matching NEEDED libraries against Depends"
fi

# The unit starts the packaged binary with the packaged configuration.
UNIT="$WORK/x$UNITDIR/sitx-recv.service"
expect_eq "ExecStart" "$(sed -n 's/^ExecStart=//p' "$UNIT")" '/usr/bin/sitx-recv $SITX_RECV_OPTS'
expect_eq "EnvironmentFile" "$(sed -n 's/^EnvironmentFile=//p' "$UNIT")" /etc/sitx/sitx-recv.conf

# --- a throw-away root ---------------------------------------------------------
R="$WORK/root"
mkdir -p "$R/etc" "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
: >"$R/var/lib/dpkg/available"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
printf 'root:*::\n' >"$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
if [ -f /etc/login.defs ]; then
    cp /etc/login.defs "$R/etc/login.defs"
fi
# This machine's installed dependencies stand in for a fresh Debian 12's.
: >"$R/var/lib/dpkg/status"
for pkg in $(tr ',' '\n' <<<"$DEPENDS" | sed 's/|.*//; s/(.*//; s/[[:space:]]//g'); do
    if ! dpkg-query -s "$pkg" >>"$R/var/lib/dpkg/status" 2>/dev/null; then
        fail "Depends names $pkg, which is not an installed Debian package here"
        continue
    fi
    echo >>"$R/var/lib/dpkg/status"
    # An empty file list, so dpkg does not warn that it is missing.
    for name in $(dpkg-query -W -f '${binary:Package}\n' "$pkg"); do
        : >"$R/var/lib/dpkg/info/$name.list"
    done
done

: >"$WORK/host.sums"
for f in /etc/passwd /etc/group /etc/shadow /etc/gshadow; do
    if [ -r "$f" ]; then
        sha256sum "$f" >>"$WORK/host.sums"
    fi
done
host_had_sitx=$(getent passwd sitx >/dev/null && echo yes || echo no)

rdpkg() {
    dpkg --root="$R" --force-script-chrootless --log="$WORK/dpkg.log" "$@" \
        >>"$WORK/dpkg.out" 2>&1
}
rstat() {
    stat -c '%a %u %g' "$R$1" 2>/dev/null || echo missing
}
entry() { # db name -> the line for name in R's db
    grep "^$2:" "$R/etc/$1"
}

note "installing into the throw-away root"
rdpkg -i "$DEB" || { cat "$WORK/dpkg.out"; die "dpkg -i failed"; }
expect_eq "installed status" \
    "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${db:Status-Abbrev}' sitx)" "ii "

user=$(entry passwd sitx) || die "postinst created no user sitx in the root"
group=$(entry group sitx) || die "postinst created no group sitx in the root"
uid=$(cut -d: -f3 <<<"$user")
gid=$(cut -d: -f3 <<<"$group")
expect_eq "primary group of sitx" "$(cut -d: -f4 <<<"$user")" "$gid"
expect_eq "home of sitx" "$(cut -d: -f6 <<<"$user")" /var/lib/sitx
expect_eq "shell of sitx" "$(cut -d: -f7 <<<"$user")" /usr/sbin/nologin
sys_uid_max=$(awk '$1 == "SYS_UID_MAX" { print $2 }' "$R/etc/login.defs" 2>/dev/null)
if [ "$uid" -gt "${sys_uid_max:-999}" ]; then
    fail "uid $uid of sitx is not a system uid (<= ${sys_uid_max:-999})"
fi
expect_eq "/etc/sitx" "$(rstat /etc/sitx)" "750 0 $gid"
expect_eq "/var/lib/sitx" "$(rstat /var/lib/sitx)" "750 $uid $gid"
expect_eq "/var/lib/sitx/inbox" "$(rstat /var/lib/sitx/inbox)" "750 $uid $gid"
expect_eq "the configuration" "$(rstat /etc/sitx/sitx-recv.conf)" "644 0 0"
expect_eq "sitx-recv" "$(rstat /usr/bin/sitx-recv)" "755 0 0"
if [ -e "$R/etc/systemd/system/multi-user.target.wants/sitx-recv.service" ]; then
    fail "the install enabled sitx-recv.service"
fi

# --- reinstall over itself: a local edit, a stat override, one user -----------
echo '# local edit' >>"$R/etc/sitx/sitx-recv.conf"
dpkg-statoverride --root "$R" --add "#$uid" "#$gid" 0700 /var/lib/sitx/inbox ||
    fail "dpkg-statoverride --add failed"
chmod 0700 "$R/var/lib/sitx/inbox"
note "reinstalling (upgrade path)"
rdpkg -i "$DEB" || { cat "$WORK/dpkg.out"; die "reinstall failed"; }
expect_eq "users named sitx after reinstall" "$(grep -c '^sitx:' "$R/etc/passwd")" 1
expect_eq "uid after reinstall" "$(entry passwd sitx | cut -d: -f3)" "$uid"
tail -n 1 "$R/etc/sitx/sitx-recv.conf" | grep -qx '# local edit' ||
    fail "reinstall replaced the edited conffile"
expect_eq "inbox under a stat override" "$(rstat /var/lib/sitx/inbox)" "700 $uid $gid"
dpkg-statoverride --root "$R" --remove /var/lib/sitx/inbox || fail "statoverride --remove failed"
chmod 0750 "$R/var/lib/sitx/inbox"

# --- remove: programs go, configuration, keys, inbox and user stay -----------
printf 'secret\n' >"$R/etc/sitx/recv.key"
note "removing"
rdpkg -r sitx || { cat "$WORK/dpkg.out"; die "dpkg -r failed"; }
[ ! -e "$R/usr/bin/sitx-recv" ] || fail "remove left /usr/bin/sitx-recv"
[ ! -e "$R$UNITDIR/sitx-recv.service" ] || fail "remove left the unit"
[ -f "$R/etc/sitx/sitx-recv.conf" ] || fail "remove deleted the conffile"
[ -f "$R/etc/sitx/recv.key" ] || fail "remove deleted the key"
[ -d "$R/var/lib/sitx/inbox" ] || fail "remove deleted the inbox"
entry passwd sitx >/dev/null || fail "remove deleted the user"

# --- purge with an image in the inbox: the image and its owner stay ------------
printf 'image\n' >"$R/var/lib/sitx/inbox/scan.png"
printf 'partial\n' >"$R/var/lib/sitx/inbox/.sitx-tmp-abc123"
printf 'index\n' >"$R/var/lib/sitx/inbox/.sitx-index"
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -s "$UNITDIR/sitx-recv.service" "$R/etc/systemd/system/multi-user.target.wants/sitx-recv.service"
note "purging with an image in the inbox"
rdpkg -P sitx || { cat "$WORK/dpkg.out"; die "dpkg -P failed"; }
[ ! -e "$R/etc/sitx" ] || fail "purge left /etc/sitx"
[ ! -L "$R/etc/systemd/system/multi-user.target.wants/sitx-recv.service" ] ||
    fail "purge left the enablement link"
[ -f "$R/var/lib/sitx/inbox/scan.png" ] || fail "purge deleted a received image"
[ ! -e "$R/var/lib/sitx/inbox/.sitx-tmp-abc123" ] || fail "purge left a temporary file"
[ -f "$R/var/lib/sitx/inbox/.sitx-index" ] || fail "purge deleted the index of kept images"
entry passwd sitx >/dev/null || fail "purge deleted the owner of a kept image"
grep -q 'kept /var/lib/sitx' "$WORK/dpkg.out" || fail "purge did not say it kept the inbox"

# --- install again, then purge with an empty inbox: nothing is left -----------
rm -f "$R/var/lib/sitx/inbox/scan.png"
printf 'partial\n' >"$R/var/lib/sitx/inbox/.sitx-tmp-def456"
note "installing again over the kept user, then purging"
rdpkg -i "$DEB" || { cat "$WORK/dpkg.out"; die "second install failed"; }
expect_eq "uid of the kept user" "$(entry passwd sitx | cut -d: -f3)" "$uid"
rdpkg -P sitx || { cat "$WORK/dpkg.out"; die "second purge failed"; }
for p in /etc/sitx /var/lib/sitx /usr/bin/sitx-send /usr/share/man/man8/sitx-recv.8.gz; do
    [ ! -e "$R$p" ] || fail "purge left $p"
done
! entry passwd sitx >/dev/null || fail "purge left the user sitx"
! entry group sitx >/dev/null || fail "purge left the group sitx"
expect_eq "package state after purge" \
    "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${db:Status-Abbrev}' sitx 2>/dev/null)" ""

# The maintainer scripts said nothing but the expected notice.
if grep -E '^(useradd|groupadd|userdel|groupdel|chown|chmod|mkdir|rmdir|find|rm|grep|sh):|sitx: could not|error' \
    "$WORK/dpkg.out"; then
    fail "the maintainer scripts printed errors (above)"
fi

# --- the host was not touched ----------------------------------------------------
sha256sum --quiet -c "$WORK/host.sums" || fail "the host's user database changed"
expect_eq "host user sitx" "$(getent passwd sitx >/dev/null && echo yes || echo no)" \
    "$host_had_sitx"

if [ "$PKG_FAILS" -ne 0 ]; then
    echo "----- dpkg output -----"
    sed 's/^/  | /' "$WORK/dpkg.out"
fi
finish
