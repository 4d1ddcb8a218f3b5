/* UV_RUN_ONCE: returns 0 at once on a loop with nothing to do; waits for the next timer, runs it
 * and returns whether work is left; with an idle handle it does not wait. */
#include "trace.h"

static uv_timer_t a, b;
static uv_idle_t idle;
static int nidle;

static void on_timer(uv_timer_t *h) { T((const char *)h->data, h == &a ? 10 : 60, 0); }

static void on_idle(uv_idle_t *h)
{
    (void)h;
    nidle++;
}

static void on_close(uv_handle_t *h) { T("close_cb", 60, uv_is_closing(h)); }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    V("once on an empty loop", uv_run(loop, UV_RUN_ONCE));
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    a.data = "timer a";
    b.data = "timer b";
    uv_timer_start(&a, on_timer, 10, 0);
    uv_timer_start(&b, on_timer, 60, 0);
    T("once (a, b pending)", 10, uv_run(loop, UV_RUN_ONCE));
    T("once (b pending)", 60, uv_run(loop, UV_RUN_ONCE));
    T("once (nothing left)", 60, uv_run(loop, UV_RUN_ONCE));

    uv_idle_init(loop, &idle);
    uv_idle_start(&idle, on_idle);
    V("once with idle", uv_run(loop, UV_RUN_ONCE));
    V("idle ran", nidle);
    uv_idle_stop(&idle);
    V("once after idle stop", uv_run(loop, UV_RUN_ONCE));

    /* only a closing handle: one iteration runs its close callback */
    uv_close((uv_handle_t *)&a, on_close);
    V("alive with a closing handle", uv_loop_alive(loop));
    T("once (closing)", 60, uv_run(loop, UV_RUN_ONCE));
    V("alive", uv_loop_alive(loop));
    return trace_end(loop);
}
