#!/bin/sh
# compare.sh REAL SIM: the network and process differential tests (netdiff, procdiff). Lines
# starting with "~" depend on how the kernel split the bytes into reads and are not compared;
# every other line, and the exit status, must be identical (selftest/compare.sh --ignore '~').
exec sh "$(dirname "$0")/../compare.sh" --ignore '~' "$@"
