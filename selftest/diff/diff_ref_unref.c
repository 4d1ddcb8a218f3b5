/* uv_ref/uv_unref and uv_has_ref: an unreferenced timer does not keep the loop alive and fires
 * only while something else does; ref and unref are idempotent and remembered across start and
 * stop; a closing handle keeps its ref until its close callback. */
#include "trace.h"

static uv_timer_t a, r, b;
static int nr;

static void on_a(uv_timer_t *h)
{
    (void)h;
    T("timer a", 10, uv_has_ref((uv_handle_t *)h));
}

static void on_b(uv_timer_t *h)
{
    (void)h;
    T("timer b", 75, nr);
}

static void on_r(uv_timer_t *h)
{
    nr++;
    T("timer r (unref, repeat 30)", 10 + 30 * (uint64_t)nr, uv_has_ref((uv_handle_t *)h));
    if (nr == 2)
        uv_timer_start(&b, on_b, 5, 0); /* the only referenced handle: due before r again */
}

static void on_close(uv_handle_t *h) { V("has_ref in close_cb", uv_has_ref(h)); }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &a);
    V("has_ref after init", uv_has_ref((uv_handle_t *)&a));
    uv_unref((uv_handle_t *)&a);
    uv_unref((uv_handle_t *)&a);
    V("has_ref after unref twice", uv_has_ref((uv_handle_t *)&a));
    uv_timer_start(&a, on_a, 10, 0);
    V("alive with an unref'd timer", uv_loop_alive(loop));
    V("run (returns at once)", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 0, uv_is_active((uv_handle_t *)&a));
    uv_ref((uv_handle_t *)&a);
    uv_ref((uv_handle_t *)&a);
    V("has_ref after ref twice", uv_has_ref((uv_handle_t *)&a));
    V("alive after ref", uv_loop_alive(loop));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 10, 0);

    /* an unref'd repeating timer fires while b keeps the loop alive, then the loop ends */
    uv_timer_init(loop, &r);
    uv_timer_init(loop, &b);
    uv_timer_start(&r, on_r, 30, 30);
    uv_unref((uv_handle_t *)&r);
    uv_timer_start(&b, on_b, 1000, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 75, nr);
    V("r still active", uv_is_active((uv_handle_t *)&r));
    V("alive", uv_loop_alive(loop));

    /* unref before start, then stop and start: still unreferenced */
    uv_timer_stop(&r);
    uv_timer_start(&r, on_r, 1000, 0);
    V("alive with r restarted", uv_loop_alive(loop));
    uv_ref((uv_handle_t *)&r);
    V("alive after ref r", uv_loop_alive(loop));
    uv_close((uv_handle_t *)&r, on_close);
    V("has_ref while closing", uv_has_ref((uv_handle_t *)&r));
    V("alive while closing", uv_loop_alive(loop));
    uv_unref((uv_handle_t *)&b); /* on an inactive handle */
    V("b has_ref", uv_has_ref((uv_handle_t *)&b));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("has_ref after close", uv_has_ref((uv_handle_t *)&r));
    return trace_end(loop);
}
