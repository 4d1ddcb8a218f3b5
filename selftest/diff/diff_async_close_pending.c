/* Closing an async handle with a send pending: its callback never runs, the close callback does;
 * another async handle sent at the same time is still called back. */
#include "trace.h"

static uv_async_t a, b;

static void on_async(uv_async_t *h)
{
    T((const char *)h->data, 0, 0);
    if (h == &b)
        uv_close((uv_handle_t *)h, NULL);
}

static void on_close(uv_handle_t *h) { T("close a", 0, uv_is_active(h)); }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_async_init(loop, &a, on_async);
    uv_async_init(loop, &b, on_async);
    a.data = "async a (closed with a send pending: must not run)";
    b.data = "async b";
    V("send a", uv_async_send(&a));
    V("send b", uv_async_send(&b));
    uv_close((uv_handle_t *)&a, on_close);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return trace_end(loop);
}
