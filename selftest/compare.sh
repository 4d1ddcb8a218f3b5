#!/bin/sh
# compare.sh [--ignore C] [--twice] [--due] REAL SIM: the one comparer of the differential tests
# (diff, fsdiff, netdiff, procdiff, kdiff). It runs a scenario on the harness (SIM) and on real
# libuv (REAL) and compares their traces line by line, exit status included. What may differ:
#   --ignore C  lines starting with C are not compared (netdiff's "~": how the kernel split the
#               bytes into reads; kdiff's "@": virtual instants, printed rounded by the real run)
#   --twice     the harness runs twice and its two raw traces must be identical; the harness's
#               trace is printed (kdiff)
#   --due       an "@N" field is a time: the harness must print exactly the line's due=D, real
#               libuv a value in [D, D + SLACK_MS] (default 1000: generous for slow CI machines and
#               valgrind); every other field must match (diff, fsdiff)
# The harness run is deterministic; the real one is not (a loaded machine wakes late, and a
# scenario that is not careful enough can then order callbacks differently). So the real program
# is run up to REAL_TRIES times (default 3) and the test passes when one run agrees; a semantic
# difference of the harness fails every attempt.
set -u
ignore=""
twice=0
due=0
while [ $# -gt 0 ]; do
    case $1 in
    --ignore)
        ignore=$2
        shift 2
        ;;
    --twice)
        twice=1
        shift
        ;;
    --due)
        due=1
        shift
        ;;
    *) break ;;
    esac
done
if [ $# -ne 2 ]; then
    echo "usage: $0 [--ignore C] [--twice] [--due] REAL SIM" >&2
    exit 2
fi
for p in "$1" "$2"; do
    # two missing programs would agree ("exit 127" twice): that is no test
    if [ ! -x "$p" ]; then
        echo "compare.sh: $p is not an executable program" >&2
        exit 2
    fi
done
SLACK_MS=${SLACK_MS:-1000}
REAL_TRIES=${REAL_TRIES:-3}
dir=$(mktemp -d "${TMPDIR:-/tmp}/ahdiff.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT INT TERM

run() { # run PROGRAM OUT: OUT.raw is the whole trace, OUT the lines compared
    "$1" >"$2.raw" 2>"$2.err"
    echo "exit $?" >>"$2.raw"
    if [ -n "$ignore" ]; then
        grep -v "^$ignore" "$2.raw" >"$2"
    else
        cp "$2.raw" "$2"
    fi
}

# Prints "N lines agree" and succeeds when the real trace agrees with the harness's; else prints
# the first difference (and, unless $1 is 1, both traces side by side) and fails.
compare_due() {
awk -v slack="$SLACK_MS" -v realf="$dir/real" -v quiet="$1" '
function due_of(f, n,    i) {
    for (i = 1; i <= n; i++)
        if (f[i] ~ /^due=[0-9]+$/)
            return substr(f[i], 5) + 0
    return -1
}
# Returns "" when the real line r and the sim line s agree, else why not.
function judge(r, s,    rf, sf, nr, ns, i, d, rv, sv) {
    nr = split(r, rf, " ")
    ns = split(s, sf, " ")
    if (nr != ns)
        return "different fields"
    d = due_of(sf, ns)
    for (i = 1; i <= ns; i++) {
        if (sf[i] ~ /^@[0-9]+$/ && rf[i] ~ /^@[0-9]+$/) {
            if (d < 0)
                return "@ field without due="
            sv = substr(sf[i], 2) + 0
            rv = substr(rf[i], 2) + 0
            if (sv != d)
                return "harness time " sv " is not the due time " d
            if (rv < sv)
                return "real time " rv " is earlier than the harness time " sv
            if (rv > sv + slack)
                return "real time " rv " is later than the harness time " sv " + " slack
        } else if (rf[i] != sf[i]) {
            return "\"" rf[i] "\" != \"" sf[i] "\""
        }
    }
    return ""
}
FILENAME == realf { real[++nreal] = $0; next }
{ sim[++nsim] = $0 }
END {
    n = nreal > nsim ? nreal : nsim
    bad = 0
    for (i = 1; i <= n; i++) {
        why = (i > nreal) ? "missing on real libuv" : (i > nsim) ? "missing on the harness" : judge(real[i], sim[i])
        if (why != "") {
            if (bad == 0)
                printf "first difference at line %d: %s\n", i, why
            bad++
            mark[i] = 1
        }
    }
    if (bad == 0) {
        printf "%d lines agree\n", nsim
        exit 0
    }
    if (quiet)
        exit 1
    printf "%-48s | %s\n", "real libuv", "harness"
    for (i = 1; i <= n; i++)
        printf "%s %-46s | %s\n", mark[i] ? "!" : " ", real[i], sim[i]
    exit 1
}' "$dir/real" "$dir/sim"
}

compare_exact() {
    if cmp -s "$dir/real" "$dir/sim"; then
        echo "$(wc -l <"$dir/sim") lines agree"
        return 0
    fi
    echo "first difference: $(diff "$dir/real" "$dir/sim" | sed -n 2p)"
    if [ "$1" != 1 ]; then
        echo "the traces differ (real libuv on the left, the harness on the right):"
        diff -y -W 140 "$dir/real" "$dir/sim"
    fi
    return 1
}

compare() {
    if [ "$due" = 1 ]; then
        compare_due "$1"
    else
        compare_exact "$1"
    fi
}

run "$2" "$dir/sim"
if [ "$(wc -l <"$dir/sim")" -le 1 ]; then
    echo "the harness run printed no trace (only its exit status): no scenario ran" >&2
    cat "$dir/sim.err" >&2
    exit 1
fi
if [ "$twice" = 1 ]; then
    run "$2" "$dir/sim2"
    if ! cmp -s "$dir/sim.raw" "$dir/sim2.raw"; then
        echo "two harness runs differ:"
        diff "$dir/sim.raw" "$dir/sim2.raw"
        exit 1
    fi
    echo "the harness's trace, with its virtual instants:"
    cat "$dir/sim.raw"
fi

try=1
while :; do
    run "$1" "$dir/real"
    if [ "$try" -ge "$REAL_TRIES" ]; then
        compare 0
        rc=$?
        break
    fi
    if compare 1 >"$dir/verdict"; then
        cat "$dir/verdict"
        rc=0
        break
    fi
    echo "real run $try disagrees ($(head -n 1 "$dir/verdict")); running it again"
    try=$((try + 1))
done
if [ $rc -ne 0 ]; then
    for f in real sim; do
        if [ -s "$dir/$f.err" ]; then
            echo "---- stderr of the $f run:"
            cat "$dir/$f.err"
        fi
    done
fi
exit $rc
