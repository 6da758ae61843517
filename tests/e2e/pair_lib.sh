# Helpers for the pairing cases (case_pair*.sh), on top of lib.sh: a
# receiver in key mode with a control socket, the operator's pairing client
# and a pairing sender, each reading its confirmation from a FIFO so that
# the case can tell each side the code the other one showed.

# The sender's own files live in a fresh config directory.
export HOME="$WORK/home"
export XDG_CONFIG_HOME="$WORK/xdg"
mkdir -p "$HOME" "$XDG_CONFIG_HOME"
SENDER_KEY="$XDG_CONFIG_HOME/sitx/key"
KNOWN="$XDG_CONFIG_HOME/sitx/known_receivers"
AUTHZ="$WORK/authorized"
CTL="$WORK/control.sock"

# start_pair_recv ARGS...: key-mode receiver with --control; INBOX, AUTHZ.
start_pair_recv() {
    INBOX=$WORK/inbox
    mkdir -p "$INBOX"
    genkey "$SITX_RECV" "$WORK/recv.key"
    RECV_PUB=$PUBKEY
    printf '# authorised senders\n' >"$AUTHZ"
    chmod 644 "$AUTHZ"
    start_recv --inbox "$INBOX" --key "$WORK/recv.key" --authorized "$AUTHZ" --control "$CTL" "$@"
}

# A side that already gave up has closed its FIFO: writing to it must not
# kill the case.
trap '' PIPE

# tell_op LINE / tell_sender LINE: what the person types on that side.
tell_op() {
    echo "$1" >&7 2>/dev/null || note "the operator's client had already finished"
}
tell_sender() {
    echo "$1" >&8 2>/dev/null || note "the pairing sender had already finished"
}

# lines FILE: its number of lines (0 for a missing file).
lines() {
    if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# start_operator TAG WINDOW: sitx-recv --pair-window WINDOW --pair-code -,
# its answer fed from $WORK/TAG.in (fd 7). Waits for the window to open
# unless the second argument is "noready". Sets OP_PID.
start_operator() {
    local tag=$1 window=$2
    rm -f "$WORK/$tag.in"
    mkfifo "$WORK/$tag.in" || fail "mkfifo"
    E2E_LOGS+=("$WORK/$tag.out" "$WORK/$tag.err")
    timeout -k 5 "$E2E_CLIENT_TIMEOUT" "$SITX_RECV" --pair-window "$window" --control "$CTL" \
        --pair-code - <"$WORK/$tag.in" >"$WORK/$tag.out" 2>"$WORK/$tag.err" &
    OP_PID=$!
    E2E_PIDS+=("$OP_PID")
    exec 7>"$WORK/$tag.in"
    if [ "${3:-}" != noready ]; then
        wait_log "$WORK/$tag.out" 'pairing window open' 10 || fail "the pairing window did not open"
    fi
}

# start_pairing_sender TAG PORT ARGS...: sitx-send --pair 127.0.0.1:PORT
# --pair-code -, its answer fed from $WORK/TAG.in (fd 8). Sets PS_PID.
start_pairing_sender() {
    local tag=$1 port=$2
    shift 2
    rm -f "$WORK/$tag.in"
    mkfifo "$WORK/$tag.in" || fail "mkfifo"
    E2E_LOGS+=("$WORK/$tag.out" "$WORK/$tag.err")
    timeout -k 5 "$E2E_CLIENT_TIMEOUT" "$SITX_SEND" --pair "127.0.0.1:$port" --pair-code - "$@" \
        <"$WORK/$tag.in" >"$WORK/$tag.out" 2>"$WORK/$tag.err" &
    PS_PID=$!
    E2E_PIDS+=("$PS_PID")
    exec 8>"$WORK/$tag.in"
}

# code_of FILE: waits for "pairing code: NNNNNN" in FILE, sets CODE.
code_of() {
    wait_log "$1" 'pairing code: [0-9]{6}' 20 || fail "no pairing code in ${1#"$WORK"/}"
    CODE=$(grep -oE 'pairing code: [0-9]{6}' "$1" | head -n 1 | grep -oE '[0-9]{6}')
}

# other_code CODE: a code that differs from CODE.
other_code() {
    printf '%06d' $(((10#$1 + 1) % 1000000))
}

# wait_done PID WHAT: waits for a pairing process, sets DONE_RC.
wait_done() {
    wait_exit "$1" $((E2E_CLIENT_TIMEOUT + 10)) || fail "$2 did not finish"
    DONE_RC=$WAIT_STATUS
    note "$2 -> exit $DONE_RC"
}
