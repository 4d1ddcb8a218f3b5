/* A timer callback closing its own handle: the close callback runs in the same iteration; a
 * repeating timer closed in its callback does not fire again; uv_timer_start on it then returns
 * UV_EINVAL and uv_timer_again does nothing (it returns 0 but does not restart it). */
#include "trace.h"

static uv_timer_t r, o, p;
static int nr;

static void on_close(uv_handle_t *h)
{
    T((const char *)h->data, h == (uv_handle_t *)&r ? 90 : 20, uv_is_active(h));
}

static void on_p(uv_timer_t *h)
{
    (void)h;
    T("timer p (same instant as o)", 20, uv_is_closing((uv_handle_t *)&o));
}

static void on_o(uv_timer_t *h)
{
    T("timer o", 20, 0);
    uv_close((uv_handle_t *)h, on_close);
}

static void on_r(uv_timer_t *h)
{
    nr++;
    T("timer r", 10 + 40 * (uint64_t)(nr - 1), uv_is_active((uv_handle_t *)h));
    if (nr < 3)
        return;
    uv_close((uv_handle_t *)h, on_close);
    V("r active after close", uv_is_active((uv_handle_t *)h));
    V("r start after close", uv_timer_start(h, on_r, 1, 0));
    V("r again after close", uv_timer_again(h));
    V("r active after again", uv_is_active((uv_handle_t *)h));
    V("r stop after close", uv_timer_stop(h));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &r);
    uv_timer_init(loop, &o);
    uv_timer_init(loop, &p);
    r.data = "close r";
    o.data = "close o";
    uv_timer_start(&r, on_r, 10, 40);
    uv_timer_start(&o, on_o, 20, 0);
    uv_timer_start(&p, on_p, 20, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 90, nr);
    return trace_end(loop);
}
