#!/bin/sh
# compare.sh REAL SIM: the kernel-object differential tests. The harness runs twice (the two
# traces, with their exact virtual instants, must be identical) and its trace is compared with the
# real one minus the "@" lines (virtual instants: the real run prints its times rounded to 100 ms
# instead) (selftest/compare.sh --twice --ignore '@').
exec sh "$(dirname "$0")/../compare.sh" --twice --ignore '@' "$@"
