/* Close callbacks are deferred to the closing phase and run newest first (libuv 1.44's
 * closing_handles is a LIFO); a handle closed from a close callback is finished in the next
 * iteration. Handles of every simulated type, closed before uv_run and from a callback. */
#include "trace.h"

static uv_timer_t ta, tf, g;
static uv_idle_t ib;
static uv_prepare_t pc;
static uv_check_t cd;
static uv_async_t ae;
static uv_timer_t h1, h2, h3, h4;
static int nclosed;
static uint64_t close_due; /* when the close callbacks of the current part run */

static void on_close(uv_handle_t *h)
{
    nclosed++;
    T((const char *)h->data, close_due, uv_is_closing(h));
}

static void on_close_h1(uv_handle_t *h)
{
    on_close(h);
    uv_close((uv_handle_t *)&h4, on_close); /* from a close callback: next iteration */
}

static void on_g(uv_timer_t *h)
{
    T("timer g", 5, 0);
    uv_close((uv_handle_t *)&h1, on_close_h1);
    uv_close((uv_handle_t *)&h2, on_close);
    uv_close((uv_handle_t *)&h3, NULL);
    uv_close((uv_handle_t *)h, on_close);
    V("g closing, callback not yet run", uv_is_closing((uv_handle_t *)h));
}

static void noop_async(uv_async_t *h) { (void)h; }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &ta);
    uv_idle_init(loop, &ib);
    uv_prepare_init(loop, &pc);
    uv_check_init(loop, &cd);
    uv_async_init(loop, &ae, noop_async);
    uv_timer_init(loop, &tf);
    ta.data = "close timer a";
    ib.data = "close idle b";
    pc.data = "close prepare c";
    cd.data = "close check d";
    ae.data = "close async e";
    tf.data = "close timer f";
    uv_close((uv_handle_t *)&ta, on_close);
    uv_close((uv_handle_t *)&ib, on_close);
    uv_close((uv_handle_t *)&pc, on_close);
    uv_close((uv_handle_t *)&cd, on_close);
    uv_close((uv_handle_t *)&ae, on_close);
    uv_close((uv_handle_t *)&tf, on_close);
    V("closed six, callbacks so far", nclosed);
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    close_due = 5;
    uv_timer_init(loop, &g);
    uv_timer_init(loop, &h1);
    uv_timer_init(loop, &h2);
    uv_timer_init(loop, &h3);
    uv_timer_init(loop, &h4);
    g.data = "close g";
    h1.data = "close h1";
    h2.data = "close h2";
    h4.data = "close h4 (closed by h1's close callback)";
    uv_timer_start(&g, on_g, 5, 0);
    uv_timer_start(&h2, on_g, 50, 0); /* never fires: closed first */
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 5, 0);
    return trace_end(loop);
}
