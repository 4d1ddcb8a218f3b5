/* uv_stop: inside a callback, the iteration finishes (no wait in poll, check and close callbacks
 * still run) and uv_run returns whether work is left; uv_run then continues where it stopped.
 * Before uv_run, it makes uv_run return at once; the flag is cleared either way. */
#include "trace.h"

static uv_timer_t a, b;
static uv_check_t chk;
static int na, iter;

static void on_close(uv_handle_t *h) { T((const char *)h->data, 60, 0); }

static void on_a(uv_timer_t *h)
{
    T("timer a", 50 + 10 * (uint64_t)na, na);
    if (++na == 2) {
        uv_stop(h->loop);
        uv_close((uv_handle_t *)&b, on_close);
    } else if (na == 4) {
        uv_close((uv_handle_t *)h, NULL);
        uv_close((uv_handle_t *)&chk, NULL);
    }
}

static void on_b(uv_timer_t *h)
{
    (void)h;
    T("timer b (closed before it was due)", 1000, 0);
}

static void on_check(uv_check_t *h)
{
    /* check runs after the poll: the first one waits for timer a */
    static const uint64_t due[] = {50, 60, 60, 70, 80};
    T("check", due[iter], iter);
    (void)h;
    iter++;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    uv_check_init(loop, &chk);
    a.data = "close a";
    b.data = "close b";
    uv_timer_start(&a, on_a, 50, 10); /* a late start must not beat the first check */
    uv_timer_start(&b, on_b, 1000, 0);
    uv_check_start(&chk, on_check);

    uv_stop(loop);
    V("run after uv_stop before run", uv_run(loop, UV_RUN_DEFAULT));
    V("iterations", iter);
    T("run stopped by timer a", 60, uv_run(loop, UV_RUN_DEFAULT));
    V("iterations", iter);
    T("run again", 80, uv_run(loop, UV_RUN_DEFAULT));
    V("iterations", iter);
    return trace_end(loop);
}
