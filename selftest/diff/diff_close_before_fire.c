/* A timer closed before it is due never fires, whether it is closed before uv_run, from another
 * timer's callback, or from one due at the same instant; uv_run then returns without waiting. */
#include "trace.h"

static uv_timer_t early, a, b, x, y;

static void on_close(uv_handle_t *h)
{
    T((const char *)h->data, h == (uv_handle_t *)&early ? 0 : 10, uv_is_active(h));
}

static void must_not_fire(uv_timer_t *h)
{
    T("MUST NOT FIRE", 0, 0);
    (void)h;
}

static void on_a(uv_timer_t *h)
{
    (void)h;
    T("timer a", 10, 0);
    uv_close((uv_handle_t *)&b, on_close);
}

static void on_x(uv_timer_t *h)
{
    (void)h;
    T("timer x", 10, 0);
    uv_close((uv_handle_t *)&y, on_close);
    V("y active after close", uv_is_active((uv_handle_t *)&y));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &early);
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    uv_timer_init(loop, &x);
    uv_timer_init(loop, &y);
    early.data = "close early";
    b.data = "close b";
    y.data = "close y";
    uv_timer_start(&early, must_not_fire, 0, 0);
    uv_close((uv_handle_t *)&early, on_close);
    uv_timer_start(&a, on_a, 10, 0);
    uv_timer_start(&x, on_x, 10, 0);
    uv_timer_start(&y, must_not_fire, 10, 0);
    uv_timer_start(&b, must_not_fire, 200, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("run returned at", 10, 0);
    return trace_end(loop);
}
