/* UV_RUN_ONCE and unreferenced timers: with only an unreferenced timer the loop is not alive and
 * ONCE returns at once; with a referenced timer too, ONCE wakes for the earlier unreferenced one,
 * runs it and returns 1. */
#include "trace.h"

static uv_timer_t u, r;

static void on_timer(uv_timer_t *h)
{
    T((const char *)h->data, h == &u ? 30 : 100, uv_has_ref((uv_handle_t *)h));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &u);
    uv_timer_init(loop, &r);
    u.data = "timer u (unref)";
    r.data = "timer r";
    uv_timer_start(&u, on_timer, 30, 0);
    uv_unref((uv_handle_t *)&u);
    T("once, only unref'd", 0, uv_run(loop, UV_RUN_ONCE));
    V("u active", uv_is_active((uv_handle_t *)&u));
    uv_timer_start(&r, on_timer, 100, 0);
    T("once, u and r", 30, uv_run(loop, UV_RUN_ONCE));
    T("once, r", 100, uv_run(loop, UV_RUN_ONCE));
    T("once, nothing", 100, uv_run(loop, UV_RUN_ONCE));
    return trace_end(loop);
}
