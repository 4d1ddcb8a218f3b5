#!/bin/sh
# `make demo`: the kvclient suite on the harness (tests, virtual time simulated, wall time), then
# the same suite against the client built with -DKV_PLANTED_BUG, showing the failure, the virtual
# instant it happened at and the command that replays it. Exits 0 when the planted bug is caught,
# non-zero when it is not (or when the correct client fails its suite).
#   usage: sh scripts/demo.sh BUILD_DIR
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."

SUITE=$BUILD/examples/kvclient/tests/test_kvclient
PLANTED=$BUILD/examples/kvclient/tests/planted/test_kvclient_planted
CAUGHT_TEST=late_reply_after_timeout_keeps_pipeline_aligned
CAUGHT_MSG='expected the bulk string "B", got the bulk string "A"'
RACE_TEST=pipeline_under_jitter_never_hands_a_reply_to_the_wrong_command

for bin in "$SUITE" "$PLANTED"; do
    if [ ! -x "$bin" ]; then
        echo "demo: $bin is missing; build first (make build)"
        exit 2
    fi
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== 1. The kvclient test suite on the simulated loop"
echo "   A Redis client written against plain libuv (examples/kvclient), compiled unchanged"
echo "   against asyncharness: scripted servers, resets, DNS failures, timeouts and backoff"
echo "   delays, all on a virtual clock."
"$SUITE" >"$out" 2>&1
rc=$?
grep -E '^\[  (PASSED|FAILED)  \]' "$out" | sed 's/^/   /'
grep '^asyncharness: ' "$out" | sed 's/^/   /'
if [ $rc -ne 0 ]; then
    echo
    cat "$out"
    echo "demo: FAILED: the correct client fails its own suite"
    exit 1
fi

echo
echo "== 2. The same suite against a client with a planted bug"
echo "   Built with -DKV_PLANTED_BUG, a command that times out after being sent leaves no"
echo "   placeholder, so its late reply is handed to the next command."
"$PLANTED" >"$out" 2>&1
rc=$?
grep -E '^\[  FAILED  \] [a-z]' "$out" | sort -u | sed 's/^/   /'
# The failure as the harness reported it: the message, then [virtual time, seed, test] and the
# assertion's file and line.
awk -v msg="$CAUGHT_MSG" -v root="$(pwd)" '
    index($0, msg) { on = 1 }
    on && /replay: / { next }
    on && /LINE/ {
        sub(/.*--- /, ""); sub(/: error.*/, ""); sub(root "/", "")
        print "     at " $0; exit
    }
    on { print "   " $0 }' "$out"
grep '^asyncharness: ' "$out" | grep -v 'explore FAILED' | sed 's/^/   /'
if [ $rc -eq 0 ] || ! grep -qF "$CAUGHT_MSG" "$out" ||
    ! grep -q "^\[  FAILED  \] $CAUGHT_TEST\$" "$out"; then
    echo
    cat "$out"
    echo "demo: FAILED: the planted bug was NOT caught by $CAUGHT_TEST"
    exit 1
fi
replay=$(grep -o 'replay: .*' "$out" | head -n 1 | sed 's/^replay: //')
echo "   Replay it (same seed, same schedule, same failure):"
echo "     $replay"
# Prove the replay command does replay it.
env $replay >"$out" 2>&1
if grep -qF "$CAUGHT_MSG" "$out" && grep -q 'virtual time +150 ms' "$out"; then
    echo "   (replayed just now: the same failure at the same virtual instant)"
else
    cat "$out"
    echo "demo: FAILED: the replay command did not reproduce the failure"
    exit 1
fi

echo
echo "== 3. The schedule explorer finds the race and replays it"
echo "   $RACE_TEST: replies take 20-60 ms each"
echo "   way against a 100 ms timeout, drawn per segment from the sim's seeded oracle, so whether a"
echo "   late reply meets the next command depends on the schedule. The explorer runs many"
echo "   schedules, each on a fresh sim, and names the first that fails and how to replay it."
AH_SCHEDULES=200 "$SUITE" --test "$RACE_TEST" >"$out" 2>&1
if [ $? -ne 0 ]; then
    cat "$out"
    echo "demo: FAILED: the correct client failed an explored schedule"
    exit 1
fi
echo "   correct client: 200 schedules explored, none fails"
# The trace of the shortest failing schedule goes next to the binaries, not into the source tree.
AH_TRACE="$BUILD/ah-trace-race" AH_SCHEDULES=200 "$PLANTED" --test "$RACE_TEST" >"$out" 2>&1
banner=$(grep '^asyncharness: explore FAILED' "$out" | head -n 1)
if [ -z "$banner" ] || ! grep -qF "$CAUGHT_MSG" "$out"; then
    cat "$out"
    echo "demo: FAILED: the explorer did not find the race in the planted client"
    exit 1
fi
echo "   planted client:"
echo "$banner" | sed 's/; replay: /\n     replay: /; s/^asyncharness: /     /' | sed 's/\\n/\n/'
grep -E '^kvclient: |^  shrunk: |^  trace of the shortest' "$out" | sed 's/^ */     /' | head -n 3
race_replay=$(echo "$banner" | sed 's/.*; replay: //')
hash=$(echo "$banner" | sed 's/.*trace hash \(0x[0-9a-f]*\).*/\1/')
AH_TRACE="$BUILD/ah-trace-race-replay" env $race_replay >"$out" 2>&1
if grep -qF "$CAUGHT_MSG" "$out" && grep -q "trace hash $hash" "$out"; then
    echo "   replayed just now: the same failure, the same trace hash ($hash)"
else
    cat "$out"
    echo "demo: FAILED: replaying the explorer's schedule did not reproduce it"
    exit 1
fi

echo
echo "demo: passed: the planted bug was caught at its exact virtual instant, and the explorer"
echo "found the race behind it and replayed it from its seed"
exit 0
