# Shared helpers for the end-to-end cases: real sitx-recv and sitx-send on
# loopback, one temporary directory per case, cleaned up on exit.
#
# Environment (set by tests/e2e/CMakeLists.txt, or by scripts/faults.sh):
#   SITX_SEND, SITX_RECV   the programs under test
#   SITX_TOOLS_DIR         directory holding sitx-imgtool and sitx-faultproxy
#   SITX_CORPUS_DIR        ../shared/corpus (optional; see need_corpus)
# Optional: SITX_E2E_VERBOSE=1 prints every log as it is checked,
#           SITX_E2E_KEEP=1 keeps the temporary directory,
#           SITX_E2E_VALGRIND=1 runs both programs under valgrind memcheck
#           (any error it reports fails the case; timeouts grow to match).
#
# Source it first thing in a case: . "$(dirname "$0")/lib.sh"

set -uo pipefail

E2E_CASE=$(basename "$0" .sh)
E2E_CASE=${E2E_CASE#case_}
E2E_VALGRIND=${SITX_E2E_VALGRIND:-0}
if [ "$E2E_VALGRIND" = 1 ]; then
    # Memcheck runs code 20-50 times slower; ctest gives these cases 900 s.
    E2E_CLIENT_TIMEOUT=${E2E_CLIENT_TIMEOUT:-400}
    E2E_CASE_TIMEOUT=${E2E_CASE_TIMEOUT:-880}
    E2E_READY_TIMEOUT=${E2E_READY_TIMEOUT:-300}
fi
E2E_CLIENT_TIMEOUT=${E2E_CLIENT_TIMEOUT:-60} # seconds for one client invocation
E2E_CASE_TIMEOUT=${E2E_CASE_TIMEOUT:-170}    # below ctest's 180 s, so cleanup still runs
E2E_READY_TIMEOUT=${E2E_READY_TIMEOUT:-30}   # receiver start-up includes Argon2id

for v in SITX_SEND SITX_RECV SITX_TOOLS_DIR; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL [$E2E_CASE]: $v is not set (run through ctest or scripts/faults.sh)" >&2
        exit 1
    fi
done
IMGTOOL="$SITX_TOOLS_DIR/sitx-imgtool"
FAULTPROXY="$SITX_TOOLS_DIR/sitx-faultproxy"
SITX_CORPUS_DIR=${SITX_CORPUS_DIR:-}

# E2E_WRAP prefixes every run of sitx-recv and sitx-send (valgrind, or nothing).
E2E_WRAP=()
E2E_RECV_SLOW=()
if [ "$E2E_VALGRIND" = 1 ]; then
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "FAIL [$E2E_CASE]: SITX_E2E_VALGRIND=1 but valgrind is not installed" >&2
        exit 1
    fi
fi

# The programs must not pick up a password or a log format from the caller.
unset SITX_PASSWORD JOURNAL_STREAM SITX_LOG_JSON

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sitx-e2e-$E2E_CASE.XXXXXX") || {
    echo "FAIL [$E2E_CASE]: cannot create a temporary directory" >&2
    exit 1
}
if [ "$E2E_VALGRIND" = 1 ]; then
    # One log per process; -q leaves only errors in it, so any text fails.
    E2E_WRAP=(valgrind -q --error-exitcode=99 --track-origins=yes --leak-check=full
              --errors-for-leak-kinds=definite --log-file="$WORK/valgrind.%p.log")
    # The receiver's clocks must allow for the slow-down too.
    E2E_RECV_SLOW=(--handshake-timeout 300 --deadline 300 --idle-timeout 600)
fi
# The sender's state (--watch state, the password key cache) stays in the
# case's directory, never the user's; a case may point it elsewhere.
export XDG_STATE_HOME=$WORK/state
E2E_PIDS=()    # every background process we started, killed in cleanup
E2E_MOUNTS=()  # mount points to unmount in cleanup
E2E_LOGS=()    # files shown when a case fails
E2E_SEQ=0
E2E_DONE=0
RECV_PID=
RECV_LOG=
RECV_PORT=
RECV_STATUS=

# show PREFIX FILE: FILE indented, control characters made visible as '?'.
show() {
    LC_ALL=C sed -e 's/[\x01-\x08\x0b-\x1f\x7f]/?/g' -e "s/^/$1/" "$2"
}

note() {
    echo "[$E2E_CASE] $*"
}

show_logs() {
    local f
    for f in "${E2E_LOGS[@]}"; do
        if [ -s "$f" ]; then
            echo "----- ${f#"$WORK"/} -----"
            show '  | ' "$f" | tail -n 80
        fi
    done
}

fail() {
    echo "FAIL [$E2E_CASE]: $*"
    show_logs
    exit 1
}

skip() {
    echo "SKIP [$E2E_CASE]: $*"
    exit 77
}

pass() {
    E2E_DONE=1
    echo "PASS [$E2E_CASE]"
    if [ "${SITX_E2E_VERBOSE:-0}" = 1 ]; then
        show_logs
    fi
    exit 0
}

# Stops a process we started: TERM, then KILL after 3 s.
kill_quietly() {
    local pid=$1 _
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    return 0
}

e2e_cleanup() {
    local rc=$? pid m
    trap - EXIT TERM INT
    for pid in "${E2E_PIDS[@]}"; do
        kill_quietly "$pid"
    done
    wait 2>/dev/null
    for m in "${E2E_MOUNTS[@]}"; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$E2E_DONE" = 0 ]; then
        echo "[$E2E_CASE] exit status $rc (SITX_E2E_KEEP=1 keeps the work directory)"
    fi
    if [ "${SITX_E2E_KEEP:-0}" = 1 ]; then
        echo "[$E2E_CASE] kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap e2e_cleanup EXIT
trap 'fail "interrupted (watchdog or signal)"' TERM INT

# The watchdog ends the case before ctest's TIMEOUT would kill it without
# cleanup (and leave daemons behind). Its sleep must not hold our stdout.
(
    sleep "$E2E_CASE_TIMEOUT" >/dev/null 2>&1 &
    s=$!
    trap 'kill $s 2>/dev/null; exit 0' TERM
    wait $s
    echo "[$E2E_CASE] watchdog: case ran over ${E2E_CASE_TIMEOUT}s" >&2
    kill -TERM $$ 2>/dev/null
    # The case may be blocked on a client: end our parent's children so the
    # TERM trap runs now.
    pkill -TERM -P $$ 2>/dev/null
) </dev/null &
E2E_PIDS+=($!)

# --- requirements ----------------------------------------------------------

# Skips (77) when the corpus is absent and CI is unset; fails under CI=true.
need_corpus() {
    if [ -n "$SITX_CORPUS_DIR" ] && [ -d "$SITX_CORPUS_DIR" ]; then
        return 0
    fi
    if [ "${CI:-}" = true ]; then
        fail "test corpus not found at '${SITX_CORPUS_DIR:-../shared/corpus}' (CI=true needs it)"
    fi
    skip "test corpus not found at '${SITX_CORPUS_DIR:-../shared/corpus}'; put ../shared beside" \
         "the checkout or set SITX_CORPUS_DIR to run this case"
}

need_root() {
    [ "$(id -u)" -eq 0 ] || skip "needs root ($*)"
}

# --- files -----------------------------------------------------------------

# mkpass FILE [PASSWORD]: a 0600 password file; a random password by default.
mkpass() {
    local file=$1 pw=${2:-}
    if [ -z "$pw" ]; then
        pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    fi
    (umask 077 && printf '%s\n' "$pw" >"$file") || fail "cannot write $file"
}

# gen_png OUT W H SEED, gen_jpeg OUT W H QUALITY SEED
gen_png() {
    "$IMGTOOL" gen-png "$@" >/dev/null || fail "sitx-imgtool gen-png $* failed"
    [ -s "$1" ] || fail "sitx-imgtool gen-png wrote nothing to $1"
}
gen_jpeg() {
    "$IMGTOOL" gen-jpeg "$@" >/dev/null || fail "sitx-imgtool gen-jpeg $* failed"
    [ -s "$1" ] || fail "sitx-imgtool gen-jpeg wrote nothing to $1"
}

file_size() {
    stat -c %s "$1"
}

# genkey PROG FILE: writes a private key and sets PUBKEY to the public key
# it prints (44 characters of base64).
genkey() {
    local prog=$1 file=$2 out
    out=$("$prog" --gen-key "$file" 2>&1) || fail "$(basename "$prog") --gen-key $file failed: $out"
    PUBKEY=$(printf '%s\n' "$out" | grep -oE '[A-Za-z0-9+/]{43}=' | tail -n 1)
    [ -n "$PUBKEY" ] || fail "$(basename "$prog") --gen-key printed no public key: $out"
    [ "$(stat -c %a "$file")" = 600 ] || fail "key file $file is not mode 0600"
}

# --- receiver --------------------------------------------------------------

# start_recv ARGS...: starts sitx-recv in the background on RECV_LISTEN
# (default 127.0.0.1:0) with ARGS, waits for its "listening" line, and sets
# RECV_PID, RECV_PORT, RECV_LOG.
start_recv() {
    local listen=${RECV_LISTEN:-127.0.0.1:0} deadline line
    E2E_SEQ=$((E2E_SEQ + 1))
    RECV_LOG="$WORK/recv.$E2E_SEQ.log"
    E2E_LOGS+=("$RECV_LOG")
    : >"$RECV_LOG"
    "${E2E_WRAP[@]}" "$SITX_RECV" --listen "$listen" "${E2E_RECV_SLOW[@]}" "$@" \
        >>"$RECV_LOG" 2>&1 </dev/null &
    RECV_PID=$!
    E2E_PIDS+=("$RECV_PID")
    RECV_STATUS=
    deadline=$((SECONDS + E2E_READY_TIMEOUT))
    while :; do
        line=$(grep -m 1 -E 'listening .*addr=' "$RECV_LOG")
        [ -n "$line" ] && break
        if ! kill -0 "$RECV_PID" 2>/dev/null; then
            wait "$RECV_PID"
            RECV_STATUS=$?
            fail "sitx-recv exited ($RECV_STATUS) before listening"
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "sitx-recv not listening after ${E2E_READY_TIMEOUT}s"
        sleep 0.05
    done
    RECV_PORT=$(printf '%s\n' "$line" | sed -E 's/.*addr=[^ ]*:([0-9]+).*/\1/')
    case "$RECV_PORT" in
    '' | *[!0-9]*) fail "cannot read the port from: $line" ;;
    esac
    [ "$RECV_PORT" -gt 0 ] || fail "sitx-recv reports port 0: $line"
    note "sitx-recv pid $RECV_PID listening on port $RECV_PORT"
}

# wait_exit PID SECONDS: waits for a child to exit and sets WAIT_STATUS;
# returns 1 when it is still running after SECONDS.
wait_exit() {
    local pid=$1 limit=$2 deadline
    deadline=$((SECONDS + limit))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            return 1
        fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null # no "Killed" job notice for an intended SIGKILL
    WAIT_STATUS=$?
    return 0
}

# stop_recv [SIGNAL]: signals the receiver (TERM by default), waits up to 20 s,
# sets RECV_STATUS. With TERM the receiver must exit 0.
stop_recv() {
    local sig=${1:-TERM}
    [ -n "$RECV_PID" ] || fail "stop_recv: no receiver running"
    kill -"$sig" "$RECV_PID" 2>/dev/null || fail "sitx-recv (pid $RECV_PID) was not running"
    wait_exit "$RECV_PID" 20 || fail "sitx-recv did not exit within 20 s of SIG$sig"
    RECV_STATUS=$WAIT_STATUS
    note "sitx-recv exited with $RECV_STATUS after SIG$sig"
    if [ "$sig" = TERM ]; then
        [ "$RECV_STATUS" -eq 0 ] || fail "sitx-recv exited with $RECV_STATUS after SIGTERM (want 0)"
    fi
    RECV_PID=
    check_sanitizers "$RECV_LOG"
}

check_sanitizers() {
    local f
    for f in "$@"; do
        if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" 2>/dev/null; then
            fail "sanitizer report in ${f#"$WORK"/}"
        fi
    done
    for f in "$WORK"/valgrind.*.log; do
        if [ -s "$f" ]; then
            E2E_LOGS+=("$f")
            fail "valgrind report in ${f#"$WORK"/}"
        fi
    done
}

# wait_log FILE REGEX SECONDS: waits until FILE has a line matching REGEX.
wait_log() {
    local file=$1 re=$2 limit=$3 deadline
    deadline=$((SECONDS + limit))
    until grep -qE "$re" "$file" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
    return 0
}

# wait_until SECONDS CMD...: polls CMD until it succeeds; 1 on timeout.
wait_until() {
    local limit=$1 deadline
    shift
    deadline=$((SECONDS + limit))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
    return 0
}

# has_tmp DIR: DIR holds a receiver temporary file, or a partial (version 2
# transfers write into DIR/.sitx-partial, which a resume takes up).
has_tmp() {
    [ -n "$(find "$1" -name '.sitx-tmp-*' -o -path '*/.sitx-partial/*' -type f)" ]
}

no_tmp() {
    ! has_tmp "$1"
}

# --- sender ----------------------------------------------------------------

# send ARGS...: runs sitx-send under a timeout. Sets SEND_RC, SEND_OUT and
# SEND_ERR (files). A hung client fails the case.
send() {
    E2E_SEQ=$((E2E_SEQ + 1))
    SEND_OUT="$WORK/send.$E2E_SEQ.out"
    SEND_ERR="$WORK/send.$E2E_SEQ.err"
    E2E_LOGS+=("$SEND_OUT" "$SEND_ERR")
    timeout -k 5 "$E2E_CLIENT_TIMEOUT" "${E2E_WRAP[@]}" "$SITX_SEND" "$@" >"$SEND_OUT" \
        2>"$SEND_ERR" </dev/null
    SEND_RC=$?
    local shown
    shown=$(printf '%q ' "$@")
    note "sitx-send ${shown//"$WORK"/\$WORK}-> exit $SEND_RC"
    show '    out| ' "$SEND_OUT"
    show '    err| ' "$SEND_ERR"
    if [ "$SEND_RC" -eq 124 ] || [ "$SEND_RC" -eq 137 ]; then
        fail "sitx-send did not finish within ${E2E_CLIENT_TIMEOUT}s"
    fi
    check_sanitizers "$SEND_ERR"
}

# send_bg TAG ARGS...: starts sitx-send in the background; its pid goes to
# BG_PID and its output to $WORK/TAG.out / TAG.err. Collect with wait_send.
send_bg() {
    local tag=$1
    shift
    E2E_LOGS+=("$WORK/$tag.out" "$WORK/$tag.err")
    timeout -k 5 "$E2E_CLIENT_TIMEOUT" "${E2E_WRAP[@]}" "$SITX_SEND" "$@" >"$WORK/$tag.out" \
        2>"$WORK/$tag.err" </dev/null &
    BG_PID=$!
    E2E_PIDS+=("$BG_PID")
}

# wait_send TAG PID: waits for a background sender; sets SEND_RC, SEND_OUT, SEND_ERR.
wait_send() {
    local tag=$1 pid=$2
    wait_exit "$pid" $((E2E_CLIENT_TIMEOUT + 10)) || fail "sitx-send ($tag) did not finish"
    SEND_RC=$WAIT_STATUS
    SEND_OUT="$WORK/$tag.out"
    SEND_ERR="$WORK/$tag.err"
    note "sitx-send ($tag) -> exit $SEND_RC"
    show '    out| ' "$SEND_OUT"
    show '    err| ' "$SEND_ERR"
    if [ "$SEND_RC" -eq 124 ] || [ "$SEND_RC" -eq 137 ]; then
        fail "sitx-send ($tag) did not finish within ${E2E_CLIENT_TIMEOUT}s"
    fi
    check_sanitizers "$SEND_ERR"
}

# --- fault proxy -----------------------------------------------------------

# start_proxy TARGET_PORT ARGS...: sitx-faultproxy in front of 127.0.0.1:PORT;
# sets PROXY_PID, PROXY_PORT, PROXY_LOG.
start_proxy() {
    local target=$1 out deadline
    shift
    E2E_SEQ=$((E2E_SEQ + 1))
    out="$WORK/proxy.$E2E_SEQ.out"
    PROXY_LOG="$WORK/proxy.$E2E_SEQ.log"
    E2E_LOGS+=("$PROXY_LOG")
    : >"$out"
    "$FAULTPROXY" --listen 127.0.0.1:0 --target "127.0.0.1:$target" "$@" >"$out" \
        2>"$PROXY_LOG" </dev/null &
    PROXY_PID=$!
    E2E_PIDS+=("$PROXY_PID")
    deadline=$((SECONDS + 10))
    until grep -q '^listening port=' "$out"; do
        kill -0 "$PROXY_PID" 2>/dev/null || fail "sitx-faultproxy exited before listening"
        [ "$SECONDS" -lt "$deadline" ] || fail "sitx-faultproxy not listening after 10 s"
        sleep 0.05
    done
    PROXY_PORT=$(sed -n 's/^listening port=\([0-9]*\)$/\1/p' "$out")
    note "sitx-faultproxy pid $PROXY_PID on port $PROXY_PORT -> $target ($*)"
}

stop_proxy() {
    kill -TERM "$PROXY_PID" 2>/dev/null || fail "sitx-faultproxy was not running"
    wait_exit "$PROXY_PID" 10 || fail "sitx-faultproxy did not exit on SIGTERM"
    [ "$WAIT_STATUS" -eq 0 ] || fail "sitx-faultproxy exited with $WAIT_STATUS"
}

# How many connections the proxy accepted so far.
proxy_connections() {
    grep -c ' accepted conn=' "$PROXY_LOG"
}

# --- assertions ------------------------------------------------------------

assert_rc() {
    local want=$1 what=$2
    [ "$SEND_RC" -eq "$want" ] || fail "$what: sitx-send exited $SEND_RC, want $want"
}

# assert_grep REGEX FILE WHAT: extended regex, case-insensitive.
assert_grep() {
    grep -qiE -- "$1" "$2" || fail "$3: no line matching /$1/ in ${2#"$WORK"/}"
}

assert_no_grep() {
    if grep -qiE -- "$1" "$2"; then
        fail "$3: unexpected line matching /$1/ in ${2#"$WORK"/}: $(grep -iE -- "$1" "$2" | head -n 1)"
    fi
}

# Files in an inbox that a user sees: everything but hidden entries.
inbox_files() {
    find "$1" -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' | LC_ALL=C sort
}

# assert_inbox_count DIR N: exactly N visible entries, all regular files.
assert_inbox_count() {
    local dir=$1 want=$2 got
    got=$(inbox_files "$dir" | wc -l)
    if [ "$got" -ne "$want" ]; then
        fail "inbox has $got file(s), want $want: $(ls -la "$dir" | tr '\n' ';')"
    fi
    if [ -n "$(find "$dir" -mindepth 1 -maxdepth 1 ! -name '.*' ! -type f)" ]; then
        fail "inbox holds something that is not a regular file: $(ls -la "$dir" | tr '\n' ';')"
    fi
}

assert_no_tmp() {
    local left
    left=$(find "$1" -name '.sitx-tmp-*' -printf '%f ')
    [ -z "$left" ] || fail "temporary files left in the inbox: $left"
}

# stored_for DIR STEM: sets STORED to the one inbox file whose name starts
# with STEM and then a non-alphanumeric (stems are plain [A-Za-z0-9_-] words).
stored_for() {
    local dir=$1 stem=$2 matches n
    matches=$(inbox_files "$dir" | grep -E "^$stem([^A-Za-z0-9]|$)")
    n=$(printf '%s' "$matches" | grep -c '^')
    [ "$n" -eq 1 ] || fail "want exactly one inbox file named $stem*, found $n: $(inbox_files "$dir" | tr '\n' ' ')"
    # shellcheck disable=SC2034 # read by the cases
    STORED="$dir/$matches"
}

assert_same_pixels() {
    local a=$1 b=$2 rc
    "$IMGTOOL" same-pixels "$a" "$b" >/dev/null 2>"$WORK/same-pixels.err"
    rc=$?
    case $rc in
    0) ;;
    1) fail "pixels differ: ${a#"$WORK"/} vs ${b#"$WORK"/}" ;;
    *) fail "sitx-imgtool same-pixels ${a#"$WORK"/} ${b#"$WORK"/} failed ($rc): $(cat "$WORK/same-pixels.err")" ;;
    esac
}

assert_same_bytes() {
    cmp -s "$1" "$2" || fail "not byte-identical: ${1#"$WORK"/} vs ${2#"$WORK"/}"
}

# assert_no_control FILE WHAT: FILE has no raw control bytes (newlines and
# tabs aside), so nothing in it can drive the user's terminal.
assert_no_control() {
    local found
    found=$(LC_ALL=C tr -d '\n\t' <"$1" | LC_ALL=C tr -dc '\000-\037\177' | od -An -tx1 | tr -s ' \n' ' ')
    [ -z "${found// /}" ] || fail "$2: raw control bytes in ${1#"$WORK"/}:$found"
}

# json_check FILE PYTHON_EXPR: every line of FILE is a JSON object; the
# expression (objects in `objs`) must be true. Prints the reason otherwise.
json_check() {
    python3 - "$1" "$2" <<'EOF' || fail "JSON check failed on ${1#"$WORK"/}: $2"
import json, sys
path, expr = sys.argv[1], sys.argv[2]
objs = []
with open(path, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
        except ValueError as e:
            sys.exit(f"line {n} is not JSON ({e}): {line!r}")
        if not isinstance(o, dict):
            sys.exit(f"line {n} is not a JSON object: {line!r}")
        objs.append(o)
try:
    ok = eval(expr, {"objs": objs})
except Exception as e:
    sys.exit(f"{type(e).__name__}: {e}; objects: {objs}")
if not ok:
    sys.exit(f"false for objects: {objs}")
EOF
}

# --- common set-ups ----------------------------------------------------------

# start_pw_recv ARGS...: an inbox ($INBOX), a password file ($PW) and a
# receiver in password mode with ARGS added.
start_pw_recv() {
    INBOX=$WORK/inbox
    PW=$WORK/password
    mkdir -p "$INBOX" || fail "cannot create $INBOX"
    [ -f "$PW" ] || mkpass "$PW"
    start_recv --inbox "$INBOX" --password-file "$PW" "$@"
}

# Every case ends here: the receiver stops cleanly on SIGTERM, leaves no
# temporary file, and no sanitizer complained.
finish() {
    if [ -n "$RECV_PID" ]; then
        stop_recv TERM
    fi
    if [ -n "${INBOX:-}" ] && [ -d "$INBOX" ]; then
        assert_no_tmp "$INBOX"
    fi
    pass
}
