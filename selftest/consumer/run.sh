#!/bin/sh
# The consumer-project test (CTest: consumer_project): asyncharness used the three ways the README
# shows, by a small outside project (selftest/consumer/), without network access.
#   1. installed to a prefix, which is then moved (the package must be relocatable), and found by
#      find_package(asyncharness): its tests registered one per CTest test by ah_discover_tests,
#      the Valgrind variants (label memcheck) run, the planted leak's variant must fail;
#   2. the same prefix through pkg-config (a plain cc command line);
#   3. the source tree through FetchContent (SOURCE_DIR: no download).
# Also checks cmocka's JUnit XML output (CMOCKA_MESSAGE_OUTPUT=xml, CMOCKA_XML_FILE), and that the
# installed bin/ah-explore explores one of the consumer's tests.
# usage: run.sh BUILD_DIR SOURCE_DIR
set -eu
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
HERE="$SRC/selftest/consumer"
W="$BUILD/consumer"
JOBS=${AH_CONSUMER_JOBS:-2}
t0=$(date +%s)

fail() {
    echo "consumer_project: FAILED: $*"
    exit 1
}
step() { echo "== consumer: $* (+$(($(date +%s) - t0)) s)"; }

rm -rf "$W/prefix" "$W/moved" "$W/package" "$W/pkgconfig" "$W/xml"
mkdir -p "$W"
# The consumer is compiled by the compiler that built the package (a sanitized build's archives
# need that compiler's sanitizer runtime); Valgrind cannot run sanitized binaries.
CC_BUILD=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
CC=${CC_BUILD:-${CC:-cc}}
SANITIZED=0
grep -Eq -- '^(AH_SANITIZE:STRING=.+|CMAKE_C_FLAGS:STRING=.*-fsanitize=)' "$BUILD/CMakeCache.txt" &&
    SANITIZED=1
MEMCHECK=ON
[ $SANITIZED = 0 ] || MEMCHECK=OFF

step "install to a prefix, then move it"
cmake --install "$BUILD" --prefix "$W/prefix" >"$W/install.log" || fail "cmake --install (see $W/install.log)"
mv "$W/prefix" "$W/moved"
P="$W/moved"

step "find_package(asyncharness) from the moved prefix"
cmake -S "$HERE" -B "$W/package" -DCMAKE_PREFIX_PATH="$P" -DAH_CONSUMER_MODE=package \
    -DCMAKE_C_COMPILER="$CC" -DAH_CONSUMER_MEMCHECK=$MEMCHECK \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$W/package.log" 2>&1 || {
    cat "$W/package.log"
    fail "configure (find_package)"
}
cmake --build "$W/package" -j "$JOBS" >>"$W/package.log" 2>&1 || {
    cat "$W/package.log"
    fail "build (find_package)"
}
grep -q -- "-include ah/sites.h" "$W/package/CMakeFiles/test_consumer.dir/flags.make" ||
    fail "asyncharness::harness did not force-include ah/sites.h"
# The link order: the harness's archives as one group, the real libuv only after it.
link="$W/package/CMakeFiles/test_consumer.dir/link.txt"
# gcc writes the group as -Wl,--start-group, clang (the sanitizer pass) as -Xlinker --start-group
sed -E 's/(-Wl,|-Xlinker )--end-group.*//' "$link" | grep -Eq -- "(-Wl,|-Xlinker )--start-group.*libah_harness_core" ||
    fail "no group of the harness's archives: $(cat "$link")"
# (the library's file or -luv: a build folder's path may itself contain "libuv")
if sed -E 's/(-Wl,|-Xlinker )--end-group.*//' "$link" | grep -Eq '/libuv\.(so|a)|-luv( |$)'; then
    fail "libuv inside the group: $(cat "$link")"
fi
sed -E 's/.*(-Wl,|-Xlinker )--end-group//' "$link" | grep -q "libuv" || fail "libuv not after the group: $(cat "$link")"
# One CTest test per cmocka test, and a Valgrind variant of each.
n=$(ctest --test-dir "$W/package" -N -LE memcheck | sed -n 's/^Total Tests: //p')
[ "$n" = 6 ] || fail "expected 6 tests registered (4 + 2 planted), got $n"
n=$(ctest --test-dir "$W/package" -N -L explore -LE memcheck | sed -n 's/^Total Tests: //p')
[ "$n" = 1 ] || fail "expected the ah_explore_test entry labelled explore, got $n"
if [ $SANITIZED = 0 ]; then
    ctest --test-dir "$W/package" -LE memcheck -j "$JOBS" --output-on-failure >"$W/package-ctest.log" 2>&1 || {
        cat "$W/package-ctest.log"
        fail "the consumer's tests"
    }
else
    # A sanitized package links the sanitizers' runtimes into the consumer's binaries: its tests
    # pass, and LeakSanitizer catches the planted leak as Valgrind does below in a plain build.
    ctest --test-dir "$W/package" -LE memcheck -j "$JOBS" --output-on-failure >"$W/package-ctest.log" 2>&1 || true
    failed=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' "$W/package-ctest.log")
    [ "$failed" = "planted_leak.leaks_a_buffer" ] || {
        cat "$W/package-ctest.log"
        fail "expected exactly planted_leak.leaks_a_buffer to fail under LeakSanitizer, got: $failed"
    }
    grep -q "detected memory leaks" "$W/package-ctest.log" || fail "no LeakSanitizer report in $W/package-ctest.log"
    echo "the planted leak failed under LeakSanitizer, as it must"
fi
step "the installed ah-explore, from the moved prefix"
[ -x "$P/bin/ah-explore" ] || fail "no bin/ah-explore in the prefix"
"$P/bin/ah-explore" -n 20 -- "$W/package/test_consumer" --test pong_comes_back >"$W/explore.log" 2>&1 || {
    cat "$W/explore.log"
    fail "ah-explore over the consumer's test"
}
grep -q "20 schedule(s) of .*test_consumer --test pong_comes_back passed" "$W/explore.log" ||
    fail "ah-explore's summary: $(cat "$W/explore.log")"
if [ $SANITIZED = 0 ] && command -v valgrind >/dev/null 2>&1; then
    step "memcheck variants"
    n=$(ctest --test-dir "$W/package" -N -L memcheck | sed -n 's/^Total Tests: //p')
    [ "$n" = 6 ] || fail "expected 6 memcheck variants, got $n"
    # Every variant passes but the planted leak's, which must fail (its plain test passes).
    ctest --test-dir "$W/package" -L memcheck -j "$JOBS" --output-on-failure >"$W/memcheck.log" 2>&1 || true
    failed=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' "$W/memcheck.log")
    [ "$failed" = "planted_leak.leaks_a_buffer.memcheck" ] || {
        cat "$W/memcheck.log"
        fail "expected exactly planted_leak.leaks_a_buffer.memcheck to fail under Valgrind, got: $failed"
    }
    sed -n '/Test *#[0-9]*: planted_leak.leaks_a_buffer.memcheck/,/ah-memcheck-error-end/p' \
        "$W/memcheck.log" >"$W/leak.log"
    grep -q "definitely lost" "$W/leak.log" || fail "no leak report in $W/memcheck.log"
    echo "the planted leak's memcheck variant failed, as it must"
fi

step "JUnit XML from cmocka"
mkdir -p "$W/xml"
(cd "$W/package" && CMOCKA_MESSAGE_OUTPUT=xml CMOCKA_XML_FILE="$W/xml/%g.xml" ./test_consumer \
    >/dev/null 2>&1) || fail "test_consumer with CMOCKA_MESSAGE_OUTPUT=xml"
[ "$(grep -c '<testcase ' "$W/xml/test_consumer.c.xml")" = 4 ] ||
    fail "expected 4 testcases in $W/xml/test_consumer.c.xml"

step "pkg-config from the moved prefix"
mkdir -p "$W/pkgconfig"
PC="env PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config"
$PC --exists asyncharness || fail "pkg-config cannot find asyncharness.pc under $P"
[ "$($PC --modversion asyncharness)" = "$(sed -n 's/^project(asyncharness VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")" ] ||
    fail "the .pc file's version"
# shellcheck disable=SC2046
$CC -o "$W/pkgconfig/test_consumer" $($PC --cflags asyncharness) "$HERE/test_consumer.c" \
    "$HERE/ping.c" $($PC --libs asyncharness) >"$W/pkgconfig.log" 2>&1 || {
    cat "$W/pkgconfig.log"
    fail "build through pkg-config"
}
(cd "$W/pkgconfig" && ./test_consumer >"$W/pkgconfig-run.log" 2>&1) || {
    cat "$W/pkgconfig-run.log"
    fail "the pkg-config build's tests"
}

step "FetchContent(SOURCE_DIR) of the source tree"
# Kept between runs: only what changed is rebuilt.
cmake -S "$HERE" -B "$W/fetchcontent" -DAH_CONSUMER_MODE=fetchcontent -DAH_SOURCE_DIR="$SRC" \
    -DAH_CONSUMER_MEMCHECK=OFF -DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS=-O0 >"$W/fetchcontent.log" 2>&1 || {
    cat "$W/fetchcontent.log"
    fail "configure (FetchContent)"
}
cmake --build "$W/fetchcontent" -j "$JOBS" >>"$W/fetchcontent.log" 2>&1 || {
    cat "$W/fetchcontent.log"
    fail "build (FetchContent)"
}
n=$(ctest --test-dir "$W/fetchcontent" -N | sed -n 's/^Total Tests: //p')
[ "$n" = 6 ] || fail "expected 6 tests registered through FetchContent, got $n"
ctest --test-dir "$W/fetchcontent" -j "$JOBS" --output-on-failure \
    >"$W/fetchcontent-ctest.log" 2>&1 || {
    cat "$W/fetchcontent-ctest.log"
    fail "the consumer's tests (FetchContent)"
}

echo "consumer_project: passed in $(($(date +%s) - t0)) s (find_package from a moved prefix, pkg-config, FetchContent)"
