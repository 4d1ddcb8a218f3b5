#!/bin/sh
# The libuv version matrix (part of `make check`): for each libuv version Debian ships besides
# the system's, builds that libuv from Debian's source package, builds the harness's
# differential tests against its uv.h (PKG_CONFIG_PATH at its prefix) and runs them, the real
# side linked to that libuv and the harness compiled against the same uv.h.
#
#   scripts/libuv-matrix.sh [BUILD]     (default: build; everything lives in BUILD/libuv-matrix)
#
# Debian's sources are fetched and built by scripts/libuv-debian.sh (a private sources list, all
# cached under BUILD/libuv-matrix: a second run downloads and builds nothing; the first needs the
# network and fails without it: a matrix that silently skips would pass without testing anything).
#
# LIBUV_MATRIX_VERSIONS overrides the Debian versions (default: bullseye's 1.40 and trixie's
# 1.50; bookworm's 1.44.2 is the system's libuv, which the rest of `make check` tests).
# LIBUV_MATRIX_FULL=1 also builds and runs the whole selftest on each version.
set -eu
BUILD=${1:-build}
JOBS=$(nproc 2>/dev/null || echo 2)
VERSIONS=${LIBUV_MATRIX_VERSIONS:-"1.40.0-2+deb11u1 1.50.0-2"}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
M=$BUILD/libuv-matrix

. "$ROOT/scripts/libuv-debian.sh"

# Builds the harness against libuv $up and runs the differential tests on it.
test_harness() {
    up=$1
    hb=$M/harness-$up
    full=${LIBUV_MATRIX_FULL:-0}
    diff_only=ON
    [ "$full" = 1 ] && diff_only=OFF
    PKG_CONFIG_PATH=$M/$up/lib/pkgconfig cmake -S "$ROOT" -B "$hb" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
        -DAH_DIFF_ONLY=$diff_only -DAH_BUILD_BENCH=OFF >"$hb.log" 2>&1 || {
        tail -n 30 "$hb.log" >&2
        fail "configuring the harness against libuv $up failed"
    }
    grep -q "^LIBUV_VERSION:INTERNAL=$up\$" "$hb/CMakeCache.txt" ||
        fail "pkg-config did not find libuv $up in $M/$up (see $hb/CMakeCache.txt)"
    cmake --build "$hb" -j "$JOBS" >>"$hb.log" 2>&1 || {
        grep -E "error|warning" "$hb.log" | head -n 40 >&2
        fail "the harness does not build against libuv $up (-Werror)"
    }
    # The same source with clang -Werror against this uv.h (the archives: what a user compiles).
    if command -v clang >/dev/null 2>&1; then
        PKG_CONFIG_PATH=$M/$up/lib/pkgconfig cmake -S "$ROOT" -B "$hb-clang" -DCMAKE_C_COMPILER=clang \
            -DCMAKE_BUILD_TYPE=Release -DAH_DIFF_ONLY=ON -DAH_BUILD_BENCH=OFF -DAH_INSTALL=OFF \
            >"$hb-clang.log" 2>&1 &&
            cmake --build "$hb-clang" -j "$JOBS" --target ah_harness_core ah_threads ah_mocks ah_fd \
                ah_fs ah_proc ah_unsimulated >>"$hb-clang.log" 2>&1 || {
            grep -E "error|warning" "$hb-clang.log" | head -n 40 >&2
            fail "the harness does not build with clang against libuv $up (-Werror)"
        }
        echo "clang -Werror against libuv $up: clean"
    fi
    if [ "$full" = 1 ]; then
        # The outside project (consumer_project) finds libuv through pkg-config as well.
        PKG_CONFIG_PATH=$M/$up/lib/pkgconfig AH_SLOW_CALLBACK_MS="${AH_SLOW_CALLBACK_MS:-1000}" \
            ctest --test-dir "$hb" --output-on-failure -j "$JOBS" --timeout 300
    else
        ctest --test-dir "$hb" --output-on-failure -j "$JOBS" --timeout 120 -L diff
    fi
}

for deb in $VERSIONS; do
    up=${deb%%-*}
    t0=$(date +%s)
    echo "== libuv $up (Debian $deb)"
    fetch_source "$deb"
    build_libuv "$up"
    test_harness "$up"
    if [ "${LIBUV_MATRIX_FULL:-0}" = 1 ]; then
        echo "== libuv $up: every test passes, the differential ones agree ($(($(date +%s) - t0)) s)"
    else
        echo "== libuv $up: differential tests agree ($(($(date +%s) - t0)) s)"
    fi
done
