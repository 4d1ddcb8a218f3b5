#!/bin/sh
# The explorer's command line end to end (CTest explore_replay_cli): the planted program fails
# with ONE banner line; the replay command it prints, run as printed, fails again with the same
# trace hash; so does the shrunk schedule's command; AH_TRACE writes a JSON trace that parses.
set -eu
unset AH_JOBS AH_SHARD # the expectations below are those of one unsharded process
BIN=$1
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"

fail() { echo "replay.sh: $*"; echo "--- stderr:"; cat "$DIR/err" 2>/dev/null || true; exit 1; }

if AH_SCHEDULES=1000 AH_TRACE="$DIR/shortest" "$BIN" >out 2>err; then fail "the planted race was not found"; fi
n=$(grep -c "explore FAILED" err || true)
[ "$n" = 1 ] || fail "expected one banner line, got $n"
banner=$(grep "explore FAILED" err)
echo "banner: $banner"
hash=$(echo "$banner" | sed -n 's/.*trace hash \(0x[0-9a-f]*\);.*/\1/p')
cmd=$(echo "$banner" | sed -n 's/.*; replay: //p')
[ -n "$hash" ] && [ -n "$cmd" ] || fail "no hash or replay command in the banner"
echo "$cmd" | grep -q -- "--test replies_in_order" || fail "the command does not name the test"

# 1. the seed replays the same timeline
if env $cmd >out2 2>err2; then fail "replay passed: $cmd"; fi
hash2=$(grep "explore FAILED" err2 | sed -n 's/.*trace hash \(0x[0-9a-f]*\);.*/\1/p')
[ "$hash" = "$hash2" ] || fail "replay gave trace hash $hash2, expected $hash"
grep -q "schedule 1 of 1," err2 || fail "the replay ran more than the one schedule"
echo "seed replay: same trace hash $hash2"

# 2. the shrunk schedule replays with the hash printed beside it
line=$(grep "replay the shortest: " err)
scmd=$(echo "$line" | sed -n 's/.*replay the shortest: \(.*\) (trace hash .*/\1/p')
shash=$(echo "$line" | sed -n 's/.*(trace hash \(0x[0-9a-f]*\)).*/\1/p')
if env $scmd >out3 2>err3; then fail "shrunk replay passed: $scmd"; fi
shash2=$(grep "explore FAILED" err3 | sed -n 's/.*trace hash \(0x[0-9a-f]*\);.*/\1/p')
[ "$shash" = "$shash2" ] || fail "shrunk replay gave $shash2, expected $shash"
echo "shrunk replay ($scmd): same trace hash $shash2"

# 2a. the shortest is a local minimum: replayed, the shrinker finds nothing shorter (it shrank
# further when replayed once: 1:314 became 1:296); with a budget too small it says so and prints
# the command that goes on shrinking
grep -q "a local minimum: removing any one of its choices" err || fail "the shrinker did not say it reached a local minimum"
schoices=$(echo "$scmd" | sed -n 's/.*AH_REPLAY=\([^ ]*\) .*/\1/p')
s2=$(grep "replay the shortest: " err3 | sed -n 's/.*AH_REPLAY=\([^ ]*\) .*/\1/p')
[ -n "$schoices" ] && [ "$schoices" = "$s2" ] || fail "the shortest schedule $schoices shrank further when replayed: $s2"
echo "local minimum: $schoices replays and shrinks to itself"
if AH_SCHEDULES=1000 AH_SHRINK_RUNS=2 "$BIN" >out10 2>err10; then fail "AH_SHRINK_RUNS=2 did not find the race"; fi
ccmd=$(sed -n "s/.*budget (2 runs) ended before a local minimum; to go on shrinking: //p" err10)
[ -n "$ccmd" ] || fail "no 'budget ended' line with AH_SHRINK_RUNS=2"
if env $ccmd >out11 2>err11; then fail "the command that goes on shrinking passed: $ccmd"; fi
grep -q "a local minimum: removing any one" err11 || fail "going on shrinking did not reach a local minimum: $ccmd"
c2=$(grep "replay the shortest: " err11 | sed -n 's/.*AH_REPLAY=\([^ ]*\) .*/\1/p')
echo "budget of 2 runs: said so; its command went on to the local minimum $c2"

# 2b. the same for PCT: its seed replays in a new process (priorities and change points are a
# function of the seed and the test, never of pointer values)
if AH_STRATEGY=pct AH_PCT_DEPTH=2 AH_SCHEDULES=1000 "$BIN" >out4 2>err4; then fail "pct did not find the race"; fi
pbanner=$(grep "explore FAILED" err4)
phash=$(echo "$pbanner" | sed -n 's/.*trace hash \(0x[0-9a-f]*\);.*/\1/p')
pcmd=$(echo "$pbanner" | sed -n 's/.*; replay: //p')
echo "$pcmd" | grep -q "AH_STRATEGY=pct AH_PCT_DEPTH=2" || fail "the pct replay command lacks its strategy: $pcmd"
if env $pcmd >out5 2>err5; then fail "pct replay passed: $pcmd"; fi
phash2=$(grep "explore FAILED" err5 | sed -n 's/.*trace hash \(0x[0-9a-f]*\);.*/\1/p')
[ "$phash" = "$phash2" ] || fail "pct replay gave $phash2, expected $phash"
echo "pct replay ($pcmd): same trace hash $phash2"

# 2c. a CI job's share of the seeds: AH_SEED_START/AH_SEED_COUNT
if AH_SEED_START=1 AH_SEED_COUNT=3 "$BIN" >out6 2>err6; then fail "the seed range did not find the race"; fi
grep -q "schedule 1 of 3, strategy random, seed 1, trace hash $hash;" err6 ||
    fail "AH_SEED_START/AH_SEED_COUNT: $(grep 'explore FAILED' err6)"
echo "seed range: schedule 1 of 3, seed 1, same trace hash"

# 2d. AH_JOBS: worker processes report what one process reports; AH_SHARD: a slice finds the
# failure with the unsharded run's seed, and its replay command replays even with AH_SHARD set
if AH_JOBS=2 AH_SCHEDULES=1000 "$BIN" >out7 2>err7; then fail "AH_JOBS=2 did not find the race"; fi
[ "$(grep "explore FAILED" err7)" = "$banner" ] || fail "AH_JOBS=2 banner: $(grep 'explore FAILED' err7)"
echo "AH_JOBS=2: the same banner"
if AH_SHARD=2/3 AH_SCHEDULES=1000 "$BIN" >out8 2>err8; then fail "shard 2/3 did not find the race"; fi
sbanner=$(grep "explore FAILED" err8)
sseed=$(echo "$sbanner" | sed -n 's/.*, seed \([0-9]*\), trace hash.*/\1/p')
[ $(((sseed - 1) % 3)) = 1 ] || fail "shard 2/3 ran seed $sseed"
shash=$(echo "$sbanner" | sed -n 's/.*trace hash \(0x[0-9a-f]*\);.*/\1/p')
scmd=$(echo "$sbanner" | sed -n 's/.*; replay: //p')
if AH_SHARD=2/3 env $scmd >out9 2>err9; then fail "the shard's replay passed: $scmd"; fi
grep -q "seed $sseed, trace hash $shash;" err9 || fail "the shard's replay: $(grep 'explore FAILED' err9)"
echo "AH_SHARD=2/3: seed $sseed, replayed with the same trace hash"

# 3. the trace of the shortest failing schedule
[ -s "$DIR/shortest.txt" ] || fail "no text trace written"
if command -v python3 >/dev/null 2>&1; then
    python3 -m json.tool "$DIR/shortest.json" >/dev/null || fail "the JSON trace does not parse"
fi
echo "trace: $(wc -l <"$DIR/shortest.txt") steps, JSON parses"
