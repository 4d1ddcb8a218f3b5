#!/bin/sh
# libuv's own test suite on the harness (part of `make check`; docs/libuv-suite.md). For each
# matrix version (bullseye's 1.40.0, bookworm's 1.44.2 = the system's, trixie's 1.50.0), the
# test/ folder of Debian's source package is compiled once, unchanged, and linked twice: against
# that real libuv and against the harness built on that version's uv.h. Every test runs alone
# (`run-tests NAME NAME`, selftest/libuv-suite/run-one.sh), with a timeout.
#
#   scripts/libuv-suite.sh [BUILD]     (default: build)
#
# A test that passes on the real libuv must pass on the harness unless
# selftest/libuv-suite/excluded.txt lists it with its reason; a listed test that passes is
# reported so that it can leave the list. Tests that need a helper process (TEST_HELPER in
# test/test-list.h) run through libuv's own runner (`run-tests NAME`: it starts the helper and the
# test as processes of its own, which join one world on the harness: docs/world.md), and are
# counted on a line of their own. The real libuv never changes, so its
# results are run once and cached under BUILD/libuv-matrix/suite-<version>, keyed by the hash of
# the test sources and of the runner script; the harness side runs every time.
#
# LIBUV_SUITE_VERSIONS overrides the Debian versions; LIBUV_SUITE_JOBS the parallel runs (default:
# twice the cores: most tests wait); LIBUV_SUITE_TIMEOUT the seconds a harness run may take
# (default 30; virtual time makes a passing test fast, so a run that reaches it hangs; a listed
# test gets 10).
set -eu
BUILD=${1:-build}
JOBS=$(nproc 2>/dev/null || echo 2)
VERSIONS=${LIBUV_SUITE_VERSIONS:-"1.40.0-2+deb11u1 1.44.2-1+deb12u1 1.50.0-2"}
PJOBS=${LIBUV_SUITE_JOBS:-$((JOBS * 2))}
SIM_TIMEOUT=${LIBUV_SUITE_TIMEOUT:-30}
LISTED_TIMEOUT=10
REAL_TIMEOUT=120
cd "$(dirname "$0")/.."
ROOT=$(pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
M=$BUILD/libuv-matrix
EXCLUDED=$ROOT/selftest/libuv-suite/excluded.txt
RUN_ONE=$ROOT/selftest/libuv-suite/run-one.sh

. "$ROOT/scripts/libuv-debian.sh"

SYSTEM_UP=$(pkg-config --modversion libuv 2>/dev/null || echo none)

# The libuv source tree of version $1 (unpacked from the downloaded tarball).
source_tree() {
    src=$M/src/$1/libuv1-$1
    if [ ! -f "$src/test/run-tests.c" ]; then
        rm -rf "$src"
        mkdir -p "$src"
        tar xzf "$M/src/$1/libuv1_$1.orig.tar.gz" -C "$src" --strip-components=1
    fi
}

# Builds uv_suite_real and uv_suite_sim for version $1 in the harness build $2 (the tree's own
# build for the system's libuv, the matrix's build for the others), configuring it first when
# it does not point at this version's sources yet.
build_suite() {
    up=$1
    hb=$2
    src=$M/src/$up/libuv1-$up
    if ! grep -q "^AH_LIBUV_SUITE_SRC:PATH=$src\$" "$hb/CMakeCache.txt" 2>/dev/null ||
        [ ! -f "$hb/selftest/libuv-suite/Makefile" ]; then
        if [ -f "$hb/CMakeCache.txt" ]; then
            cmake "$hb" -DAH_LIBUV_SUITE_SRC="$src" >"$hb-suite.log" 2>&1
        else
            PKG_CONFIG_PATH=$M/$up/lib/pkgconfig cmake -S "$ROOT" -B "$hb" -DCMAKE_BUILD_TYPE=Release \
                -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DAH_DIFF_ONLY=ON -DAH_BUILD_BENCH=OFF \
                -DAH_LIBUV_SUITE_SRC="$src" >"$hb-suite.log" 2>&1
        fi || {
            tail -n 30 "$hb-suite.log" >&2
            fail "configuring libuv $up's suite in $hb failed"
        }
    fi
    grep -q "^LIBUV_VERSION:INTERNAL=$up\$" "$hb/CMakeCache.txt" ||
        fail "$hb is not built against libuv $up (see its CMakeCache.txt)"
    cmake --build "$hb" -j "$JOBS" --target uv_suite_real uv_suite_sim >>"$hb-suite.log" 2>&1 || {
        grep -E "error:|undefined reference" "$hb-suite.log" | head -n 40 >&2
        fail "libuv $up's suite does not build against the harness or the real libuv"
    }
}

# The names in test/test-list.h's task list: "NAME" for a test, "NAME helper" for one that needs a
# helper process.
list_tests() {
    awk '/TASK_LIST_START/ { on = 1 } /TASK_LIST_END/ { on = 0 }
        on && /^[ \t]*TEST_(ENTRY|ENTRY_CUSTOM|HELPER)[ \t]*\(/ {
            kind = $0; sub(/^[ \t]*/, "", kind); sub(/[ \t(].*/, "", kind)
            name = $0; sub(/^[^(]*\([ \t]*/, "", name); sub(/[ \t,)].*/, "", name)
            if (kind == "TEST_HELPER") helper[name] = 1; else if (!(name in seen)) { seen[name] = 1; order[n++] = name }
        }
        END { for (i = 0; i < n; i++) print order[i] (order[i] in helper ? " helper" : "") }' "$1"
}

# Runs the tests named on stdin with binary $1 of source tree $2 into folder $3, $4 seconds each,
# $5 at a time (each leaves NAME.rc and NAME.log there); $6 `helper` runs them through libuv's
# runner with their helper processes.
run_tests() {
    mkdir -p "$3"
    # shellcheck disable=SC2086
    xargs -P "$5" -I{} sh "$RUN_ONE" "$1" "$2" "$3" "$4" {} ${6:-}
}

# The names of the tests that passed (exit 0) in folder $1.
passed_in() {
    for rc in "$1"/*.rc; do
        [ -f "$rc" ] || continue
        [ "$(cat "$rc")" = 0 ] && basename "$rc" .rc
    done | sort
}

# The excluded tests of version $1 (lines "NAME VERSIONS REASON", VERSIONS "all" or a comma list).
excluded_for() {
    awk -v up="$1" '/^[ \t]*(#|$)/ { next }
        NF < 3 { printf "excluded.txt:%d: \"%s\" has no reason\n", NR, $0 > "/dev/stderr"; bad = 1; next }
        $2 == "all" || ("," $2 ",") ~ ("," up ",") { print $1 }
        END { exit bad }' "$EXCLUDED" | sort -u
}

total_fail=0
for deb in $VERSIONS; do
    up=${deb%%-*}
    t0=$(date +%s)
    fetch_source "$deb"
    source_tree "$up"
    src=$M/src/$up/libuv1-$up
    if [ "$up" = "$SYSTEM_UP" ]; then
        hb=$BUILD
    else
        build_libuv "$up"
        hb=$M/harness-$up
    fi
    build_suite "$up" "$hb"
    bin=$hb/selftest/libuv-suite
    S=$M/suite-$up
    mkdir -p "$S"
    list_tests "$src/test/test-list.h" >"$S/all"
    grep -v " helper$" "$S/all" >"$S/tests" || true
    sed -n 's/ helper$//p' "$S/all" >"$S/helper"

    # The real libuv's passes, cached by the hash of what decides them.
    key=$(cat "$src"/test/*.c "$src"/test/*.h "$RUN_ONE" | sha256sum | cut -c1-16)
    real=$S/real-$key.pass
    rj=$PJOBS
    [ "$(id -u)" = 0 ] || rj=1 # no namespaces: the real tests share ports and /tmp
    if [ ! -f "$real" ]; then
        echo "libuv $up: running its suite on the real libuv once (cached in $real)"
        rm -rf "$S/real"
        run_tests "$bin/uv_suite_real" "$src" "$S/real" "$REAL_TIMEOUT" "$rj" <"$S/tests"
        passed_in "$S/real" >"$real.tmp"
        mv "$real.tmp" "$real"
    fi
    # the helper-process tests, through libuv's runner, cached likewise
    hreal=$S/real-helper-$key.pass
    if [ ! -f "$hreal" ]; then
        echo "libuv $up: running its helper-process tests on the real libuv once (cached in $hreal)"
        rm -rf "$S/hreal"
        run_tests "$bin/uv_suite_real" "$src" "$S/hreal" "$REAL_TIMEOUT" "$rj" helper <"$S/helper"
        passed_in "$S/hreal" >"$hreal.tmp"
        mv "$hreal.tmp" "$hreal"
    fi

    # The harness side: every test that passes on the real libuv, the listed ones (several hang)
    # with a shorter timeout: one that passes within it is reported all the same.
    excluded_for "$up" >"$S/excluded"
    rm -rf "$S/sim"
    comm -23 "$real" "$S/excluded" | run_tests "$bin/uv_suite_sim" "$src" "$S/sim" "$SIM_TIMEOUT" "$PJOBS"
    comm -12 "$real" "$S/excluded" | run_tests "$bin/uv_suite_sim" "$src" "$S/sim" "$LISTED_TIMEOUT" "$PJOBS"
    rm -rf "$S/hsim"
    comm -23 "$hreal" "$S/excluded" |
        run_tests "$bin/uv_suite_sim" "$src" "$S/hsim" "$SIM_TIMEOUT" "$PJOBS" helper
    comm -12 "$hreal" "$S/excluded" |
        run_tests "$bin/uv_suite_sim" "$src" "$S/hsim" "$LISTED_TIMEOUT" "$PJOBS" helper
    passed_in "$S/hsim" >"$S/hsim.pass"
    # the helper-process tests' results join the others' for the checks below (their own line)
    for f in "$S"/hsim/*.rc "$S"/hsim/*.log; do
        if [ -f "$f" ]; then cp "$f" "$S/sim/"; fi
    done
    passed_in "$S/sim" >"$S/sim.pass"
    sort -u "$real" "$hreal" >"$S/real.all"
    comm -23 "$S/real.all" "$S/sim.pass" >"$S/sim.fail"
    comm -23 "$S/sim.fail" "$S/excluded" >"$S/unexpected"
    comm -12 "$S/sim.pass" "$S/excluded" >"$S/leave"
    comm -12 "$real" "$S/excluded" >"$S/listed"
    m=$(wc -l <"$real")
    n=$(comm -12 "$real" "$S/sim.pass" | wc -l)
    k=$(wc -l <"$S/listed")
    h=$(wc -l <"$S/helper")
    pct=$(awk -v n="$n" -v m="$m" 'BEGIN { printf "%.1f", m ? 100 * n / m : 0 }')
    echo "libuv $up's suite: $n of $m pass on the harness ($k listed)"
    echo "  ($pct%; $(wc -l <"$S/tests") tests run on the real libuv; $(($(date +%s) - t0)) s)"
    hm=$(wc -l <"$hreal")
    hn=$(comm -12 "$hreal" "$S/hsim.pass" | wc -l)
    hk=$(comm -12 "$hreal" "$S/excluded" | wc -l)
    hpct=$(awk -v n="$hn" -v m="$hm" 'BEGIN { printf "%.1f", m ? 100 * n / m : 0 }')
    echo "libuv $up's helper-process tests: $hn of $hm pass on the harness ($hk listed)"
    echo "  ($hpct%; $h tests with a helper process run on the real libuv through libuv's runner)"
    sed 's/ helper$//' "$S/all" | sort | comm -13 - "$S/excluded" >"$S/unknown"
    if [ -s "$S/unknown" ]; then
        echo "  excluded.txt names tests libuv $up does not have (a typo, or a version to narrow): $(tr '\n' ' ' <"$S/unknown")"
    fi
    if [ -s "$S/leave" ]; then
        echo "  listed but passing now, can leave excluded.txt: $(tr '\n' ' ' <"$S/leave")"
    fi
    if [ -s "$S/unexpected" ]; then
        echo "  FAILED on the harness, passing on the real libuv, not listed:"
        while read -r t; do
            rc=$(cat "$S/sim/$t.rc")
            [ "$rc" = 124 ] || [ "$rc" = 137 ] && rc="$rc (timed out after $SIM_TIMEOUT s)"
            echo "  -- $t: exit $rc ($S/sim/$t.log)"
            tail -n 8 "$S/sim/$t.log" | sed 's/^/     /'
        done <"$S/unexpected"
        total_fail=1
    fi
done
[ "$total_fail" = 0 ] || fail "libuv's suite: tests above fail on the harness and are not in $EXCLUDED"
