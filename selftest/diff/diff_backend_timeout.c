/* uv_backend_timeout: 0 before a loop's first poll (libuv registers its watchers there), with no
 * active referenced handle, with an idle handle, a closing handle or a stop request, or a timer
 * already due; -1 with only an async handle; else the time to the next timer, printed as the
 * absolute due time (a time: real libuv may be later). */
#include "trace.h"

static uv_loop_t loop;
static uv_timer_t t, u, v;
static uv_idle_t idle;
static uv_async_t as;

/* The next wake-up as an absolute time since trace_begin. */
static void show_timeout(const char *what, uint64_t due, const uv_loop_t *l)
{
    int to = uv_backend_timeout(l);
    if (to <= 0)
        V(what, to);
    else
        TV(what, due, (uint64_t)to + (uv_now(l) - trace_start_ms));
}

static void on_timer(uv_timer_t *h)
{
    T((const char *)h->data, 100, 0);
    uv_timer_start(&v, on_timer, 30, 0);
    show_timeout("in callback, v started for +30", 130, h->loop);
    uv_stop(h->loop);
    V("after uv_stop", uv_backend_timeout(h->loop));
}

static void noop_async(uv_async_t *h) { (void)h; }
static void noop_idle(uv_idle_t *h) { (void)h; }
static void noop_timer(uv_timer_t *h) { (void)h; }

int main(void)
{
    V("loop_init", uv_loop_init(&loop));
    trace_begin(&loop);
    uv_timer_init(&loop, &t);
    uv_timer_init(&loop, &u);
    uv_timer_init(&loop, &v);
    t.data = "timer t";
    v.data = "timer v";
    uv_timer_start(&t, on_timer, 100, 0);
    V("before the first run, timer t in 100", uv_backend_timeout(&loop));
    V("nowait", uv_run(&loop, UV_RUN_NOWAIT));
    show_timeout("after a run, timer t", 100, &loop);
    uv_unref((uv_handle_t *)&t);
    V("only an unref'd timer", uv_backend_timeout(&loop));
    uv_ref((uv_handle_t *)&t);
    uv_timer_start(&u, noop_timer, 5, 0);
    show_timeout("timers t and u", 5, &loop);
    uv_unref((uv_handle_t *)&u);
    show_timeout("u unref'd (still the earliest)", 5, &loop);
    uv_timer_stop(&u);
    uv_idle_init(&loop, &idle);
    uv_idle_start(&idle, noop_idle);
    V("with an active idle", uv_backend_timeout(&loop));
    uv_idle_stop(&idle);
    show_timeout("idle stopped", 100, &loop);
    uv_close((uv_handle_t *)&idle, NULL);
    V("with a closing handle", uv_backend_timeout(&loop));
    V("nowait", uv_run(&loop, UV_RUN_NOWAIT));
    show_timeout("closed", 100, &loop);
    uv_stop(&loop);
    V("stop requested", uv_backend_timeout(&loop));
    V("run after stop", uv_run(&loop, UV_RUN_DEFAULT));
    show_timeout("stop flag cleared", 100, &loop);
    V("run (t fires, stops)", uv_run(&loop, UV_RUN_DEFAULT));
    show_timeout("after t, v due at 130", 130, &loop);
    uv_timer_stop(&v);
    uv_timer_stop(&t);
    V("no active handle", uv_backend_timeout(&loop));
    uv_async_init(&loop, &as, noop_async);
    V("only an async", uv_backend_timeout(&loop));
    uv_sleep(15);
    uv_update_time(&loop);
    uv_timer_start(&v, noop_timer, 0, 0);
    V("a timer already due", uv_backend_timeout(&loop));
    return trace_end(&loop);
}
