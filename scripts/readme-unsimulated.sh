#!/bin/sh
# readme-unsimulated.sh SRC UNSIMULATED_C: the README's "not simulated" row must list exactly the
# functions the build made stubs for (generated/unsimulated.c), so the table says what is
# simulated. When a helper simulates more (or uv.h grows), edit that row.
set -eu
src=$1
stubs=$2
tmp=${TMPDIR:-/tmp}/ah-readme-unsim.$$
trap 'rm -f "$tmp".*' EXIT INT TERM
grep '^| not simulated |' "$src/README.md" | cut -d'|' -f3 | grep -o 'uv_[a-z0-9_]*' | sort -u >"$tmp.readme"
grep -o 'ah__stub_uv_[a-z0-9_]*(void);' "$stubs" | sed 's/ah__stub_//; s/(void);//' | sort -u >"$tmp.stubs"
if cmp -s "$tmp.readme" "$tmp.stubs"; then
    echo "README lists the $(wc -l <"$tmp.stubs") functions that are not simulated"
    exit 0
fi
echo "README.md's \"not simulated\" row differs from the build's stubs:"
comm -23 "$tmp.stubs" "$tmp.readme" | sed 's/^/  not simulated, missing from the row: /'
comm -13 "$tmp.stubs" "$tmp.readme" | sed 's/^/  simulated now, remove from the row (and add it to its area): /'
exit 1
