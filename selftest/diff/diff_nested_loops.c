/* Two loops: a timer callback of the default loop runs a second loop to completion. Time passes
 * inside (the thread blocks in the inner poll) but the outer loop's cached time does not move
 * until its next iteration; the outer timers that fell due meanwhile then fire late. */
#include "trace.h"

static uv_loop_t inner;
static uv_timer_t a, b, x, y;

static void on_y(uv_timer_t *h) { TL(h->loop, "inner timer y", 60, 0); }

static void on_x(uv_timer_t *h)
{
    TL(h->loop, "inner timer x (due at 5, run at 10)", 10, 0);
    uv_timer_start(&y, on_y, 50, 0);
}

static void on_a(uv_timer_t *h)
{
    T("outer timer a", 10, 0);
    TL(&inner, "inner loop time before its run", 0, 0);
    V("inner run", uv_run(&inner, UV_RUN_DEFAULT));
    TL(&inner, "inner loop time after its run", 60, 0);
    T("outer loop time, still cached", 10, 0);
    (void)h;
}

static void on_b(uv_timer_t *h)
{
    T("outer timer b (due at 40)", 60, 0);
    V("inner nowait", uv_run(&inner, UV_RUN_NOWAIT));
    (void)h;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    V("inner init", uv_loop_init(&inner));
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    uv_timer_init(&inner, &x);
    uv_timer_init(&inner, &y);
    uv_timer_start(&a, on_a, 10, 0);
    uv_timer_start(&b, on_b, 40, 0); /* 30 ms after a: a late a must not run with it */
    uv_timer_start(&x, on_x, 5, 0);
    V("outer run", uv_run(loop, UV_RUN_DEFAULT));
    T("after outer run", 60, 0);
    uv_close((uv_handle_t *)&x, NULL);
    uv_close((uv_handle_t *)&y, NULL);
    V("inner run", uv_run(&inner, UV_RUN_DEFAULT));
    V("inner close", uv_loop_close(&inner));
    return trace_end(loop);
}
