/* uv_async_send: several sends before the loop polls give one callback; pending handles are
 * called back in init order whatever the order of the sends; a send from the async callback
 * itself gives one more callback in the next iteration; an async handle with no callback is
 * simply drained. */
#include "trace.h"

static uv_async_t a, b, nocb;
static int na, nb, iter;
static uv_check_t chk;

static void on_a(uv_async_t *h)
{
    na++;
    V("async a", iter);
    if (na == 3)
        V("a sends to itself", uv_async_send(h));
}

static void on_b(uv_async_t *h)
{
    (void)h;
    nb++;
    V("async b", iter);
}

static void on_check(uv_check_t *h)
{
    (void)h;
    iter++;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_async_init(loop, &a, on_a);
    uv_async_init(loop, &b, on_b);
    uv_async_init(loop, &nocb, NULL);
    uv_check_init(loop, &chk);
    uv_check_start(&chk, on_check);
    uv_unref((uv_handle_t *)&chk);

    /* b first, then a three times: one callback each, a before b */
    V("send b", uv_async_send(&b));
    V("send a", uv_async_send(&a));
    V("send a", uv_async_send(&a));
    V("send a", uv_async_send(&a));
    V("send nocb", uv_async_send(&nocb));
    T("once", 0, uv_run(loop, UV_RUN_ONCE));
    V("callbacks a", na);
    V("callbacks b", nb);

    V("send a", uv_async_send(&a));
    V("send a", uv_async_send(&a));
    T("nowait", 0, uv_run(loop, UV_RUN_NOWAIT));
    V("callbacks a", na);

    /* a sends to itself on its third callback */
    V("send a", uv_async_send(&a));
    T("once", 0, uv_run(loop, UV_RUN_ONCE));
    T("once", 0, uv_run(loop, UV_RUN_ONCE));
    V("callbacks a", na);
    V("nowait with nothing sent", uv_run(loop, UV_RUN_NOWAIT));
    V("callbacks a", na);
    V("callbacks b", nb);
    return trace_end(loop);
}
