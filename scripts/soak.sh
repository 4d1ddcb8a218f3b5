#!/bin/sh
# The determinism soak (make check, through CTest): the explored kvclient tests are run again and
# again, each run a fresh process (so a fresh address layout), over SOAK_SEEDS seeds with the
# random and PCT strategies, printing one trace hash per schedule (AH_PRINT_HASHES). Every seed
# must always give the same hash: anything outside the sim that leaks into a schedule (the real
# clock, rand(), pointer order, state left from an earlier schedule) shows as two hashes.
#   usage: sh scripts/soak.sh BUILD_DIR [RUNS [BINARY TEST]]
# With BINARY and TEST it soaks that explored test alone (the planted twin does).
set -u
BUILD=${1:-build}
RUNS=${2:-${SOAK_RUNS:-4}}
SEEDS=${SOAK_SEEDS:-150}
ONLY_BIN=${3:-}
ONLY_TEST=${4:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ahsoak.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# soak BINARY TEST OUT: one run of an explored test, one hash line per schedule into OUT.
soak() {
    AH_PRINT_HASHES=1 AH_STRATEGY=$strategy AH_SEED_START=1 AH_SEED_COUNT=$SEEDS \
        "$1" --test "$2" >/dev/null 2>>"$3"
}

if [ -n "$ONLY_BIN" ]; then
    KV=$ONLY_BIN
    SW=""
else
    KV=$(find "$BUILD/examples" -type f -name test_kvclient -perm -u+x 2>/dev/null | head -n 1)
    SW=$(find "$BUILD/selftest" -type f -name sweep_kvclient_test -perm -u+x 2>/dev/null | head -n 1)
    if [ -z "$KV" ] || [ -z "$SW" ]; then
        echo "soak: test_kvclient or sweep_kvclient_test not built under $BUILD"
        exit 1
    fi
fi

t0=$(date +%s)
run=1
while [ "$run" -le "$RUNS" ]; do
    for strategy in random pct; do
        # The same seeds in every run: the point is to see each one again.
        if [ -n "$ONLY_BIN" ]; then
            soak "$KV" "$ONLY_TEST" "$tmp/run$run" || true
            continue
        fi
        soak "$KV" pipeline_under_jitter_never_hands_a_reply_to_the_wrong_command "$tmp/run$run" ||
            { echo "soak: test_kvclient failed (run $run)"; exit 1; }
        soak "$SW" kvclient_explored "$tmp/run$run" ||
            { echo "soak: sweep_kvclient_test failed (run $run)"; exit 1; }
    done
    grep '^asyncharness: schedule ' "$tmp/run$run" | sort >"$tmp/hashes$run"
    run=$((run + 1))
done

n=$(wc -l <"$tmp/hashes1")
if [ "$n" -eq 0 ]; then
    echo "soak: no schedule hashes were printed (AH_PRINT_HASHES)"
    exit 1
fi
# Each (test, strategy, seed) must have exactly one hash over all the runs.
cat "$tmp"/hashes* | sed 's/ trace hash .*//' | sort -u >"$tmp/keys"
cat "$tmp"/hashes* | sort -u >"$tmp/all"
distinct=$(wc -l <"$tmp/all")
keys=$(wc -l <"$tmp/keys")
if [ "$distinct" -ne "$keys" ]; then
    echo "soak: some seeds gave more than one trace hash:"
    sed 's/ trace hash .*//' "$tmp/all" | uniq -d | head -n 10 | while read -r k; do
        grep -F "$k trace" "$tmp/all"
    done
    exit 1
fi
echo "soak: $keys explored kvclient schedules, each run $RUNS times in fresh processes, one trace hash each ($(($(date +%s) - t0)) s)"
