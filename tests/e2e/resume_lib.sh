# Helpers for the resume cases (PROTOCOL.md §7 rule 7), sourced after lib.sh.

# gen_big_png OUT MIB SEED: a valid PNG of about MIB MiB of RGB noise,
# stored (deflate level 0) so that it is made in a moment and its size is
# what it says.
gen_big_png() {
    python3 - "$1" "$2" "$3" <<'EOF' || fail "cannot write a ${2} MiB PNG"
import os, random, struct, sys, zlib
out, mib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
w = 2048
h = mib * (1 << 20) // (3 * w + 1)
rng = random.Random(seed)
noise = rng.randbytes(3 * w * 64)
rows = []
for y in range(h):
    k = (y * 7919) % 64
    rows.append(b"\0" + noise[k * 3 * w:(k + 1) * 3 * w][::1 if y % 2 else -1])
raw = b"".join(rows)
def chunk(t, d):
    c = struct.pack(">I", len(d)) + t + d
    return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b"")
with open(out, "wb") as f:
    f.write(png)
EOF
    [ -s "$1" ] || fail "gen_big_png wrote nothing to $1"
}

# partials DIR: the partial files a receiver keeps for the inbox DIR.
partials() {
    find "$1/.sitx-partial" -maxdepth 1 -type f 2>/dev/null
}

has_partials() {
    [ -n "$(partials "$1")" ]
}

# partials_idle DIR: no transfer holds a partial of DIR any more (each is
# flock'ed while in use), so their sizes are final.
partials_idle() {
    python3 - $(partials "$1") <<'PY'
import fcntl, sys
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            sys.exit(1)
PY
}

# partial_bytes DIR: the bytes they hold, together.
partial_bytes() {
    local n=0 f
    for f in $(partials "$1"); do
        n=$((n + $(file_size "$f")))
    done
    echo "$n"
}

# proxy_up CONN: bytes the proxy relayed from the sender on connection CONN.
proxy_up() {
    sed -n "s/.* closed conn=$1 up=\([0-9]*\) .*/\1/p" "$PROXY_LOG" | tail -n 1
}

# json_field NAME: the field of the one JSON line in $SEND_OUT (0 when absent).
json_field() {
    python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).readline()); print(o.get(sys.argv[2], 0))' \
        "$SEND_OUT" "$1"
}
