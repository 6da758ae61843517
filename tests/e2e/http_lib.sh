# Helpers for the cases that talk to the receiver's web side (--http).
# Source after lib.sh.

# need_curl: the HTTP cases use curl (scripts/setup installs it).
need_curl() {
    if command -v curl >/dev/null 2>&1; then
        return 0
    fi
    [ "${CI:-}" = true ] && fail "curl is not installed (CI=true needs it; see scripts/setup)"
    skip "curl is not installed (scripts/setup installs it)"
}

# http_port: sets HTTP_PORT from the receiver's "http-serving addr=" line.
http_port() {
    wait_log "$RECV_LOG" 'http-serving addr=' 10 || fail "sitx-recv logged no http-serving line"
    HTTP_PORT=$(sed -n 's/.*http-serving addr=[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$RECV_LOG" | tail -n 1)
    case "$HTTP_PORT" in
    '' | *[!0-9]*) fail "cannot read the HTTP port from $(grep http-serving "$RECV_LOG")" ;;
    esac
    note "web side on port $HTTP_PORT"
}

# http_get PATH OUT [CURL-ARGS...]: GET http://127.0.0.1:$HTTP_PORT/PATH,
# the body into OUT and the headers into OUT.hdr; sets HTTP_CODE.
http_get() {
    local path=$1 out=$2
    shift 2
    E2E_LOGS+=("$out.hdr")
    HTTP_CODE=$(curl -sS --path-as-is -g --max-time 20 -o "$out" -D "$out.hdr" \
        -w '%{http_code}' "$@" "http://${HTTP_HOST:-127.0.0.1}:$HTTP_PORT$path") ||
        fail "curl $path failed: exit $?"
}

# expect_code WANT WHAT
expect_code() {
    [ "$HTTP_CODE" = "$1" ] || fail "$2: HTTP $HTTP_CODE, want $1"
}

# metric FILE SAMPLE: the value of one sample line ("name{labels}") of a
# Prometheus text file, or fails when it is not there.
metric() {
    local v
    v=$(awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }' "$1") ||
        fail "no sample $2 in ${1#"$WORK"/}"
    printf '%s\n' "$v"
}
