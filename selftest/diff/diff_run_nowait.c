/* UV_RUN_NOWAIT: one iteration that never waits; returns whether work is left. Time only passes
 * outside the loop here (uv_sleep), so a timer not yet due does not fire. */
#include "trace.h"

static uv_timer_t t;
static uv_async_t as;
static uv_check_t chk;
static int nchecks;

static void on_timer(uv_timer_t *h)
{
    (void)h;
    T("timer", 50, 0);
}

static void on_async(uv_async_t *h)
{
    (void)h;
    T("async_cb", 50, 0);
}

static void on_check(uv_check_t *h)
{
    (void)h;
    nchecks++;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    V("nowait on an empty loop", uv_run(loop, UV_RUN_NOWAIT));
    uv_timer_init(loop, &t);
    uv_check_init(loop, &chk);
    uv_check_start(&chk, on_check);
    uv_unref((uv_handle_t *)&chk);
    uv_timer_start(&t, on_timer, 50, 0);
    T("nowait (timer not due)", 0, uv_run(loop, UV_RUN_NOWAIT));
    V("checks", nchecks);
    uv_sleep(50);
    T("nowait (timer due)", 50, uv_run(loop, UV_RUN_NOWAIT));
    V("checks", nchecks);

    uv_async_init(loop, &as, on_async);
    V("async send", uv_async_send(&as));
    T("nowait (async sent)", 50, uv_run(loop, UV_RUN_NOWAIT));
    T("nowait (async idle)", 50, uv_run(loop, UV_RUN_NOWAIT));
    V("checks", nchecks);
    uv_close((uv_handle_t *)&as, NULL);
    T("nowait (closing)", 50, uv_run(loop, UV_RUN_NOWAIT));
    V("nowait (nothing)", uv_run(loop, UV_RUN_NOWAIT));
    V("checks", nchecks);
    return trace_end(loop);
}
