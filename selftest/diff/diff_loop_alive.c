/* uv_loop_alive through a handle's life: an inactive or unreferenced handle does not keep the
 * loop alive, an active referenced one does, and so does a closing handle until its close
 * callback has run (also for a handle that was never active). */
#include "trace.h"

static uv_loop_t loop;
static uv_timer_t t;
static uv_idle_t i;

static void noop_timer(uv_timer_t *h) { (void)h; }
static void noop_idle(uv_idle_t *h) { (void)h; }

static void on_close(uv_handle_t *h) { V("alive in close_cb", uv_loop_alive(h->loop)); }

int main(void)
{
    V("loop_init", uv_loop_init(&loop));
    trace_begin(&loop);
    V("fresh", uv_loop_alive(&loop));
    uv_timer_init(&loop, &t);
    V("timer initialised", uv_loop_alive(&loop));
    uv_timer_start(&t, noop_timer, 100, 0);
    V("timer started", uv_loop_alive(&loop));
    uv_unref((uv_handle_t *)&t);
    V("timer unref'd", uv_loop_alive(&loop));
    uv_ref((uv_handle_t *)&t);
    V("timer ref'd", uv_loop_alive(&loop));
    uv_timer_stop(&t);
    V("timer stopped", uv_loop_alive(&loop));
    uv_idle_init(&loop, &i);
    uv_idle_start(&i, noop_idle);
    V("idle started", uv_loop_alive(&loop));
    uv_close((uv_handle_t *)&i, on_close);
    V("idle closing", uv_loop_alive(&loop));
    uv_close((uv_handle_t *)&t, on_close);
    V("inactive timer closing", uv_loop_alive(&loop));
    V("nowait", uv_run(&loop, UV_RUN_NOWAIT));
    V("all closed", uv_loop_alive(&loop));
    V("loop_close", uv_loop_close(&loop));
    return 0;
}
