#!/bin/sh
# `make fuzz`: builds the fuzzers (fuzz/, libFuzzer with ASan+UBSan, the harness instrumented for
# coverage) in BUILD-fuzz and runs each for FUZZ_SECONDS (default 60), starting from its committed
# seeds and regressions. Prints one line per fuzzer beginning with "fuzz", then replays the
# differential corpus (with what fuzz_diff found in this run) on real libuv and on the harness.
# Every reproducer goes to fuzz/regressions/NAME/ (commit it once fixed: CTest replays it).
# Fails if any fuzzer found something.
set -eu
BUILD=${1:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=$(nproc 2>/dev/null || echo 2)
cd "$(dirname "$0")/.."
FB="$BUILD-fuzz"

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang is not installed (scripts/deps.sh installs it as root)"
    exit 1
fi
cmake -S . -B "$FB" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAH_SANITIZE=address,undefined,fuzzer-no-link -DAH_BUILD_FUZZ=ON >/dev/null
cmake --build "$FB" -j "$JOBS" --target fuzz_resp fuzz_ops fuzz_diff ops_replay_real \
    ops_replay_sim >"$FB.log" 2>&1 || {
    cat "$FB.log"
    exit 1
}

failed=0
for name in resp ops diff; do
    work="$FB/fuzz-corpus/$name"
    mkdir -p "$work" "fuzz/regressions/$name"
    before=$(ls "fuzz/regressions/$name" | wc -l)
    # -rss_limit_mb=0: libFuzzer's RSS thread would call sleep(), which the harness interposes.
    "$FB/fuzz/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=0 -malloc_limit_mb=2048 \
        -timeout=20 -max_len=1024 -print_final_stats=1 \
        -artifact_prefix="fuzz/regressions/$name/" "$work" "fuzz/corpus/$name" \
        "fuzz/regressions/$name" >"$FB/fuzz_$name.log" 2>&1 || true
    after=$(ls "fuzz/regressions/$name" | wc -l)
    found=$((after - before))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$FB/fuzz_$name.log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$FB/fuzz_$name.log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$FB/fuzz_$name.log" | tail -n 1 | sed 's/cov: //')
    echo "fuzz $name: ${execs:-0} executions in ${FUZZ_SECONDS} s (${rate:-0}/s), coverage ${cov:-0} edges, corpus $(ls "$work" | wc -l), $found findings"
    if [ "$found" -gt 0 ]; then
        failed=1
        grep -E 'ERROR|fuzz_[a-z]*:|runtime error|SUMMARY' "$FB/fuzz_$name.log" | head -n 20
        echo "  reproducers: $(ls -t "fuzz/regressions/$name" | head -n "$found" | tr '\n' ' ')"
    fi
done

# The differential replay: the committed corpus and regressions, and the 200 newest inputs this
# run's fuzz_diff kept (each one an op sequence with new coverage on the harness).
sample="$FB/fuzz-corpus/diff-sample"
rm -rf "$sample"
mkdir -p "$sample"
# shellcheck disable=SC2012
ls -t "$FB/fuzz-corpus/diff" | head -n 200 | while read -r f; do cp "$FB/fuzz-corpus/diff/$f" "$sample/"; done
if sh fuzz/diff.sh "$FB/fuzz/ops_replay_real" "$FB/fuzz/ops_replay_sim" fuzz/corpus/diff \
    fuzz/regressions/diff "$sample" >"$FB/ops_diff.log" 2>&1; then
    echo "fuzz diff-vs-libuv: $(tail -n 1 "$FB/ops_diff.log" | sed 's/^ops diff: //'), 0 findings"
else
    failed=1
    echo "fuzz diff-vs-libuv: $(tail -n 1 "$FB/ops_diff.log" | sed 's/^ops diff: //')"
    grep -A 12 '^DIFFERS' "$FB/ops_diff.log" | head -n 60
    echo "  copy each differing input to fuzz/regressions/diff/ once understood"
fi
exit $failed
