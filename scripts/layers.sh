#!/bin/sh
# The layer rules of docs/layout.md, checked on the built archives: nothing in a lower layer calls
# a higher one, and no files call each other in a circle. An edge is a reference from one object
# file to an ah_*, ah__* or uv_* symbol another defines; the C library functions the rooms stand in
# for (read, clock_gettime, pthread_mutex_lock, ...) are the C library's, not a dependency on the
# room. Circles that are known and not yet untangled are listed in scripts/layers.allow; any other
# circle, or a circle that grew beyond its listed files, fails.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
ALLOW=scripts/layers.allow
ORDER="fakeclock harness_core threads mocks fd fs proc world unsimulated"

libs=""
for l in $ORDER; do
    [ -f "$BUILD/libah_$l.a" ] && libs="$libs $BUILD/libah_$l.a"
done
[ -n "$libs" ] || {
    echo "layers: no archives under $BUILD (build first)"
    exit 1
}

# nm -A prints "archive:member: [addr] type name"
for a in $libs; do
    l=$(basename "$a" .a)
    l=${l#libah_}
    nm -A "$a" 2>/dev/null | sed "s|^[^:]*:|$l/|; s|\.c\.o:|.c: |"
done | awk -v order="$ORDER" -v allowfile="$ALLOW" '
function within(c,   a, m, nm, k, ok, f) {
    nm = split(c, m, " ")
    for (a in allowed) {
        ok = 1
        for (k = 1; k <= nm; k++) if (index(" " a " ", " " m[k] " ") == 0) { ok = 0; break }
        if (ok) return 1
    }
    return 0
}
function layer(o) { sub(/\/.*/, "", o); return rank[o] }
function strong(v,   i, w, k) {
    idx[v] = low[v] = n++; stack[sp++] = v; on[v] = 1
    for (k = 1; k <= nout[v]; k++) {
        w = out[v, k]
        if (!(w in idx)) { strong(w); if (low[w] < low[v]) low[v] = low[w] }
        else if (on[w] && idx[w] < low[v]) low[v] = idx[w]
    }
    if (low[v] == idx[v]) {
        comp = ""; size = 0
        do { w = stack[--sp]; on[w] = 0; members[size++] = w } while (w != v)
        if (size > 1) {
            # sorted, space-joined
            for (i = 0; i < size; i++) for (k = i + 1; k < size; k++)
                if (members[k] < members[i]) { t = members[i]; members[i] = members[k]; members[k] = t }
            for (i = 0; i < size; i++) comp = comp (i ? " " : "") members[i]
            circles[++ncircles] = comp
        }
    }
}
BEGIN {
    nl = split(order, ol, " "); for (i = 1; i <= nl; i++) rank[ol[i]] = i
    while ((getline line < allowfile) > 0) if (line !~ /^#/ && line != "") allowed[line] = 1
}
{
    obj = $1; sub(/:$/, "", obj); sym = $NF
    if (sym !~ /^(ah_|uv_)/) next
    if (NF == 3 && $2 == "U") users[++nu] = obj SUBSEP sym
    else if (NF == 4 && $3 ~ /^[TDBRWVG]$/) def[sym] = obj
}
END {
    bad = 0
    for (i = 1; i <= nu; i++) {
        split(users[i], p, SUBSEP); o = p[1]; s = p[2]
        if (!(s in def) || def[s] == o) continue
        d = def[s]
        if (layer(d) > layer(o)) { printf "layers: %s calls %s (%s), a higher layer\n", o, d, s; bad = 1 }
        if (!((o, d) in seen)) { seen[o, d] = 1; out[o, ++nout[o]] = d; nodes[o] = 1 }
    }
    for (v in nodes) if (!(v in idx)) strong(v)
    for (i = 1; i <= ncircles; i++) {
        if (within(circles[i])) { known++; continue }
        printf "layers: these files call each other in a circle: %s\n", circles[i]; bad = 1
    }
    if (bad) exit 1
    printf "layers: no upward calls; %d known circle(s) left (scripts/layers.allow)\n", known
}'
