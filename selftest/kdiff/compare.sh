#!/bin/sh
# compare.sh REAL SIM: runs a kernel-object scenario twice on the harness (the two traces, with
# their exact virtual instants, must be identical) and once on the real libuv, and compares the
# real trace with the harness's minus its "@" lines (virtual instants: the real run prints its
# times rounded to 100 ms instead). The real run may meet a busy machine: it is tried up to
# REAL_TRIES times (default 3).
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 REAL SIM" >&2
    exit 2
fi
for p in "$1" "$2"; do
    if [ ! -x "$p" ]; then
        echo "compare.sh: $p is not an executable program" >&2
        exit 2
    fi
done
REAL_TRIES=${REAL_TRIES:-3}
dir=$(mktemp -d "${TMPDIR:-/tmp}/ahkdiff.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT INT TERM

run() { # run PROGRAM OUT
    "$1" >"$2.raw" 2>"$2.err"
    echo "exit $?" >>"$2.raw"
    grep -v '^@' "$2.raw" >"$2"
}

run "$2" "$dir/sim"
run "$2" "$dir/sim2"
if [ "$(wc -l <"$dir/sim")" -le 1 ]; then
    echo "the harness run printed no trace (only its exit status): no scenario ran" >&2
    cat "$dir/sim.err" >&2
    exit 1
fi
if ! cmp -s "$dir/sim.raw" "$dir/sim2.raw"; then
    echo "two harness runs differ:"
    diff "$dir/sim.raw" "$dir/sim2.raw"
    exit 1
fi
echo "the harness's trace, with its virtual instants:"
cat "$dir/sim.raw"
try=1
while :; do
    run "$1" "$dir/real"
    if cmp -s "$dir/real" "$dir/sim"; then
        echo "$(wc -l <"$dir/sim") lines agree with real libuv"
        exit 0
    fi
    if [ "$try" -ge "$REAL_TRIES" ]; then
        break
    fi
    echo "real run $try disagrees; running it again"
    try=$((try + 1))
done
echo "the traces differ (real libuv on the left, the harness on the right):"
diff -y -W 140 "$dir/real" "$dir/sim"
for f in real sim; do
    if [ -s "$dir/$f.err" ]; then
        echo "---- stderr of the $f run:"
        cat "$dir/$f.err"
    fi
done
exit 1
