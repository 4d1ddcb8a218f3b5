#!/bin/sh
# ah-explore over a two-process program (docs/world.md): the planted cross-process race is found
# (which worker's process runs first at one instant), the printed replay command reproduces it,
# and the correct twin stays clean under the same schedules.
set -u
explore=$1
dir=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out" || exit 1
fail() {
    echo "world explore: FAILED: $*"
    for f in "$out"/*.log; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
    exit 1
}
"$explore" -n 50 -- "$dir/world_race_planted" "$dir/world_race_worker" 7500 >planted.log 2>&1 &&
    fail "the planted race was not found"
grep -q "explore FAILED: test world_race_planted" planted.log || fail "no failure banner"
replay=$(sed -n 's/.*; replay: \(AH_SEED=[0-9]* AH_STRATEGY=random [^ ]*world_race_planted .*\)$/\1/p' planted.log | head -1)
[ -n "$replay" ] || fail "no replay command"
echo "replay: $replay"
# The replay command, run as printed (twice: the same failure each time).
for i in 1 2; do
    env $replay >replay$i.log 2>&1 && fail "the replay passed"
    grep -q "supervisor: connection . is worker ., not ." replay$i.log || fail "replay $i: not the race"
done
grep -v "pid\|0x" replay1.log >r1.txt
grep -v "pid\|0x" replay2.log >r2.txt
cmp -s r1.txt r2.txt || fail "the two replays differ"
"$explore" -n 50 -- "$dir/world_race_correct" "$dir/world_race_worker" 7500 >twin.log 2>&1 ||
    fail "the correct twin failed"
grep -q "50 schedule(s) of .*world_race_correct.* passed" twin.log || fail "twin: no summary"
echo "world explore: ok"
