/* An interpreter of op sequences: the bytes of a fuzz input are read as libuv calls (loop, timer,
 * idle/prepare/check/async, close, ref/unref, uv_run, uv_stop, uv_walk, ...) made at the top level
 * and from inside callbacks, and every callback, return code and close is written to a trace.
 *
 * Compiled three ways (docs/hardening.md):
 *   OPS_FULL      on the harness, every op including misuse (double close, start on a closing
 *                 handle, uv_run re-entered, a test verb inside a callback, a handle never
 *                 initialised), futures, async mocks and TCP streams to a scripted peer. Misuse
 *                 must end as a harness diagnostic: the call must not return.
 *   (default)     the differential subset: only calls whose result libuv defines, and timeouts in
 *                 steps of 10 ms so that a loaded machine does not reorder real timers. Built on
 *                 the harness and on real libuv; the traces must be identical (fuzz/diff.sh).
 * OPS_LIBFUZZER adds LLVMFuzzerTestOneInput; otherwise main() replays one input file and prints
 * its trace.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#ifdef OPS_HARNESS
#include <ah/ah.h>
#endif

#include "ops.h"

/* ---- the trace ---- */

static char *trace_s;
static size_t trace_len, trace_cap;

static void tr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tr(const char *fmt, ...)
{
    va_list ap;
    int n;

    if (trace_s == NULL) {
        trace_cap = 4096;
        trace_s = malloc(trace_cap);
        if (trace_s == NULL)
            abort();
    }
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(trace_s + trace_len, trace_cap - trace_len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (trace_len + (size_t)n + 1 < trace_cap)
            break;
        trace_cap = (trace_cap + (size_t)n + 1) * 2;
        trace_s = realloc(trace_s, trace_cap);
        if (trace_s == NULL)
            abort();
    }
    trace_len += (size_t)n;
}

/* ---- input ---- */

static const uint8_t *in;
static size_t in_len, in_pos;

static int more(void) { return in_pos < in_len; }
static unsigned byte(void) { return in_pos < in_len ? in[in_pos++] : 0; }

/* ---- handles ---- */

enum { K_TIMER, K_IDLE, K_PREPARE, K_CHECK, K_ASYNC, K_KINDS };
enum { S_UNINIT, S_OPEN, S_CLOSING, S_CLOSED };
#define NSLOT 10 /* two of each kind: slot i is of kind i % K_KINDS */
#define CB_MAX 120
#define DEPTH_MAX 3

typedef union {
    uv_handle_t h;
    uv_timer_t t;
    uv_idle_t i;
    uv_prepare_t p;
    uv_check_t c;
    uv_async_t a;
} any_handle;

static uv_loop_t *loop;
static any_handle hs[NSLOT];
static int state[NSLOT];
static int ncb, depth;
static int loop_closed; /* OPS_FULL: uv_loop_close succeeded */
static const char *const kind_name[K_KINDS] = {"timer", "idle", "prepare", "check", "async"};

#ifdef OPS_HARNESS
static ah_sim *the_sim;
#endif
ops_result ops_res;

static int kind_of(int s) { return s % K_KINDS; }
static int slot_of(const uv_handle_t *h)
{
    uintptr_t p = (uintptr_t)h, b = (uintptr_t)hs;
    return p >= b && p < b + sizeof(hs) ? (int)((p - b) / sizeof(hs[0])) : -1;
}

static void ops_run(int n);

/* A misuse op: the harness must fail the test inside the call, so control never comes back. */
#ifdef OPS_HARNESS
#define MISUSE(what, call)                                                                         \
    do {                                                                                           \
        ops_res.misuse = what;                                                                     \
        call;                                                                                      \
        ops_res.undiagnosed = what;                                                                \
        ops_undiagnosed(what);                                                                     \
    } while (0)
#endif

static int budget_left(void) { return ncb < CB_MAX && more(); }

/* Every callback traces itself and, while the input and the budget last, runs a few ops. */
static void in_callback(uv_handle_t *h, const char *what)
{
    int s = slot_of(h);
    ncb++;
    tr("cb %s%d %s\n", kind_name[kind_of(s)], s, what);
    if (!budget_left()) {
        /* The input is spent: stop repeating, so every run ends. */
        if (!uv_is_closing(h)) {
            switch (kind_of(s)) {
            case K_TIMER:
                uv_timer_stop(&hs[s].t);
                break;
            case K_IDLE:
                uv_idle_stop(&hs[s].i);
                break;
            case K_PREPARE:
                uv_prepare_stop(&hs[s].p);
                break;
            case K_CHECK:
                uv_check_stop(&hs[s].c);
                break;
            }
        }
        return;
    }
    if (depth < DEPTH_MAX) {
        depth++;
        ops_run((int)(byte() % 4));
        depth--;
    }
}

static void on_timer(uv_timer_t *t) { in_callback((uv_handle_t *)t, "fired"); }
static void on_idle(uv_idle_t *h) { in_callback((uv_handle_t *)h, "fired"); }
static void on_prepare(uv_prepare_t *h) { in_callback((uv_handle_t *)h, "fired"); }
static void on_check(uv_check_t *h) { in_callback((uv_handle_t *)h, "fired"); }
static void on_async(uv_async_t *h) { in_callback((uv_handle_t *)h, "fired"); }
static void on_close(uv_handle_t *h)
{
    int s = slot_of(h);
    state[s] = S_CLOSED;
    tr("close %s%d\n", kind_name[kind_of(s)], s);
}

static const char *run_mode_name(uv_run_mode m)
{
    return m == UV_RUN_DEFAULT ? "default" : m == UV_RUN_ONCE ? "once" : "nowait";
}

static void on_walk(uv_handle_t *h, void *arg)
{
    int s = slot_of(h);
    (void)arg;
    if (s >= 0 && s < NSLOT)
        tr(" %s%d%s", kind_name[kind_of(s)], s, uv_is_closing(h) ? "(closing)" : "");
}

/* ---- ops on handles ---- */

static void op_init(int s)
{
    int rc = 0;
    if (state[s] == S_OPEN || state[s] == S_CLOSING)
        return; /* re-initialising a live handle: a misuse op of its own (ops_full.inc) */
#ifndef OPS_FULL
    if (kind_of(s) == K_ASYNC && depth > 0)
        return; /* see async_blocks */
#endif
    switch (kind_of(s)) {
    case K_TIMER:
        rc = uv_timer_init(loop, &hs[s].t);
        break;
    case K_IDLE:
        rc = uv_idle_init(loop, &hs[s].i);
        break;
    case K_PREPARE:
        rc = uv_prepare_init(loop, &hs[s].p);
        break;
    case K_CHECK:
        rc = uv_check_init(loop, &hs[s].c);
        break;
    case K_ASYNC:
        rc = uv_async_init(loop, &hs[s].a, on_async);
        break;
    }
    state[s] = S_OPEN;
#ifdef OPS_FULL
    if (kind_of(s) == K_ASYNC)
        ops_res.may_fail = 1; /* a live async: uv_run may be reported as blocking for ever */
#endif
    tr("init %s%d rc=%d\n", kind_name[kind_of(s)], s, rc);
}

static void op_start(int s, unsigned arg)
{
    int rc = 0;
    uint64_t timeout = (arg & 3) * 10, repeat = ((arg >> 2) & 3) * 10;

#ifdef OPS_FULL
    if (state[s] == S_UNINIT || state[s] == S_CLOSED) {
        /* a handle never initialised in this sim, or one whose close callback ran */
        if (state[s] == S_UNINIT)
            MISUSE("start on a handle never initialised",
                   kind_of(s) == K_TIMER ? (void)uv_timer_start(&hs[s].t, on_timer, timeout, 0)
                                         : (void)uv_idle_start(&hs[s].i, on_idle));
        return;
    }
    if (state[s] == S_CLOSING && kind_of(s) != K_TIMER) {
        switch (kind_of(s)) {
        case K_IDLE:
            MISUSE("uv_idle_start on a closing handle", uv_idle_start(&hs[s].i, on_idle));
            break;
        case K_PREPARE:
            MISUSE("uv_prepare_start on a closing handle", uv_prepare_start(&hs[s].p, on_prepare));
            break;
        case K_CHECK:
            MISUSE("uv_check_start on a closing handle", uv_check_start(&hs[s].c, on_check));
            break;
        case K_ASYNC:
            MISUSE("uv_async_send on a closing handle", uv_async_send(&hs[s].a));
            break;
        }
        return;
    }
#else
    if (state[s] != S_OPEN && !(state[s] == S_CLOSING && kind_of(s) == K_TIMER))
        return;
#endif
    switch (kind_of(s)) {
    case K_TIMER:
        /* a closing timer: UV_EINVAL, as libuv 1.44 returns */
        rc = uv_timer_start(&hs[s].t, on_timer, timeout, repeat);
        tr("timer_start timer%d %llu %llu rc=%d\n", s, (unsigned long long)timeout,
           (unsigned long long)repeat, rc);
        return;
    case K_IDLE:
        rc = uv_idle_start(&hs[s].i, on_idle);
        break;
    case K_PREPARE:
        rc = uv_prepare_start(&hs[s].p, on_prepare);
        break;
    case K_CHECK:
        rc = uv_check_start(&hs[s].c, on_check);
        break;
    case K_ASYNC:
        rc = uv_async_send(&hs[s].a);
        break;
    }
    tr("start %s%d rc=%d\n", kind_name[kind_of(s)], s, rc);
}

static void op_stop(int s)
{
    int rc = 0;
    if (state[s] != S_OPEN && state[s] != S_CLOSING)
        return;
    switch (kind_of(s)) {
    case K_TIMER:
        rc = uv_timer_stop(&hs[s].t);
        break;
    case K_IDLE:
        rc = uv_idle_stop(&hs[s].i);
        break;
    case K_PREPARE:
        rc = uv_prepare_stop(&hs[s].p);
        break;
    case K_CHECK:
        rc = uv_check_stop(&hs[s].c);
        break;
    case K_ASYNC:
        return;
    }
    tr("stop %s%d rc=%d\n", kind_name[kind_of(s)], s, rc);
}

static void op_close(int s)
{
#ifdef OPS_FULL
    if (state[s] == S_CLOSING || state[s] == S_CLOSED) {
        MISUSE("uv_close twice", uv_close(&hs[s].h, on_close));
        return;
    }
    if (state[s] == S_UNINIT) {
        MISUSE("uv_close on a handle never initialised", uv_close(&hs[s].h, on_close));
        return;
    }
#else
    if (state[s] != S_OPEN)
        return;
#endif
    uv_close(&hs[s].h, on_close);
    state[s] = S_CLOSING;
    tr("uv_close %s%d\n", kind_name[kind_of(s)], s);
}

static void op_query(int s, unsigned arg)
{
    uv_handle_t *h = &hs[s].h;
    if (state[s] != S_OPEN && state[s] != S_CLOSING)
        return;
#ifndef OPS_FULL
    if (kind_of(s) == K_ASYNC && depth > 0 && arg % 6 < 2)
        return; /* see async_blocks */
#endif
    switch (arg % 6) {
    case 0:
        uv_ref(h);
        tr("ref %s%d\n", kind_name[kind_of(s)], s);
        break;
    case 1:
        uv_unref(h);
        tr("unref %s%d\n", kind_name[kind_of(s)], s);
        break;
    case 2:
        tr("query %s%d active=%d closing=%d ref=%d\n", kind_name[kind_of(s)], s, uv_is_active(h),
           uv_is_closing(h), uv_has_ref(h));
        break;
    case 3:
        if (kind_of(s) == K_TIMER)
            tr("timer_again timer%d rc=%d\n", s, uv_timer_again(&hs[s].t));
        break;
    case 4:
        if (kind_of(s) == K_TIMER) {
            uv_timer_set_repeat(&hs[s].t, ((arg >> 3) & 3) * 10);
            tr("timer_repeat timer%d %llu\n", s, (unsigned long long)uv_timer_get_repeat(&hs[s].t));
        }
        break;
    case 5:
        tr("type %s%d %s\n", kind_name[kind_of(s)], s, uv_handle_type_name(uv_handle_get_type(h)));
        break;
    }
}

/* A referenced async handle keeps a real loop waiting for another thread's uv_async_send for
 * ever; the harness's loop returns instead, as nothing in the sim can send. The differential
 * subset therefore runs such a loop with UV_RUN_NOWAIT, and creates or references async handles
 * only at the top level, where this is checked. */
#ifndef OPS_FULL
static int async_blocks(void)
{
    int s;
    for (s = K_ASYNC; s < NSLOT; s += K_KINDS)
        if (state[s] == S_OPEN && uv_has_ref(&hs[s].h))
            return 1;
    return 0;
}
#endif

static void op_run(unsigned arg)
{
    uv_run_mode mode = (uv_run_mode)(arg % 3);
    int rc;

#ifndef OPS_FULL
    if (async_blocks())
        mode = UV_RUN_NOWAIT;
#endif

    if (depth > 0) {
#ifdef OPS_FULL
        MISUSE("uv_run re-entered", uv_run(loop, mode));
#endif
        return;
    }
    tr("run %s\n", run_mode_name(mode));
    rc = uv_run(loop, mode);
    tr("run %s rc=%d\n", run_mode_name(mode), rc != 0);
}

static void op_loop(unsigned arg)
{
    switch (arg % 3) {
    case 0:
        uv_stop(loop);
        tr("stop\n");
        break;
    case 1:
        tr("alive %d\n", uv_loop_alive(loop));
        break;
    case 2:
        tr("walk");
        uv_walk(loop, on_walk, NULL);
        tr("\n");
        break;
    }
}

#ifdef OPS_FULL
#include "ops_full.inc"
#endif

/* Runs n ops (or until the input ends). */
static void ops_run(int n)
{
    while (n-- > 0 && more()) {
        unsigned op = byte(), a = byte();
        int s = (int)(a % NSLOT);
        switch (op % OPS_KINDS) {
        case 0:
            op_init(s);
            break;
        case 1:
        case 2:
            op_start(s, byte());
            break;
        case 3:
            op_stop(s);
            break;
        case 4:
            op_close(s);
            break;
        case 5:
            op_query(s, byte());
            break;
        case 6:
            op_run(a);
            break;
        case 7:
            op_loop(a);
            break;
#ifdef OPS_FULL
        default:
            op_full(op % OPS_KINDS - 8, a);
            break;
#endif
        }
    }
}

static void close_left(uv_handle_t *h, void *arg)
{
    int s = slot_of(h);
    (void)arg;
    if (s >= 0 && s < NSLOT && !uv_is_closing(h))
        op_close(s);
}

/* The whole input on `l`: ops at the top level, then what every program does at its end. */
void ops_interpret(uv_loop_t *l, const uint8_t *data, size_t size)
{
    int rc;

    loop = l;
    in = data;
    in_len = size;
    in_pos = 0;
    ncb = depth = loop_closed = 0;
    memset(hs, 0, sizeof(hs));
    memset(state, 0, sizeof(state));
    trace_len = 0;
    tr("begin\n");
#ifdef OPS_HARNESS
    the_sim = ah_sim_current();
#endif
#ifdef OPS_FULL
    full_begin();
#endif
    while (more())
        ops_run(1);
    in_len = in_pos = 0; /* callbacks from here on only stop their handles */
#ifdef OPS_FULL
    full_end();
#endif
    if (loop_closed)
        return;
    tr("end walk");
    uv_walk(loop, on_walk, NULL);
    tr("\n");
    uv_walk(loop, close_left, NULL);
    /* Twice: a uv_stop left pending makes the first run return at once (libuv clears it). */
    rc = uv_run(loop, UV_RUN_DEFAULT);
    tr("end run rc=%d\n", rc != 0);
    rc = uv_run(loop, UV_RUN_DEFAULT);
    tr("end run rc=%d\n", rc != 0);
}

const char *ops_trace(size_t *len)
{
    if (len != NULL)
        *len = trace_len;
    return trace_s != NULL ? trace_s : "";
}

void ops_trace_free(void)
{
    free(trace_s);
    trace_s = NULL;
    trace_len = trace_cap = 0;
}
