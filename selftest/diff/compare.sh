#!/bin/sh
# compare.sh REAL SIM: the timeline differential tests (diff, fsdiff). Every field of every line
# must match, and an "@N" field is a time judged against the line's due=D (selftest/compare.sh
# --due: the harness exactly D, real libuv within SLACK_MS after it).
exec sh "$(dirname "$0")/../compare.sh" --due "$@"
