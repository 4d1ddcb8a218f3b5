#!/bin/sh
# compare.sh REAL SIM: runs a differential scenario on real libuv and on the harness and compares
# their traces (trace.h) line by line. Every field must match exactly except "@N": there the
# harness must print exactly the line's due=D, and real libuv a value in [D, D + SLACK_MS]
# (default 1000: generous for slow CI machines and valgrind). Exit status is compared too.
#
# The harness run is deterministic; the real one is not (a loaded machine wakes late, and a
# scenario that is not careful enough can then order callbacks differently). So the real program
# is run up to REAL_TRIES times (default 3) and the test passes when one run agrees; a semantic
# difference of the harness fails every attempt.
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 REAL SIM" >&2
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

"$2" >"$dir/sim" 2>"$dir/sim.err"
echo "exit $?" >>"$dir/sim"
if [ "$(wc -l <"$dir/sim")" -le 1 ]; then
    echo "the harness run printed no trace (only its exit status): no scenario ran" >&2
    cat "$dir/sim.err" >&2
    exit 1
fi

compare() {
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

try=1
while :; do
    "$1" >"$dir/real" 2>"$dir/real.err"
    echo "exit $?" >>"$dir/real"
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
    for f in real.err sim.err; do
        if [ -s "$dir/$f" ]; then
            echo "---- stderr of the ${f%.err} run:"
            cat "$dir/$f"
        fi
    done
fi
exit $rc
