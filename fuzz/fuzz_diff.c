/* libFuzzer target: the differential subset of ops.c on the harness. Every input must pass
 * without a diagnostic (it holds only calls libuv defines; a deadlock report means real libuv
 * would hang and the input is dropped) and give the same trace when run
 * again (determinism). fuzz/diff.sh then replays the corpus on real libuv and on the harness
 * (ops_replay_real, ops_replay_sim) and compares the traces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ah/ah.h>

#include "ops.h"

static const uint8_t *input;
static size_t input_len;

static void body(ah_sim *sim, void *ctx)
{
    (void)ctx;
    ops_interpret(ah_sim_loop(sim), input, input_len);
    if (uv_loop_close(ah_sim_loop(sim)) != 0)
        ah_fail(sim, "uv_loop_close: handles left after the end of the ops");
}

void ops_undiagnosed(const char *what)
{
    fprintf(stderr, "fuzz_diff: misuse op in the differential subset: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ah_sim_opts opts = {.seed = 1,
                        .slow_callback_ms = 60000,
                        .name = "fuzz_diff",
                        .real_libc_clocks = 1 /* libFuzzer times each input with them */};
    char *msg, *first;
    size_t n, n2;

    if (size > 2048)
        return 0;
    input = data;
    input_len = size;
    msg = ah_capture_failure(&opts, body, NULL);
    if (msg != NULL && strncmp(msg, "deadlock:", 9) == 0) {
        /* The ops would hang real libuv (a loop left with only prepare/check handles): the
         * harness says so; not an input to compare (-1: not kept in the corpus). */
        free(msg);
        return -1;
    }
    if (msg != NULL) {
        fprintf(stderr, "fuzz_diff: a diagnostic on a correct sequence:\n%s\ntrace:\n%s", msg,
                ops_trace(NULL));
        abort();
    }
    first = strdup(ops_trace(&n));
    msg = ah_capture_failure(&opts, body, NULL);
    ops_trace(&n2);
    if (msg != NULL || n != n2 || memcmp(first, ops_trace(NULL), n) != 0) {
        fprintf(stderr, "fuzz_diff: the same ops gave another trace:\n%s\n---- again:\n%s\n%s",
                first, ops_trace(NULL), msg ? msg : "");
        abort();
    }
    free(first);
    return 0;
}
