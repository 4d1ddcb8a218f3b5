/* uv_now is cached per loop iteration: time spent outside the loop (uv_sleep) shows only after
 * uv_update_time or the next iteration, and a timer started meanwhile counts from the stale
 * time. Inside a callback the same holds. */
#include "trace.h"

static uv_timer_t a, b, c;

static void on_c(uv_timer_t *h)
{
    (void)h;
    T("timer c (started with a stale now)", 55, 0);
}

static void on_a(uv_timer_t *h)
{
    (void)h;
    T("timer a (due at 10, late)", 20, 0);
}

static void on_b(uv_timer_t *h)
{
    T("timer b", 30, 0);
    uv_sleep(25);
    T("now inside the callback after uv_sleep(25)", 30, 0);
    uv_timer_start(&c, on_c, 5, 0); /* due at 35 by the cached time: already late */
    V("c due_in", uv_timer_get_due_in(&c));
    uv_update_time(h->loop);
    T("after uv_update_time", 55, 0);
    V("c due_in after update", uv_timer_get_due_in(&c));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uint64_t h0 = uv_hrtime();

    trace_begin(loop);
    uv_sleep(20);
    T("now after uv_sleep(20)", 0, 0);
    printf("hrtime after uv_sleep(20) @%llu due=20\n",
           (unsigned long long)((uv_hrtime() - h0) / 1000000));
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    uv_timer_init(loop, &c);
    uv_timer_start(&a, on_a, 10, 0);
    uv_update_time(loop);
    T("after uv_update_time", 20, 0);
    uv_timer_start(&b, on_b, 10, 0);
    V("b due_in", uv_timer_get_due_in(&b));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 55, 0);
    return trace_end(loop);
}
