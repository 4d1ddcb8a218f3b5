/* libFuzzer target: op sequences on the harness, misuse included (ops.c compiled OPS_FULL).
 *
 * Each input runs in a fresh sim through ah_capture_failure, so a harness diagnostic is an
 * expected outcome. A finding is: a crash, a sanitizer report, a leak, a hang (libFuzzer's
 * -timeout), a misuse op whose call returned (not diagnosed), or a diagnostic on a sequence
 * that used neither misuse nor an op that may legitimately fail (futures left, mocks, peers);
 * a deadlock report (a program that would hang on real libuv) is always a correct outcome. */
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
}

void ops_undiagnosed(const char *what)
{
    fprintf(stderr, "fuzz_ops: misuse not diagnosed by the harness: %s\ntrace:\n%s", what,
            ops_trace(NULL));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small limits keep every input short: a runaway or a long virtual run ends in a diagnostic. */
    ah_sim_opts opts = {.seed = 1,
                        .runaway_limit = 5000,
                        .time_limit_ms = 3600 * 1000,
                        .slow_callback_ms = 60000,
                        .name = "fuzz_ops",
                        .real_libc_clocks = 1 /* libFuzzer times each input with them */};
    char *msg;

    if (size > 2048)
        return 0;
    input = data;
    input_len = size;
    ops_res = (ops_result){0};
    msg = ah_capture_failure(&opts, body, NULL);
    /* A deadlock report is the harness diagnosing a program that would hang on real libuv (a
     * loop left with only prepare/check handles, a referenced async): a correct outcome. */
    if (msg != NULL && ops_res.misuse == NULL && !ops_res.may_fail &&
        strncmp(msg, "deadlock:", 9) != 0) {
        fprintf(stderr, "fuzz_ops: a diagnostic on a correct sequence:\n%s\ntrace:\n%s", msg,
                ops_trace(NULL));
        abort();
    }
    if (msg != NULL && msg[0] == '\0') {
        fprintf(stderr, "fuzz_ops: an empty diagnostic\n");
        abort();
    }
    free(msg);
    return 0;
}
