/* uv_is_active and uv_is_closing through the life of each handle type: init, start, stop, close,
 * the close callback, and a timer's own callback (a one-shot is inactive there, a repeating one
 * active). An async handle is active from init. */
#include "trace.h"

static uv_timer_t t, once, rep;
static uv_idle_t i;
static uv_prepare_t p;
static uv_check_t c;
static uv_async_t a;

static void show(const char *what, const void *h)
{
    char line[96];
    snprintf(line, sizeof(line), "%s active=%d closing", what,
             uv_is_active((const uv_handle_t *)h));
    V(line, uv_is_closing((const uv_handle_t *)h));
}

static void on_close(uv_handle_t *h) { show((const char *)h->data, h); }

static void on_once(uv_timer_t *h) { show("once in its callback", h); }

static void on_rep(uv_timer_t *h)
{
    show("repeating in its callback", h);
    uv_timer_stop(h);
    show("repeating stopped in its callback", h);
}

static void noop_timer(uv_timer_t *h) { (void)h; }
static void noop_idle(uv_idle_t *h) { (void)h; }
static void noop_prepare(uv_prepare_t *h) { (void)h; }
static void noop_check(uv_check_t *h) { (void)h; }
static void noop_async(uv_async_t *h) { (void)h; }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &t);
    uv_idle_init(loop, &i);
    uv_prepare_init(loop, &p);
    uv_check_init(loop, &c);
    uv_async_init(loop, &a, noop_async);
    t.data = "timer in close_cb";
    i.data = "idle in close_cb";
    p.data = "prepare in close_cb";
    c.data = "check in close_cb";
    a.data = "async in close_cb";
    show("timer after init", &t);
    show("idle after init", &i);
    show("prepare after init", &p);
    show("check after init", &c);
    show("async after init", &a);
    uv_timer_start(&t, noop_timer, 100, 0);
    uv_idle_start(&i, noop_idle);
    uv_prepare_start(&p, noop_prepare);
    uv_check_start(&c, noop_check);
    show("timer after start", &t);
    show("idle after start", &i);
    show("prepare after start", &p);
    show("check after start", &c);
    uv_timer_stop(&t);
    uv_idle_stop(&i);
    uv_prepare_stop(&p);
    show("timer after stop", &t);
    show("idle after stop", &i);
    show("prepare after stop", &p);
    uv_timer_start(&t, noop_timer, 100, 0);
    uv_close((uv_handle_t *)&t, on_close);
    uv_close((uv_handle_t *)&i, on_close);
    uv_close((uv_handle_t *)&p, on_close);
    uv_close((uv_handle_t *)&c, on_close); /* closed while active */
    uv_close((uv_handle_t *)&a, on_close);
    show("timer after close", &t);
    show("idle after close", &i);
    show("check after close", &c);
    show("async after close", &a);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    show("timer after run", &t);
    show("async after run", &a);

    uv_timer_init(loop, &once);
    uv_timer_init(loop, &rep);
    uv_timer_start(&once, on_once, 1, 0);
    uv_timer_start(&rep, on_rep, 2, 5);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    show("once after run", &once);
    show("repeating after run", &rep);
    return trace_end(loop);
}
