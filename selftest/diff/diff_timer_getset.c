/* uv_timer_set_repeat, uv_timer_get_repeat and uv_timer_get_due_in, before, during and after the
 * timer runs. Times that depend on the clock are printed as absolute due times (due_in plus
 * the elapsed time), which are the same on both. */
#include "trace.h"

static uv_timer_t a, b;
static int na;

static uint64_t abs_due(const uv_timer_t *h)
{
    return uv_timer_get_due_in(h) + (uv_now(h->loop) - trace_start_ms);
}

static void on_a(uv_timer_t *h)
{
    T("timer a", 10 + 15 * (uint64_t)na, uv_timer_get_repeat(h));
    V("a due_in (restarted before the callback)", uv_timer_get_due_in(h));
    V("b abs due", abs_due(&b));
    if (na == 0)
        uv_timer_set_repeat(h, 0); /* too late for the next run: already rescheduled */
    na++;
}

static void on_b(uv_timer_t *h)
{
    T("timer b", 100, uv_timer_get_repeat(h));
    V("b due_in after firing", uv_timer_get_due_in(h));
    V("b active", uv_is_active((uv_handle_t *)h));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    V("init repeat", uv_timer_get_repeat(&a));
    V("init due_in", uv_timer_get_due_in(&a));
    uv_timer_set_repeat(&a, 42);
    V("set repeat on an idle timer", uv_timer_get_repeat(&a));
    V("start b", uv_timer_start(&b, on_b, 100, 7));
    V("b due_in", uv_timer_get_due_in(&b));
    V("b repeat", uv_timer_get_repeat(&b));
    uv_timer_set_repeat(&b, 0);
    V("b repeat after set", uv_timer_get_repeat(&b));
    V("b due_in after set", uv_timer_get_due_in(&b));
    uv_timer_stop(&b);
    V("b due_in after stop", uv_timer_get_due_in(&b));
    V("b active after stop", uv_is_active((uv_handle_t *)&b));
    uv_timer_start(&b, on_b, 100, 0);
    V("start a", uv_timer_start(&a, on_a, 10, 15));
    V("a repeat", uv_timer_get_repeat(&a));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 100, na);
    V("a due_in after run", uv_timer_get_due_in(&a));
    return trace_end(loop);
}
