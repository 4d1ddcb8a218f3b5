#!/bin/sh
# Checks that the C example in README.md is, line for line, selftest/test_readme_example.c
# (after that file's first comment line), so the example the README shows is one that compiles
# and passes.
set -eu
SRC=${1:-.}
awk '/^```c$/ { f = 1; next } /^```$/ { f = 0 } f' "$SRC/README.md" >"${TMPDIR:-/tmp}/readme-example.$$"
if tail -n +2 "$SRC/selftest/test_readme_example.c" | diff -u "${TMPDIR:-/tmp}/readme-example.$$" -; then
    echo "README example matches selftest/test_readme_example.c"
    rm -f "${TMPDIR:-/tmp}/readme-example.$$"
else
    rm -f "${TMPDIR:-/tmp}/readme-example.$$"
    echo "README.md's example and selftest/test_readme_example.c differ"
    exit 1
fi
