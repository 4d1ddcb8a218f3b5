/* uv_walk: every handle not yet closed, in init order, with the caller's argument; a closing
 * handle is still walked until its close callback; closing from the walk callback (the usual
 * close-everything idiom) gives close callbacks in reverse init order. */
#include "trace.h"

static uv_timer_t a, f;
static uv_idle_t b;
static uv_prepare_t c;
static uv_check_t d;
static uv_async_t e;

static void walk_cb(uv_handle_t *h, void *arg)
{
    int *count = arg;
    char line[96];

    snprintf(line, sizeof(line), "walk %s %s type=%s closing=%d active=%d", (const char *)h->data,
             uv_handle_type_name(uv_handle_get_type(h)), uv_handle_type_name(h->type),
             uv_is_closing(h), uv_is_active(h));
    V(line, (*count)++);
}

static void on_close(uv_handle_t *h) { T((const char *)h->data, 0, 0); }

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    V("close from walk", arg == (void *)&f);
    if (!uv_is_closing(h))
        uv_close(h, on_close);
}

static void noop_async(uv_async_t *h) { (void)h; }
static void noop_idle(uv_idle_t *h) { (void)h; }
static void noop_timer(uv_timer_t *h) { (void)h; }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    int count = 0;

    trace_begin(loop);
    uv_walk(loop, walk_cb, &count);
    V("walked on an empty loop", count);
    uv_timer_init(loop, &a);
    uv_idle_init(loop, &b);
    uv_prepare_init(loop, &c);
    uv_check_init(loop, &d);
    uv_async_init(loop, &e, noop_async);
    uv_timer_init(loop, &f);
    a.data = "a";
    b.data = "b";
    c.data = "c";
    d.data = "d";
    e.data = "e";
    f.data = "f";
    uv_idle_start(&b, noop_idle);
    uv_timer_start(&f, noop_timer, 1000, 0);
    count = 0;
    uv_walk(loop, walk_cb, &count);
    V("walked", count);
    uv_close((uv_handle_t *)&c, NULL);
    count = 100;
    uv_walk(loop, walk_cb, &count);
    V("walked with c closing", count - 100);
    V("run nowait", uv_run(loop, UV_RUN_NOWAIT));
    count = 0;
    uv_walk(loop, walk_cb, &count);
    V("walked after c closed", count);
    uv_walk(loop, close_walk_cb, &f);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    count = 0;
    uv_walk(loop, walk_cb, &count);
    V("walked after all closed", count);
    V("loop_close", uv_loop_close(loop));
    return 0;
}
