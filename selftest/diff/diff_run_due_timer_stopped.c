/* uv_run(UV_RUN_DEFAULT) on a loop whose only timer is due but unreferenced, and on a stopped
 * loop with a due timer: libuv 1.45 runs the due timers before its first iteration whatever the
 * loop's state, 1.46 only on a live loop that is not stopped, and before 1.45 there is no such
 * run (docs/versions.md). */
#include "trace.h"

static uv_timer_t t;

static void on_timer(uv_timer_t *h) { T((const char *)h->data, 0, 0); }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &t);
    t.data = "unreferenced timer";
    uv_timer_start(&t, on_timer, 0, 0);
    uv_unref((uv_handle_t *)&t);
    V("run default, unreferenced due timer", uv_run(loop, UV_RUN_DEFAULT));
    V("active after", uv_is_active((uv_handle_t *)&t));
    uv_ref((uv_handle_t *)&t);
    uv_timer_stop(&t);

    t.data = "timer on a stopped loop";
    uv_timer_start(&t, on_timer, 0, 0);
    uv_stop(loop);
    V("run default, stopped", uv_run(loop, UV_RUN_DEFAULT));
    V("active after", uv_is_active((uv_handle_t *)&t));
    uv_stop(loop);
    V("run nowait, stopped", uv_run(loop, UV_RUN_NOWAIT));
    V("active after", uv_is_active((uv_handle_t *)&t));
    V("run nowait", uv_run(loop, UV_RUN_NOWAIT));
    V("active after", uv_is_active((uv_handle_t *)&t));
    return trace_end(loop);
}
