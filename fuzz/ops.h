/* The op-sequence interpreter shared by the fuzzers and the differential replays (ops.c). */
#ifndef FUZZ_OPS_H
#define FUZZ_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#ifdef OPS_FULL
#define OPS_KINDS 16 /* 8 handle/loop ops, 8 harness ops (ops_full.inc) */
#else
#define OPS_KINDS 8
#endif

typedef struct ops_result {
    const char *misuse;      /* the last misuse op attempted, if any */
    const char *undiagnosed; /* a misuse whose call returned: the harness missed it */
    int may_fail;            /* an op whose outcome may legitimately be a diagnostic ran */
} ops_result;
extern ops_result ops_res;

/* Interprets `data` as ops on `loop`, then closes what is left and runs the loop dry. */
void ops_interpret(uv_loop_t *loop, const uint8_t *data, size_t size);
/* The trace of the last run (valid until the next run or ops_trace_free). */
const char *ops_trace(size_t *len);
void ops_trace_free(void);
/* Called when a misuse op returned instead of failing the test (defined by the driver). */
void ops_undiagnosed(const char *what);

#endif
