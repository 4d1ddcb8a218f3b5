#!/bin/sh
# planted/threads.sh BIN: a failure on a thread fails its test (with the thread, the virtual time
# and the replay line), the next tests still run, and the exit code counts the failed tests.
out=$("$1" 2>&1)
rc=$?
fail() {
    echo "$out"
    echo "threads.sh: $*"
    exit 1
}
[ "$rc" -eq 2 ] || fail "exit code $rc, expected 2 (two failed tests)"
echo "$out" | grep -q "on thread 1 (uv_thread_create in a_thread_asserts (planted_threads.c:" || fail "no thread in the assert's report"
echo "$out" | grep -q "virtual time +20 ms" || fail "no virtual time"
echo "$out" | grep -q "replay: AH_SEED=1 .* --test a_thread_asserts" || fail "no replay line"
echo "$out" | grep -q "deadlock: every simulated thread is blocked" || fail "no deadlock report"
echo "$out" | grep -q "OK \] runs_after_them" || fail "the next test did not run"
echo "$out" | grep -q "2 FAILED TEST(S)" || fail "no summary"
echo "threads.sh: as expected"
