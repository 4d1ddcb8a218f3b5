#!/bin/sh
# diff.sh REAL SIM DIR...: replays every op-sequence file under DIR... with ops_replay_real (real
# libuv) and ops_replay_sim (the harness) and compares their traces, which hold no times, line by
# line. Real libuv runs on the real clock: a loaded machine can wake a timer late, so the real
# program is run up to REAL_TRIES times (default 3) and one agreeing run is enough.
set -u
REAL=$1
SIM=$2
shift 2
REAL_TRIES=${REAL_TRIES:-3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ahopsdiff.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
bad=0
skipped=0
for dir in "$@"; do
    [ -d "$dir" ] || continue
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        timeout 60 "$SIM" "$f" >"$tmp/sim" 2>"$tmp/sim.err"
        echo "exit $?" >>"$tmp/sim"
        if grep -q '^deadlock: ' "$tmp/sim.err"; then
            # The harness says real libuv would block for ever on these ops: nothing to compare.
            skipped=$((skipped + 1))
            continue
        fi
        try=1
        while :; do
            timeout 60 "$REAL" "$f" >"$tmp/real" 2>"$tmp/real.err"
            echo "exit $?" >>"$tmp/real"
            if cmp -s "$tmp/real" "$tmp/sim" || [ "$try" -ge "$REAL_TRIES" ]; then
                break
            fi
            try=$((try + 1))
        done
        # The differential subset is correct libuv code: both programs must also exit 0.
        if ! cmp -s "$tmp/real" "$tmp/sim" || [ "$(tail -n 1 "$tmp/sim")" != "exit 0" ]; then
            bad=$((bad + 1))
            echo "DIFFERS: $f (real libuv left, harness right)"
            diff "$tmp/real" "$tmp/sim" | head -n 20
            head -c 2000 "$tmp/sim.err"
        fi
    done
done
echo "ops diff: $((n - skipped)) inputs replayed on real libuv and on the harness ($skipped that would hang real libuv skipped), $bad differ"
[ "$bad" -eq 0 ]
