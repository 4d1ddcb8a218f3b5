#!/bin/sh
# rooms_syscalls.sh BIN: the real system calls of an empty schedule (issue 21: a test pays only
# for what it uses). strace counts every system call of BIN exploring 20 timer-only schedules and
# of BIN exploring 2,020: the 2,000 more schedules must make no more calls (a few are allowed for
# the allocator growing its heap). Skipped (77) where strace is missing or cannot trace, and in a
# sanitizer build.
set -u
BIN=$1
command -v strace >/dev/null 2>&1 || { echo "strace is not installed: skipped"; exit 77; }
if [ -n "${AH_ROOMS_SANITIZED:-}" ]; then
    echo "a build with -fsanitize=$AH_ROOMS_SANITIZED: its runtime's own calls are counted too: skipped"
    exit 77
fi
DIR=$(mktemp -d "${TMPDIR:-/tmp}/ahrooms.XXXXXX") || exit 2
trap 'rm -rf "$DIR"' EXIT INT TERM
count() { # count N: the system calls of BIN N
    strace -f -c -o "$DIR/c$1" "$BIN" "$1" >"$DIR/o$1" 2>"$DIR/e$1" || {
        cat "$DIR/e$1" "$DIR/c$1" >&2 2>/dev/null
        return 1
    }
    grep -q "explored $1" "$DIR/o$1" || { echo "BIN did not explore $1 schedules" >&2; return 1; }
    awk '$NF == "total" { print $(NF - 2) }' "$DIR/c$1"
}
if ! strace -f -o /dev/null true >/dev/null 2>&1; then
    echo "strace cannot trace here: skipped"
    exit 77
fi
few=$(count 20) || exit 1
many=$(count 2020) || exit 1
echo "system calls: $few for 20 schedules, $many for 2020"
extra=$((many - few))
if [ "$extra" -gt 10 ]; then
    echo "2000 more empty schedules made $extra more system calls:"
    diff "$DIR/c20" "$DIR/c2020"
    exit 1
fi
echo "an empty schedule makes no system call ($extra more over 2000 schedules)"
