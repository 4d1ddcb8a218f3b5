#!/bin/sh
# Line coverage of harness/ and mocks/ under the fuzzers (docs/hardening.md): builds the fuzz
# targets in BUILD-cov with clang's source-based coverage, replays each fuzzer's committed corpus
# and regressions plus the corpus `make fuzz` grew in BUILD-fuzz (if any), and prints llvm-cov's
# per-directory summary.   usage: sh scripts/fuzz-coverage.sh [BUILD]
set -eu
BUILD=${1:-build}
JOBS=$(nproc 2>/dev/null || echo 2)
cd "$(dirname "$0")/.."
CB="$BUILD-cov"
PROF=llvm-profdata
COV=llvm-cov
command -v $PROF >/dev/null 2>&1 || PROF=llvm-profdata-14
command -v $COV >/dev/null 2>&1 || COV=llvm-cov-14

cmake -S . -B "$CB" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DAH_BUILD_FUZZ=ON \
    "-DCMAKE_C_FLAGS=-fprofile-instr-generate -fcoverage-mapping" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fprofile-instr-generate" >/dev/null
cmake --build "$CB" -j "$JOBS" --target fuzz_resp fuzz_ops fuzz_diff >"$CB.log" 2>&1 || {
    cat "$CB.log"
    exit 1
}
rm -rf "$CB/profiles"
mkdir -p "$CB/profiles"
objs=""
for name in resp ops diff; do
    dirs="fuzz/corpus/$name fuzz/regressions/$name"
    [ -d "$BUILD-fuzz/fuzz-corpus/$name" ] && dirs="$dirs $BUILD-fuzz/fuzz-corpus/$name"
    # shellcheck disable=SC2086
    LLVM_PROFILE_FILE="$CB/profiles/$name.profraw" "$CB/fuzz/fuzz_$name" -runs=0 \
        -rss_limit_mb=0 $dirs >"$CB/profiles/$name.log" 2>&1 || true
    if [ -z "$objs" ]; then objs="$CB/fuzz/fuzz_$name"; else objs="$objs -object $CB/fuzz/fuzz_$name"; fi
done
$PROF merge -sparse "$CB"/profiles/*.profraw -o "$CB/profiles/all.profdata"
# shellcheck disable=SC2086
$COV report $objs -instr-profile="$CB/profiles/all.profdata" "$(pwd)/harness" "$(pwd)/mocks" \
    >"$CB/coverage.txt"
for dir in harness mocks; do
    # llvm-cov names files relative to the current directory: harness/sim.c, harness/uv/loop.c
    awk -v d="$dir/" 'index($1, d) == 1 { lines += $8; miss += $9 }
        END { if (lines) printf "coverage %s: %.1f%% of %d lines\n", d, 100 * (lines - miss) / lines, lines }' \
        "$CB/coverage.txt"
done
echo "per file: $CB/coverage.txt"
