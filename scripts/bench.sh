#!/usr/bin/env bash
# Benchmarks sitx against OpenSSH's scp (aes256-gcm) on the same images, in
# the same run, and prints figures; it never decides pass/fail on timings.
#
#   scripts/bench.sh [--quick] [--no-netns] [--generated] [--only=ROWS]
#
# What it measures (see DESIGN.md "Where the time goes, and the targets"):
#   1. one ~4 MB JPEG, from starting the client to its exit: sitx-send vs scp
#   2. a batch of 40 images (~110 MB) in one invocation: sitx-send vs scp
#   3. receiver peak memory (VmHWM) while 16 senders each push a 5 MB image
#   4. validation and each compression mode in-process (MB/s, bytes saved),
#      and each --compress mode end to end
#   5. an authorised sender's latency (the one image) with and without a
#      flood of 2000+ unauthenticated connections from 39 loopback addresses
#   6. resume: a 40 MB image cut at 50 % by the fault proxy, then sent again
#      (resumed from the receiver's partial) vs the same image sent whole
#   7. the batch over a veth pair between two network namespaces shaped with
#      tc tbf to 100 Mbit/s and 10 Mbit/s: sitx none / lossless vs scp
#   8. password: the one image in password mode vs key mode and scp, with
#      the Argon2id cost each invocation pays (rows "password")
#   9. receiver peak memory while 16 senders each push a 16 Mpx progressive
#      JPEG (rows "memory-progressive")
#  10. the batch over a link of 100 Mbit/s, 20 ms each way and 1 % loss, made
#      as ../shared/netdelay/README.md shows (tc tbf, iptables statistic and
#      NFQUEUE with nfq_delay; this kernel has no netem): sitx none vs the
#      tar|socat floor vs scp (rows "netdelay"; needs root and ../shared)
#  11. the batch on loopback beside scp and the tar|socat floor, for the
#      bench's set and for the same set with every JPEG made progressive
#      (rows "batch-sets")
# --only=ROWS (comma-separated names from 8-11) runs just those rows.
# Needs root for sshd and the namespaces; installs openssh-server if absent.
# The images are real photos and wallpapers from a Debian package (see
# below), or generated ones with --generated or when that cannot be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

quick=0
netns=1
generated=0
only=
for a in "$@"; do
    case "$a" in
    --quick) quick=1 ;;
    --no-netns) netns=0 ;;
    --generated) generated=1 ;;
    --only=*) only=${a#--only=} ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $a" >&2; exit 2 ;;
    esac
done
runs=5
[ "$quick" = 1 ] && runs=2

scripts/setup --bench
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" >/dev/null
send=$top/build/release/sender/sitx-send
recv=$top/build/release/receiver/sitx-recv
imgtool=$top/build/release/tests/sitx-imgtool

work=$(mktemp -d /tmp/sitx-bench.XXXXXX)
# The sender's key cache and other state stay in the run's directory.
export XDG_STATE_HOME=$work/state
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$netns" = 1 ]; then
        ip netns del sitxb-a 2>/dev/null || true
        ip netns del sitxb-b 2>/dev/null || true
        ip netns del sitxd-a 2>/dev/null || true
        ip netns del sitxd-b 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# median of numbers on stdin
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

echo "== images"
mkdir -p "$work/one" "$work/batch" "$work/five"
# Real photos and wallpapers: Debian's plasma-workspace-wallpapers (JPEG and
# PNG, up to 5120x2880), fetched once with apt-get download into build/ and
# unpacked there, not installed. Generated photo-like images stand in when
# the package cannot be had, or with --generated.
cache=$top/build/bench-cache
if [ "$generated" = 0 ] && [ ! -d "$cache/wp" ]; then
    mkdir -p "$cache"
    if (cd "$cache" && apt-get download plasma-workspace-wallpapers >/dev/null 2>&1); then
        dpkg-deb -x "$cache"/plasma-workspace-wallpapers_*.deb "$cache/wp"
    fi
fi
if [ "$generated" = 0 ] && [ -d "$cache/wp" ]; then
    echo "real images: the 40 largest files of Debian's plasma-workspace-wallpapers"
    find "$cache/wp" -type f \( -name '*.jpg' -o -name '*.png' \) -printf '%s %p\n' | sort -rn |
        head -40 | while read -r _ f; do
            # Wallpaper/contents/images/5120x2880.jpg -> Wallpaper-5120x2880.jpg
            wp=$(basename "$(dirname "$(dirname "$(dirname "$f")")")")
            variant=$(basename "$(dirname "$f")")
            cp "$f" "$work/batch/$wp-${variant#images}-$(basename "$f")"
        done
    cp "$(find "$cache/wp" -path '*SafeLanding*' -name '5120x2880.jpg' | head -1)" "$work/one/photo.jpg"
else
    echo "generated images (photo-like gradients and noise)"
    "$imgtool" gen-jpeg "$work/one/photo.jpg" 4200 3100 95 1 >/dev/null
    for i in $(seq 1 40); do
        if [ $((i % 4)) = 0 ]; then
            "$imgtool" gen-png "$work/batch/img$i.png" 1200 900 "$i" >/dev/null
        else
            "$imgtool" gen-jpeg "$work/batch/img$i.jpg" 3400 2550 92 "$i" >/dev/null
        fi
    done
fi
"$imgtool" gen-jpeg "$work/five/five.jpg" 4700 3500 95 7 >/dev/null
one_bytes=$(stat -c %s "$work/one/photo.jpg")
batch_bytes=$(du -cb "$work"/batch/* | tail -1 | cut -f1)
five_bytes=$(stat -c %s "$work/five/five.jpg")
echo "one image: $(mb "$one_bytes") MB; batch: 40 files, $(mb "$batch_bytes") MB; memory test image: $(mb "$five_bytes") MB"

# --- keys and a receiver -------------------------------------------------
mkdir -p "$work/keys" "$work/inbox"
"$recv" --gen-key "$work/keys/recv.key" >"$work/keys/recv.pub"
"$send" --gen-key "$work/keys/send.key" >"$work/keys/send.pub"
recv_pub=$(grep -Eo '[A-Za-z0-9+/]{43}=' "$work/keys/recv.pub" | head -1)
send_pub=$(grep -Eo '[A-Za-z0-9+/]{43}=' "$work/keys/send.pub" | head -1)
echo "$send_pub bench" >"$work/keys/authorized"

# start_receiver NETNS_PREFIX ADDR [MODE ARGS...] -> sets recv_pid, recv_port;: MODE ARGS default to key mode
start_receiver() {
    local prefix=$1 addr=$2 log=$work/recv.log
    shift 2
    # 256M of --validation-memory: the batch's Volna 5120x2880 progressive
    # JPEG needs 89 MB of coefficients, over the default 64M, and would be
    # refused. The memory rows pass their own arguments and keep the default.
    # --validation-cpu 3600: the bench sends the batch dozens of times a
    # minute from one key, past the default 30 s of validation CPU per
    # sender per minute; its waits would be timed instead of sitx.
    [ $# -gt 0 ] || set -- --key "$work/keys/recv.key" --authorized "$work/keys/authorized" \
        --validation-memory 256M --validation-cpu 3600
    rm -rf "$work/inbox"; mkdir -p "$work/inbox"
    : >"$log"
    $prefix "$recv" --listen "$addr:0" --inbox "$work/inbox" "$@" --max-size 256M \
        --max-per-address 32 --max-transfers-per-sender 32 2>"$log" &
    recv_pid=$!
    pids+=("$recv_pid")
    for _ in $(seq 1 200); do
        recv_port=$(grep -Eo 'listening addr=[^ ]+' "$log" | grep -Eo '[0-9]+$' || true)
        [ -n "$recv_port" ] && return 0
        sleep 0.05
    done
    echo "bench: receiver did not start:" >&2; cat "$log" >&2; exit 1
}
stop_receiver() {
    kill -TERM "$recv_pid" 2>/dev/null || true
    wait "$recv_pid" 2>/dev/null || true
}
# a receiver with a given pid: its peak RSS in KiB
peak_kib() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

# --- an sshd on loopback for scp -----------------------------------------
start_sshd() {
    local prefix=$1 addr=$2
    mkdir -p "$work/ssh" /run/sshd
    [ -f "$work/ssh/host" ] || ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host"
    [ -f "$work/ssh/client" ] || ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/client"
    cp "$work/ssh/client.pub" "$work/ssh/authorized_keys"
    chmod 600 "$work/ssh/authorized_keys"
    $prefix /usr/sbin/sshd -D -f /dev/null -h "$work/ssh/host" -p 2222 -o ListenAddress="$addr" \
        -o AuthorizedKeysFile="$work/ssh/authorized_keys" -o PasswordAuthentication=no \
        -o Ciphers=aes256-gcm@openssh.com -o PermitRootLogin=prohibit-password \
        -o StrictModes=no -o UsePAM=no -o "Subsystem=sftp /usr/lib/openssh/sftp-server" \
        2>"$work/sshd.log" &
    sshd_pid=$!
    pids+=("$sshd_pid")
    for _ in $(seq 1 100); do
        if $prefix scp -q -P 2222 -i "$work/ssh/client" -o StrictHostKeyChecking=no \
                -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                "$work/keys/send.pub" "root@$addr:$work/scp-probe" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "bench: sshd did not start:" >&2; cat "$work/sshd.log" >&2; exit 1
}
scp_to() { # prefix addr files...
    local prefix=$1 addr=$2
    shift 2
    rm -rf "$work/scp-dst"; mkdir -p "$work/scp-dst"
    $prefix scp -q -P 2222 -i "$work/ssh/client" -c aes256-gcm@openssh.com \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        "$@" "root@$addr:$work/scp-dst/"
}
sitx_to() { # prefix addr mode files...
    local prefix=$1 addr=$2 mode=$3
    shift 3
    rm -rf "$work/inbox"/* 2>/dev/null || true
    $prefix "$send" --key "$work/keys/send.key" --receiver-key "$recv_pub" --quiet \
        --compress "$mode" "$addr:$recv_port" "$@" >/dev/null
}
# time_ms CMD...: median wall time of $runs runs, in ms
time_ms() {
    for _ in $(seq 1 "$runs"); do
        local t0 t1
        t0=$(now_ms); "$@"; t1=$(now_ms)
        echo $((t1 - t0))
    done | median
}
# time_rounds FN...: each function (no arguments) run once a round for
# $runs rounds, taking turns, so that a busy spell of a shared machine
# falls on every case alike rather than on the one timed then; prints each
# one's median ms on one line, or fails when one of them fails. Its locals
# have names of their own: the functions see their caller's variables
# (dir, files) by bash's dynamic scope, and a local dir here would hide
# the caller's.
time_rounds() {
    local _rf _rt0 _rt1 _rdir
    _rdir=$(mktemp -d "$work/rounds.XXXXXX")
    for _ in $(seq 1 "$runs"); do
        for _rf in "$@"; do
            _rt0=$(now_ms)
            "$_rf" || { echo "bench: $_rf failed" >&2; return 1; }
            _rt1=$(now_ms)
            echo $((_rt1 - _rt0)) >>"$_rdir/$_rf"
        done
    done
    for _rf in "$@"; do median <"$_rdir/$_rf"; done | tr '\n' ' '
    echo
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { if (ms > 0) printf "%.0f", b / 1048576 / (ms / 1000); else print "n/a" }'; }

# --- rows 8 and 9, also run alone with --only ------------------------------
row_password() {
    local pw=$work/keys/password key_ms pw_ms pw_cached_ms scp_ms
    echo
    echo "== password mode: the one image, $(mb "$one_bytes") MB JPEG, start to exit (median of $runs)"
    printf 'bench passphrase %s\n' "$$" >"$pw"
    chmod 600 "$pw"
    start_sshd "" 127.0.0.1
    scp_ms=$(time_ms scp_to "" 127.0.0.1 "$work/one/photo.jpg")
    kill "$sshd_pid" 2>/dev/null || true
    start_receiver "" 127.0.0.1
    key_ms=$(time_ms sitx_to "" 127.0.0.1 none "$work/one/photo.jpg")
    stop_receiver
    start_receiver "" 127.0.0.1 --password-file "$pw"
    # Every invocation derives (as without the cache), then the runs after
    # a first one that filled the key cache (the same receiver, its salt
    # unchanged).
    pw_ms=$(time_ms sitx_pw_to "$pw" "$work/one/photo.jpg" --no-psk-cache)
    rm -f "$XDG_STATE_HOME/sitx/psk-cache"
    sitx_pw_to "$pw" "$work/one/photo.jpg"
    pw_cached_ms=$(time_ms sitx_pw_to "$pw" "$work/one/photo.jpg")
    stop_receiver
    printf '%-34s %8s %8s %8s %s\n' "case" "scp ms" "sitx ms" "ratio" "target"
    printf '%-34s %8s %8s %8s %s\n' "one JPEG, key mode" "$scp_ms" "$key_ms" \
        "$(ratio "$key_ms" "$scp_ms")" "<= 0.2"
    printf '%-34s %8s %8s %8s %s\n' "one JPEG, password mode" "$scp_ms" "$pw_ms" \
        "$(ratio "$pw_ms" "$scp_ms")" "<= 0.2"
    printf '%-34s %8s %8s %8s %s\n' "one JPEG, password, key cached" "$scp_ms" "$pw_cached_ms" \
        "$(ratio "$pw_cached_ms" "$scp_ms")" "<= 0.2"
    echo "password mode pays Argon2id (ops 3, 64 MiB: the receiver's parameters, sent in its" \
        "greeting) once per sitx-send invocation without the key cache: about" \
        "$((pw_ms - key_ms)) ms here; with it, $((pw_cached_ms - key_ms)) ms"
}
sitx_pw_to() { # password-file file [options...]
    local pw=$1 file=$2
    shift 2
    rm -rf "$work/inbox"/* 2>/dev/null || true
    "$send" --password-file "$pw" --quiet --compress none "$@" "127.0.0.1:$recv_port" "$file" \
        >/dev/null
}

row_memory_progressive() {
    local dir=$work/prog i t0 t1 stored fail=0 px
    mkdir -p "$dir"
    # 4700x3500 (16.5 Mpx), progressive, each one different (a second copy
    # of the same content would be answered ALREADY_STORED).
    for i in $(seq 1 16); do
        "$imgtool" gen-jpeg "$dir/base$i.jpg" 4700 3500 95 $((200 + i)) >/dev/null
        jpegtran -copy all -progressive -outfile "$dir/prog$i.jpg" "$dir/base$i.jpg"
        rm -f "$dir/base$i.jpg"
    done
    px=$(du -cb "$dir"/prog*.jpg | tail -1 | cut -f1)
    echo
    echo "== receiver peak memory: 16 senders at once, each a 16.5 Mpx progressive JPEG" \
        "($(mb $((px / 16))) MB each)"
    start_receiver "" 127.0.0.1 --key "$work/keys/recv.key" --authorized "$work/keys/authorized"
    t0=$(now_ms)
    local senders=()
    for i in $(seq 1 16); do
        "$send" --key "$work/keys/send.key" --receiver-key "$recv_pub" --quiet --compress none \
            "127.0.0.1:$recv_port" "$dir/prog$i.jpg" >/dev/null &
        senders+=($!)
    done
    for p in "${senders[@]}"; do
        wait "$p" || fail=1
    done
    t1=$(now_ms)
    stored=$(find "$work/inbox" -maxdepth 1 -type f ! -name '.*' | wc -l)
    echo "receiver VmHWM: $(( $(peak_kib "$recv_pid") / 1024 )) MB (target < 96 MB; validation" \
        "memory is --validation-memory, default 64 MiB, shared); $stored of 16 stored in" \
        "$((t1 - t0)) ms$( [ "$fail" = 1 ] && echo '; some senders failed')"
    stop_receiver
}

# floor_to DIR FILES...: one tar stream over one loopback TCP connection,
# nothing encrypted or checked: what the hardware allows.
floor_to() {
    local dst=$1 port=27302 fpid
    shift
    rm -rf "$dst"; mkdir -p "$dst"
    socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" STDOUT | tar -x -C "$dst" &
    fpid=$!
    for _ in $(seq 1 100); do
        ss -ltn | grep -q "127.0.0.1:$port " && break
        sleep 0.02
    done
    tar -c "$@" 2>/dev/null | socat -u STDIN "TCP:127.0.0.1:$port"
    wait "$fpid"
}

# Row 11: the batch on loopback for two sets, beside scp and the floor:
# the bench's own 40 images, and the same with every JPEG made progressive
# (jpegtran, lossless), where large progressive JPEGs dominate.
row_batch_sets() {
    local set dir files bytes t t_floor t_scp t_sitx f
    mkdir -p "$work/batch-prog"
    for f in "$work"/batch/*; do
        case "$f" in
        *.jpg) jpegtran -copy all -progressive -outfile "$work/batch-prog/$(basename "$f")" "$f" ;;
        *) cp "$f" "$work/batch-prog/" ;;
        esac
    done
    echo
    # dir and files are the loop's own: the functions see them when called.
    set_floor() { floor_to "$work/floor-dst" -C "$dir" .; }
    set_scp() { scp_to "" 127.0.0.1 "${files[@]}"; }
    set_sitx() { sitx_to "" 127.0.0.1 none "${files[@]}"; }
    echo "== batch sets on loopback, key mode, full validation, --compress none"
    echo "   (median of $runs rounds, floor, scp and sitx taking turns)"
    start_sshd "" 127.0.0.1
    start_receiver "" 127.0.0.1
    printf '%-30s %6s %8s %8s %8s %9s %9s\n' "set" "MB" "floor ms" "scp ms" "sitx ms" \
        "vs scp" "vs floor"
    for set in batch batch-prog; do
        dir=$work/$set
        files=("$dir"/*)
        bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
        t=$(time_rounds set_floor set_scp set_sitx)
        read -r t_floor t_scp t_sitx <<<"$t"
        printf '%-30s %6s %8s %8s %8s %9s %9s\n' \
            "$([ "$set" = batch ] && echo "bench's 40" || echo "40, JPEGs progressive")" \
            "$(mb "$bytes")" "$t_floor" "$t_scp" "$t_sitx" "$(ratio "$t_sitx" "$t_scp")" \
            "$(ratio "$t_sitx" "$t_floor")"
    done
    echo "target: sitx <= 1.0x scp on both sets (stretch 0.7x)"
    stop_receiver
    kill "$sshd_pid" 2>/dev/null || true
}

row_netdelay() {
    local nd=$top/../shared/netdelay A="ip netns exec sitxd-a" B="ip netns exec sitxd-b"
    local files=("$work"/batch/*) bytes t0 t1 t_floor t_scp t_sitx floor_pid port=27301 nfq=()
    echo
    if [ "$(id -u)" != 0 ] || [ "$netns" = 0 ]; then
        echo "== delayed link: skipped (needs root and network namespaces)"
        return 0
    fi
    if [ ! -f "$nd/nfq_delay.c" ]; then
        echo "== delayed link: skipped ($nd/nfq_delay.c absent)"
        return 0
    fi
    cc -O2 -Wall -o "$work/nfq_delay" "$nd/nfq_delay.c" -lnetfilter_queue -lnfnetlink
    bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
    echo "== delayed link: 100 Mbit/s, 20 ms each way, 1 % loss; ${#files[@]} files, $(mb "$bytes") MB"
    ip netns add sitxd-a
    ip netns add sitxd-b
    ip link add sitxd0 type veth peer name sitxd1
    ip link set sitxd0 netns sitxd-a
    ip link set sitxd1 netns sitxd-b
    ip -n sitxd-a addr add 10.232.0.1/30 dev sitxd0
    ip -n sitxd-b addr add 10.232.0.2/30 dev sitxd1
    for ns_dev in "sitxd-a sitxd0" "sitxd-b sitxd1"; do
        set -- $ns_dev
        ip -n "$1" link set lo up
        ip -n "$1" link set "$2" up
        ip netns exec "$1" tc qdisc add dev "$2" root tbf rate 100mbit burst 32kbit limit 1500kb
        ip netns exec "$1" iptables -t mangle -A PREROUTING -i "$2" -m statistic --mode random \
            --probability 0.01 -j DROP
        ip netns exec "$1" iptables -t mangle -A PREROUTING -i "$2" -j NFQUEUE --queue-num 0
        ip netns exec "$1" "$work/nfq_delay" 0 20 &
        nfq+=($!)
        pids+=($!)
    done
    # The floor: one tar stream over one TCP connection, nothing checked.
    rm -rf "$work/floor-dst"; mkdir -p "$work/floor-dst"
    $B sh -c "socat -u TCP-LISTEN:$port,bind=10.232.0.2,reuseaddr STDOUT | tar -x -C '$work/floor-dst'" &
    floor_pid=$!
    pids+=("$floor_pid")
    for _ in $(seq 1 100); do
        $B ss -ltn | grep -q ":$port " && break
        sleep 0.05
    done
    t0=$(now_ms)
    tar -c -C "$work/batch" . | $A socat -u STDIN "TCP:10.232.0.2:$port"
    wait "$floor_pid"
    t1=$(now_ms)
    t_floor=$((t1 - t0))
    start_sshd "$B" 10.232.0.2
    start_receiver "$B" 10.232.0.2
    t0=$(now_ms); scp_to "$A" 10.232.0.2 "${files[@]}"; t1=$(now_ms); t_scp=$((t1 - t0))
    t0=$(now_ms); sitx_to "$A" 10.232.0.2 none "${files[@]}"; t1=$(now_ms); t_sitx=$((t1 - t0))
    stop_receiver
    kill "$sshd_pid" 2>/dev/null || true
    printf '%-24s %8s %10s\n' "one run each" "ms" "vs floor"
    printf '%-24s %8s %10s\n' "tar | socat (floor)" "$t_floor" "1.00"
    printf '%-24s %8s %10s\n' "sitx --compress none" "$t_sitx" "$(ratio "$t_sitx" "$t_floor")"
    printf '%-24s %8s %10s\n' "scp" "$t_scp" "$(ratio "$t_scp" "$t_floor")"
    kill -TERM "${nfq[@]}" 2>/dev/null || true
    wait "${nfq[@]}" 2>/dev/null || true
    ip netns del sitxd-a
    ip netns del sitxd-b
}

if [ -n "$only" ]; then
    for r in ${only//,/ }; do
        case "$r" in
        password) row_password ;;
        memory-progressive) row_memory_progressive ;;
        netdelay) row_netdelay ;;
        batch-sets) row_batch_sets ;;
        *) echo "bench: unknown row $r (password, memory-progressive, netdelay, batch-sets)" >&2
           exit 2 ;;
        esac
    done
    exit 0
fi

echo
echo "== image module, one core, in-process (the batch's files)"
printf '%-16s %10s %8s\n' "work" "MB/s" "saved"
for mode in validate lossless lossless-always lossy:85; do
    line=$("$imgtool" bench "$mode" "$work"/batch/*)
    printf '%-16s %10s %7s%%\n' "$mode" "$(sed -E 's/.*mb_per_s=([0-9.]+).*/\1/' <<<"$line")" \
        "$(sed -E 's/.*saved_pct=([-0-9.]+).*/\1/' <<<"$line")"
done
echo "(lossless: the default, which recompresses only when the saving pays for the CPU at"
echo " the measured link speed; lossless-always: transcode every image regardless)"

echo
echo "== loopback, key mode, full validation (median of $runs rounds, scp and sitx taking turns)"
start_sshd "" 127.0.0.1
start_receiver "" 127.0.0.1
one_scp() { scp_to "" 127.0.0.1 "$work/one/photo.jpg"; }
one_sitx() { sitx_to "" 127.0.0.1 lossless "$work/one/photo.jpg"; }
batch_scp() { scp_to "" 127.0.0.1 "$work"/batch/*; }
batch_sitx() { sitx_to "" 127.0.0.1 lossless "$work"/batch/*; }
batch_sitx_none() { sitx_to "" 127.0.0.1 none "$work"/batch/*; }
t=$(time_rounds one_scp one_sitx)
read -r scp_one sitx_one <<<"$t"
t=$(time_rounds batch_scp batch_sitx batch_sitx_none)
read -r scp_batch sitx_batch sitx_batch_none <<<"$t"
printf '%-34s %8s %8s %8s %s\n' "case" "scp ms" "sitx ms" "ratio" "target"
printf '%-34s %8s %8s %8s %s\n' "one $(mb "$one_bytes") MB JPEG (default)" "$scp_one" "$sitx_one" \
    "$(ratio "$sitx_one" "$scp_one")" "<= 0.2"
printf '%-34s %8s %8s %8s %s\n' "batch 40 images (default)" "$scp_batch" "$sitx_batch" \
    "$(ratio "$sitx_batch" "$scp_batch")" "<= 1.0"
printf '%-34s %8s %8s %8s %s\n' "batch 40 images (--compress none)" "$scp_batch" \
    "$sitx_batch_none" "$(ratio "$sitx_batch_none" "$scp_batch")" ""
echo "throughput: scp $(mbps "$batch_bytes" "$scp_batch") MB/s, sitx $(mbps "$batch_bytes" "$sitx_batch") MB/s"

echo
echo "== compression modes on the batch (loopback)"
printf '%-12s %12s %8s %8s\n' "mode" "stored MB" "saved" "ms"
for mode in none lossless lossy:85; do
    t=$(time_ms sitx_to "" 127.0.0.1 "$mode" "$work"/batch/*)
    stored=$(du -cb "$work"/inbox/* | tail -1 | cut -f1)
    saved=$(awk -v a="$batch_bytes" -v b="$stored" 'BEGIN { printf "%.1f%%", (a - b) * 100 / a }')
    printf '%-12s %12s %8s %8s\n' "$mode" "$(mb "$stored")" "$saved" "$t"
done
stop_receiver

echo
echo "== receiver peak memory: 16 senders at once, $(mb "$five_bytes") MB each"
start_receiver "" 127.0.0.1 --key "$work/keys/recv.key" --authorized "$work/keys/authorized"
# Each sender gets a distinct image: the receiver would answer a second copy
# of the same content from the same key with ALREADY_STORED.
for i in $(seq 1 16); do
    "$imgtool" gen-jpeg "$work/five/copy$i.jpg" 4700 3500 95 $((100 + i)) >/dev/null
done
t0=$(now_ms)
senders=()
for i in $(seq 1 16); do
    "$send" --key "$work/keys/send.key" --receiver-key "$recv_pub" --quiet --compress none \
        "127.0.0.1:$recv_port" "$work/five/copy$i.jpg" >/dev/null &
    senders+=($!)
done
wait_fail=0
for p in "${senders[@]}"; do
    wait "$p" || wait_fail=1
done
t1=$(now_ms)
stored=$(find "$work/inbox" -maxdepth 1 -type f ! -name '.*' | wc -l)
echo "receiver VmHWM: $(( $(peak_kib "$recv_pid") / 1024 )) MB (target < 96 MB); $stored of 16 stored in $((t1 - t0)) ms$( [ "$wait_fail" = 1 ] && echo '; some senders failed')"
stop_receiver

echo
echo "== flood: the one image, authorised sender on 127.0.0.1, without and with a flood"
echo "   of idle, slow-loris and half-handshake connections from 127.0.0.2-127.0.0.40"
flood=$top/build/release/tests/sitx-flood
start_receiver "" 127.0.0.1
t_calm=$(time_ms sitx_to "" 127.0.0.1 none "$work"/one/*)
"$flood" --target "127.0.0.1:$recv_port" --from 127.0.0.2-127.0.0.40 --rate 150 \
    --seconds 120 >"$work/flood.out" 2>/dev/null &
flood_pid=$!
pids+=("$flood_pid")
for _ in $(seq 1 100); do
    grep -q '^progress' "$work/flood.out" && break
    sleep 0.1
done
t_flood=$(time_ms sitx_to "" 127.0.0.1 none "$work"/one/*)
kill -TERM "$flood_pid" 2>/dev/null || true
wait "$flood_pid" 2>/dev/null || true
echo "flood: without ${t_calm} ms, with ${t_flood} ms ($(ratio "$t_flood" "$t_calm")x, median of $runs);" \
    "$(grep '^flood ' "$work/flood.out" | grep -Eo 'opened=[0-9]+') connections;" \
    "receiver VmHWM $(( $(peak_kib "$recv_pid") / 1024 )) MB"
stop_receiver
kill "$sshd_pid" 2>/dev/null || true

echo
echo "== resume 40 MB at 50 %: a cut transfer sent again vs a full resend (loopback, median of $runs)"
faultproxy=$top/build/release/tests/sitx-faultproxy
mkdir -p "$work/resume"
big=$work/resume/big.png
# A stored (deflate level 0) PNG of noise: made in a moment, 40 MB as it says.
python3 - "$big" <<'PY'
import random, struct, sys, zlib
w = 2048
h = 40 * (1 << 20) // (3 * w + 1)
noise = random.Random(5).randbytes(3 * w * 64)
raw = b"".join(b"\0" + noise[(y % 64) * 3 * w:((y % 64) + 1) * 3 * w] for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))
PY
big_bytes=$(stat -c %s "$big")
start_receiver "" 127.0.0.1
# send_json ADDR: prints the run's status, bytes_sent and resumed_from
send_json() {
    "$send" --key "$work/keys/send.key" --receiver-key "$recv_pub" --quiet --json \
        --compress none --retries 0 "$1" "$big" 2>/dev/null |
        python3 -c 'import json,sys; o=json.loads(sys.stdin.readline()); print(o["status"], o["bytes_sent"], o.get("resumed_from", 0))'
}
full_ms=()
resumed_ms=()
for _ in $(seq 1 "$runs"); do
    rm -rf "$work/inbox"/* "$work/inbox/.sitx-partial"/* 2>/dev/null || true
    t0=$(now_ms)
    read -r _ full_sent _ < <(send_json "127.0.0.1:$recv_port")
    t1=$(now_ms)
    full_ms+=($((t1 - t0)))
    rm -rf "$work/inbox"/* 2>/dev/null || true
    "$faultproxy" --listen 127.0.0.1:0 --target "127.0.0.1:$recv_port" --mode truncate \
        --after $((big_bytes / 2)) --direction up >"$work/proxy.out" 2>/dev/null &
    proxy_pid=$!
    pids+=("$proxy_pid")
    for _ in $(seq 1 100); do
        grep -q '^listening port=' "$work/proxy.out" && break
        sleep 0.05
    done
    proxy_port=$(sed -n 's/^listening port=\([0-9]*\)$/\1/p' "$work/proxy.out")
    send_json "127.0.0.1:$proxy_port" >/dev/null || true
    kill -TERM "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    sleep 0.2 # the receiver notices the cut and keeps the partial
    t0=$(now_ms)
    read -r res_status res_sent res_from < <(send_json "127.0.0.1:$recv_port")
    t1=$(now_ms)
    resumed_ms+=($((t1 - t0)))
done
stop_receiver
full_med=$(printf '%s\n' "${full_ms[@]}" | median)
res_med=$(printf '%s\n' "${resumed_ms[@]}" | median)
printf '%-34s %12s %8s\n' "case" "bytes sent" "ms"
printf '%-34s %12s %8s\n' "full resend $(mb "$big_bytes") MB" "$full_sent" "$full_med"
printf '%-34s %12s %8s\n' "resume 40 MB at 50 %" "$res_sent" "$res_med"
echo "resumed from byte $res_from ($res_status): $(ratio "$res_sent" "$full_sent") of the bytes," \
    "$(ratio "$res_med" "$full_med") of the time"

row_password
row_memory_progressive

if [ "$netns" = 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "== shaped links: skipped (needs root for ip netns)"
    exit 0
fi

echo
echo "== shaped links: veth between two namespaces, tc tbf (batch of 40)"
ip netns add sitxb-a
ip netns add sitxb-b
ip link add sitxb0 type veth peer name sitxb1
ip link set sitxb0 netns sitxb-a
ip link set sitxb1 netns sitxb-b
ip -n sitxb-a addr add 10.231.0.1/30 dev sitxb0
ip -n sitxb-b addr add 10.231.0.2/30 dev sitxb1
for ns in sitxb-a sitxb-b; do ip -n "$ns" link set lo up; done
ip -n sitxb-a link set sitxb0 up
ip -n sitxb-b link set sitxb1 up
A="ip netns exec sitxb-a"
B="ip netns exec sitxb-b"
start_sshd "$B" 10.231.0.2
start_receiver "$B" 10.231.0.2
for rate in 100mbit 10mbit; do
    for dev_ns in "sitxb-a sitxb0" "sitxb-b sitxb1"; do
        set -- $dev_ns
        ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "$rate" burst 32kbit latency 50ms
    done
    files=("$work"/batch/*)
    if [ "$rate" = 10mbit ]; then
        files=("${files[@]:0:4}")
    fi
    bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
    saved_runs=$runs; runs=1
    t_scp=$(time_ms scp_to "$A" 10.231.0.2 "${files[@]}")
    t_none=$(time_ms sitx_to "$A" 10.231.0.2 none "${files[@]}")
    t_ll=$(time_ms sitx_to "$A" 10.231.0.2 lossless "${files[@]}")
    runs=$saved_runs
    echo "$rate, ${#files[@]} files, $(mb "$bytes") MB: scp ${t_scp} ms, sitx none ${t_none} ms ($(ratio "$t_none" "$t_scp")x), sitx lossless ${t_ll} ms ($(ratio "$t_ll" "$t_scp")x)"
done

row_netdelay
row_batch_sets
