#!/bin/sh
# `make bench`: every benchmark in bench/, the harness and real libuv side by side in one run.
# Prints one table per benchmark with the ratio harness/real (lower is better for the harness).
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."

field() { # field NAME LINE
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "== bench_timers: start and fire N timers (burst: all due at once), ns per timer"
printf '%10s %12s %12s %8s %18s\n' N real_ns harness_ns ratio harness_allocs/start
for n in 1000 100000 1000000; do
    real=$("$BUILD/bench/bench_timers_real" "$n")
    sim=$("$BUILD/bench/bench_timers_sim" "$n")
    r=$(field ns_per_timer "$real")
    h=$(field ns_per_timer "$sim")
    printf '%10s %12s %12s %8s %18s\n' "$n" "$r" "$h" \
        "$(awk -v a="$h" -v b="$r" 'BEGIN { printf "%.2f", a / b }')" \
        "$(field allocs_per_start "$sim")"
done
echo "== bench_timers tick: a 0 ms timer started and fired while N long timers wait, ns per tick"
printf '%10s %12s %12s %8s\n' N real_ns harness_ns ratio
for n in 100 10000 100000; do
    r=$(field ns_per_tick "$("$BUILD/bench/bench_timers_real" "$n" tick)")
    h=$(field ns_per_tick "$("$BUILD/bench/bench_timers_sim" "$n" tick)")
    printf '%10s %12s %12s %8s\n' "$n" "$r" "$h" "$(awk -v a="$h" -v b="$r" 'BEGIN { printf "%.2f", a / b }')"
done
echo "== bench_timers spread (harness only: real libuv would sleep N ms)"
"$BUILD/bench/bench_timers_sim" 100000 spread

echo "== bench_explore: schedules explored per second on a kvclient pipeline (goal 5,000/s on one core)"
"$BUILD/bench/bench_explore" 20000 8
"$BUILD/bench/bench_explore" 5000 64
echo "== bench_explore with AH_JOBS worker processes: 1 and 2 jobs, same schedules"
for jobs in 1 2; do
    "$BUILD/bench/bench_explore" 40000 8 "$jobs"
done
