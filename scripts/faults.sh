#!/usr/bin/env bash
# Runs the fault-injection end-to-end cases by hand, showing every log:
# a flipped bit, a cut connection, a stalled link, a receiver killed and
# restarted mid-transfer, SIGTERM mid-transfer, a full disk (as root).
#
# Usage: scripts/faults.sh [CASE...]    e.g. scripts/faults.sh fault_flip sigterm
# Builds build/faults (Debug, ASan+UBSan) unless SITX_BUILD_DIR names a tree
# that already has the binaries. SITX_E2E_KEEP=1 keeps each case's files.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
build=${SITX_BUILD_DIR:-$top/build/faults}

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
    cases=(fault_flip fault_truncate fault_stall recv_restart sigterm disk_full)
fi

scripts/setup || exit 1
if [ -z "${SITX_BUILD_DIR:-}" ]; then
    echo "==> building $build"
    mkdir -p "$build"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSITX_SANITIZE=address,undefined \
        >"$build/faults-configure.log" 2>&1 || { tail -n 30 "$build/faults-configure.log"; exit 1; }
    cmake --build "$build" -j 2 --target sitx-recv sitx-send sitx-imgtool sitx-faultproxy \
        >/dev/null || exit 1
fi

export SITX_SEND=$build/sender/sitx-send
export SITX_RECV=$build/receiver/sitx-recv
export SITX_TOOLS_DIR=$build/tests
export SITX_CORPUS_DIR=${SITX_CORPUS_DIR:-$top/../shared/corpus}
export SITX_E2E_VERBOSE=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

failed=()
skipped=()
for c in "${cases[@]}"; do
    script=tests/e2e/case_${c#case_}.sh
    if [ ! -f "$script" ]; then
        echo "faults.sh: no such case: $script" >&2
        failed+=("$c")
        continue
    fi
    echo
    # The case's header comment says what it checks.
    echo "==> $c"
    awk 'NR > 1 && /^#/ { sub(/^# ?/, "    "); print; next } NR > 1 { exit }' "$script"
    bash "$script"
    rc=$?
    case $rc in
    0) ;;
    77) skipped+=("$c") ;;
    *) failed+=("$c") ;;
    esac
done

echo
echo "==> ${#cases[@]} case(s): $((${#cases[@]} - ${#failed[@]} - ${#skipped[@]})) passed," \
    "${#skipped[@]} skipped${skipped[*]:+ (${skipped[*]})}, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}"
[ ${#failed[@]} -eq 0 ]
