#!/bin/sh
# docs-unsimulated.sh SRC UNSIMULATED_C: no page of docs/ (nor the README) calls simulated what
# the build stubs (generated/unsimulated.c), or calls not simulated a function the build
# simulates (one of include/ah/sites_uv.h, the functions taking a loop, handle or request, that
# has no stub). A page says "not simulated" of a function when it is an item of its own (the
# name, perhaps with a parenthesis) in the last column of a table whose header ends in "not
# simulated" (docs/network.md), or in prose as "`uv_x` is not simulated"; "`uv_tcp_connect` to
# another machine" there is a case, not the function. Every other mention of a stubbed function
# must sit on a line that says it is not simulated.
set -eu
src=$1
stubs=$2
tmp=${TMPDIR:-/tmp}/ah-docs-unsim.$$
trap 'rm -f "$tmp".*' EXIT INT TERM
grep -o 'ah__stub_uv_[a-z0-9_]*(void);' "$stubs" | sed 's/ah__stub_//; s/(void);//' | sort -u >"$tmp.stubs"
sed -n 's/^#define \(uv_[a-z0-9_]*\)(.*/\1/p' "$src/include/ah/sites_uv.h" | sort -u >"$tmp.uvh"
comm -23 "$tmp.uvh" "$tmp.stubs" >"$tmp.simulated"
bad=0
for page in "$src"/docs/*.md "$src/README.md"; do
    name=${page#"$src"/}
    # 1. what the page says is not simulated: the last cell of a "not simulated" column, and
    #    "`uv_x` is not simulated" / "`uv_x is not simulated" in prose.
    awk '
        /^\|/ {
            n = split($0, cell, "|")
            last = cell[n - 1]
            if (!intable) {
                intable = 1
                notcol = (last ~ /^ *not simulated *$/)
                next
            }
            if (notcol && last !~ /^[ -]*$/) {
                # items at parenthesis depth 0, each a claim when it is a name alone
                depth = 0; item = ""
                for (i = 1; i <= length(last) + 1; i++) {
                    c = i <= length(last) ? substr(last, i, 1) : ","
                    if (c == "(") depth++
                    if (c == ")") depth--
                    if (c == "," && depth == 0) {
                        gsub(/^ +| +$/, "", item)
                        if (item ~ /^`uv_[a-z0-9_]+(\(\))?`( \(.*\))?$/) print item
                        item = ""
                    } else item = item c
                }
            }
            next
        }
        { intable = 0; notcol = 0 }
        {
            line = $0
            while (match(line, /`uv_[a-z0-9_]+(\([^`]*\))?`? (is|are) not simulated/)) {
                print substr(line, RSTART, RLENGTH)
                line = substr(line, RSTART + RLENGTH)
            }
        }' "$page" | grep -o 'uv_[a-z0-9_]*' | sort -u >"$tmp.said" || true
    for fn in $(comm -12 "$tmp.said" "$tmp.simulated"); do
        echo "$name calls $fn not simulated, but the build simulates it (no stub): fix the page"
        bad=1
    done
    # 2. every mention of a stubbed function is on a line that says it is not simulated (or in
    #    a "not simulated" column).
    for fn in $(cat "$tmp.stubs"); do
        grep -n "\\b$fn\\b" "$page" | grep -v -i "not simulate\|does not simulate" |
            while IFS= read -r hit; do
                if ! grep -q "^$fn\$" "$tmp.said"; then
                    echo "$name:${hit%%:*}: mentions $fn, which the build stubs (not simulated), without saying so"
                    echo x >>"$tmp.bad2"
                fi
            done
    done
done
[ -f "$tmp.bad2" ] && bad=1
if [ $bad = 0 ]; then
    echo "docs/ and README.md agree with the build's $(wc -l <"$tmp.stubs") not-simulated stubs"
fi
exit $bad
