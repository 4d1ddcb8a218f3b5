/* Timers due in the same timer phase, seen from the first one's callback: before libuv 1.48 the
 * others are still active timers; since 1.48 the phase has collected and stopped them, so they
 * are inactive until their own callback (and a repeating one is rearmed just before it). Stopping
 * one of them there keeps it from running in both. */
#include "trace.h"

static uv_timer_t a, b, c, r;

static void on_timer(uv_timer_t *h)
{
    T((const char *)h->data, 10, 0);
    if (h == &a) {
        V("  b active", uv_is_active((uv_handle_t *)&b));
        V("  r active", uv_is_active((uv_handle_t *)&r));
        V("  r due in", uv_timer_get_due_in(&r));
        V("  c stop", uv_timer_stop(&c));
        V("  c active", uv_is_active((uv_handle_t *)&c));
    }
    if (h == &r) {
        V("  r active in its callback", uv_is_active((uv_handle_t *)&r));
        uv_timer_stop(&r);
    }
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    uv_timer_init(loop, &c);
    uv_timer_init(loop, &r);
    a.data = "a";
    b.data = "b";
    c.data = "c";
    r.data = "r (repeating)";
    uv_timer_start(&a, on_timer, 10, 0);
    uv_timer_start(&b, on_timer, 10, 0);
    uv_timer_start(&c, on_timer, 10, 0);
    uv_timer_start(&r, on_timer, 10, 100);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return trace_end(loop);
}
