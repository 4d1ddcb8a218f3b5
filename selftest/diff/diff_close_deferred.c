/* uv_close never calls back at once: the callback waits for the closing phase of an iteration,
 * after check, in whatever run mode; closing an idle handle from its own callback stops it at
 * once. */
#include "trace.h"

static uv_idle_t i;
static uv_check_t c;
static uv_timer_t t;
static int called, nidle;

static void on_close(uv_handle_t *h)
{
    called++;
    V((const char *)h->data, uv_is_closing(h));
}

static void on_idle(uv_idle_t *h)
{
    nidle++;
    V("idle", nidle);
    uv_close((uv_handle_t *)h, on_close);
    V("called right after uv_close", called);
}

static void on_check(uv_check_t *h)
{
    V("check (before close callbacks)", called);
    uv_check_stop(h);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &t);
    t.data = "close t";
    uv_close((uv_handle_t *)&t, on_close);
    V("called after uv_close", called);
    V("nowait", uv_run(loop, UV_RUN_NOWAIT));
    V("called after nowait", called);

    uv_idle_init(loop, &i);
    uv_check_init(loop, &c);
    i.data = "close i";
    uv_idle_start(&i, on_idle);
    uv_check_start(&c, on_check);
    T("default", 0, uv_run(loop, UV_RUN_DEFAULT));
    V("idle callbacks", nidle);
    V("called", called);
    return trace_end(loop);
}
