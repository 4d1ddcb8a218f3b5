/* UV_RUN_ONCE returns after an async wake-up without waiting for a pending timer, and an async
 * send from a prepare callback wakes the poll of the same iteration. */
#include "trace.h"

static uv_async_t as;
static uv_timer_t t;
static uv_prepare_t p;
static int nasync;

static void on_async(uv_async_t *h)
{
    (void)h;
    nasync++;
    T("async_cb", 0, nasync);
}

static void on_prepare(uv_prepare_t *h)
{
    T("prepare, sending", 0, nasync);
    uv_async_send(&as);
    uv_prepare_stop(h);
}

static void on_timer(uv_timer_t *h)
{
    (void)h;
    T("timer", 100, nasync);
    uv_close((uv_handle_t *)&as, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_async_init(loop, &as, on_async);
    uv_timer_init(loop, &t);
    uv_prepare_init(loop, &p);
    uv_timer_start(&t, on_timer, 100, 0);
    uv_async_send(&as);
    T("once (async sent)", 0, uv_run(loop, UV_RUN_ONCE));
    uv_prepare_start(&p, on_prepare);
    T("once (async sent from prepare)", 0, uv_run(loop, UV_RUN_ONCE));
    T("once (only the timer)", 100, uv_run(loop, UV_RUN_ONCE));
    T("once (closing async)", 100, uv_run(loop, UV_RUN_ONCE));
    return trace_end(loop);
}
