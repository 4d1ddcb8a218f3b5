/* uv_timer_again: UV_EINVAL on a timer never started; a no-op without a repeat; with a repeat it
 * restarts the timer from now (even a stopped one), using the repeat as the timeout. */
#include "trace.h"

static uv_timer_t a, b, c, never;
static int nb;

static void on_a(uv_timer_t *h)
{
    T("timer a", 100, 0);
    V("a again (repeat 0)", uv_timer_again(h));
    V("a active", uv_is_active((uv_handle_t *)h));
    /* b is stopped by now: again restarts it 20 ms from here (b ran at 25 and 45) */
    V("b active", uv_is_active((uv_handle_t *)&b));
    V("b again", uv_timer_again(&b));
    V("b due_in", uv_timer_get_due_in(&b));
}

static void on_b(uv_timer_t *h)
{
    static const uint64_t due[] = {25, 45, 120};
    T("timer b", due[nb], uv_timer_get_due_in(h));
    if (++nb == 2 || nb == 3)
        uv_timer_stop(h);
}

static void on_c(uv_timer_t *h)
{
    (void)h;
    T("timer c", 5, 0);
    V("b again from c", uv_timer_again(&b)); /* b restarts: 5 + 20 */
    V("b due_in", uv_timer_get_due_in(&b));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    uv_timer_init(loop, &c);
    uv_timer_init(loop, &never);
    V("never again", uv_timer_again(&never));
    uv_timer_set_repeat(&never, 10);
    V("never again with repeat set", uv_timer_again(&never));
    V("never active", uv_is_active((uv_handle_t *)&never));
    uv_timer_start(&a, on_a, 100, 0);
    V("a again", uv_timer_again(&a));
    V("a due_in", uv_timer_get_due_in(&a));
    uv_timer_start(&b, on_b, 50, 20); /* c restarts it first */
    uv_timer_start(&c, on_c, 5, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 120, nb);
    return trace_end(loop);
}
