# Shared helpers for the packaging cases (case_*.sh): one temporary directory
# per case, removed on exit; a skip that turns into a failure under CI.
#
# Environment (set by tests/packaging/CMakeLists.txt):
#   SITX_SOURCE_DIR   the source tree
#   SITX_BUILD_DIR    the build tree ctest runs in (binaries, install rules)
#   SITX_RECV, SITX_SEND   the built programs
# Optional: SITX_PKG_KEEP=1 keeps the temporary directory.
#
# Source it first thing in a case: . "$(dirname "$0")/lib.sh"

set -uo pipefail

PKG_CASE=$(basename "$0" .sh)
PKG_CASE=${PKG_CASE#case_}

for v in SITX_SOURCE_DIR SITX_BUILD_DIR; do
    if [ -z "${!v:-}" ]; then
        echo "FAIL [$PKG_CASE]: $v is not set (run through ctest)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sitx-pkg-$PKG_CASE.XXXXXX") || {
    echo "FAIL [$PKG_CASE]: cannot create a temporary directory" >&2
    exit 1
}
PKG_FAILS=0
PKG_PIDS=() # background processes this case started, killed on exit

cleanup() {
    local pid
    for pid in "${PKG_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "${SITX_PKG_KEEP:-0}" = 1 ]; then
        echo "[$PKG_CASE] kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

note() {
    echo "[$PKG_CASE] $*"
}

# A failed check is reported and counted; the case goes on so one run shows
# every problem. finish() turns the count into the exit status.
fail() {
    echo "FAIL [$PKG_CASE]: $*" >&2
    PKG_FAILS=$((PKG_FAILS + 1))
}

# Stops the case at once (a step the rest depends on went wrong).
die() {
    echo "FAIL [$PKG_CASE]: $*" >&2
    exit 1
}

finish() {
    if [ "$PKG_FAILS" -ne 0 ]; then
        echo "FAIL [$PKG_CASE]: $PKG_FAILS check(s) failed" >&2
        exit 1
    fi
    note "ok"
    exit 0
}

# skip_or_fail MESSAGE: exit 77 (ctest: skipped) on a developer machine,
# fail under CI, where every tool must be there.
skip_or_fail() {
    if [ -n "${CI:-}" ] && [ "${CI:-}" != false ]; then
        die "$* (CI is set, so this is a failure, not a skip)"
    fi
    echo "SKIP [$PKG_CASE]: $*"
    exit 77
}

# need_tools TOOL...: skip (or fail under CI) unless every tool is on PATH.
need_tools() {
    local t missing=()
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if [ ${#missing[@]} -ne 0 ]; then
        skip_or_fail "missing ${missing[*]} (scripts/setup installs them)"
    fi
}

# expect_eq WHAT GOT WANT
expect_eq() {
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', want '$3'"
    fi
}

# expect_file_mode PATH MODE UID GID: octal mode and numeric owner.
expect_file_mode() {
    local got
    if ! got=$(stat -c '%a %u %g' "$1" 2>/dev/null); then
        fail "$1 is missing"
        return
    fi
    expect_eq "mode and owner of ${1#"$WORK"/}" "$got" "$2 $3 $4"
}

# The project version from the top-level project() call.
project_version() {
    sed -n 's/^project(sitx VERSION \([0-9.]*\).*/\1/p' "$SITX_SOURCE_DIR/CMakeLists.txt"
}
