#!/bin/sh
# Runs every test binary of a build under Valgrind memcheck and fails on any memory error or
# definite/indirect leak. Test binaries are the executables named test_*, *_test, *_sim. Those
# under a planted/ directory are meant to fail their test; for them only Valgrind's verdict counts.
set -eu
BUILD=${1:-build}
JOBS=$(nproc 2>/dev/null || echo 2)
mkdir -p "$BUILD/valgrind"
LOGS=$(cd "$BUILD/valgrind" && pwd)
rm -f "$LOGS"/*.log "$LOGS"/*.fail

# Valgrind is slow: raise the real-time slow-callback threshold and scale explorations down.
export AH_SLOW_CALLBACK_MS=${AH_SLOW_CALLBACK_MS:-5000}
export AH_UNDER_VALGRIND=1

# libuv's own suite (uv_suite_sim, built by a previous make check's libuv-suite step) is not a
# program of ours: it runs in its own step (scripts/libuv-suite.sh).
find "$BUILD/selftest" "$BUILD/examples" -type f -perm -u+x \
    \( -name 'test_*' -o -name '*_test' -o -name '*_sim' \) ! -path '*/CMakeFiles/*' \
    ! -path '*/libuv-suite/*' 2>/dev/null |
    sort >"$LOGS/list"


n=$(wc -l <"$LOGS/list")
# xargs runs a fresh sh per binary; pass what it needs through the environment.
export BUILD LOGS
xargs -P "$JOBS" -I{} sh -c '
    bin={}
    name=$(echo "$bin" | sed "s|^$BUILD/||; s|/|_|g")
    dir=$(dirname "$bin")
    set +e
    (cd "$dir" && valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 --log-file="$LOGS/$name.log" "./$(basename "$bin")") \
        >"$LOGS/$name.out" 2>&1
    rc=$?
    case "$bin" in */planted/*) [ $rc -ne 99 ] && rc=0 ;; esac
    if [ $rc -ne 0 ]; then
        echo "$bin: exit $rc" >"$LOGS/$name.fail"
        echo "FAIL $bin (exit $rc)"
    else
        echo "ok   $bin"
    fi
' <"$LOGS/list"

if ls "$LOGS"/*.fail >/dev/null 2>&1; then
    for f in "$LOGS"/*.fail; do
        name=$(basename "$f" .fail)
        echo "---- $(cat "$f")"
        tail -n 40 "$LOGS/$name.log" "$LOGS/$name.out" 2>/dev/null || true
    done
    echo "valgrind: $(ls "$LOGS"/*.fail | wc -l) of $n binaries failed"
    exit 1
fi
echo "valgrind: $n binaries, no errors, no definite or indirect leaks"
