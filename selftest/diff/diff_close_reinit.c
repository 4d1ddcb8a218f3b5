/* A handle re-initialised and restarted in its own close callback (a common reconnect idiom) is a
 * new handle: it fires, can be closed again, and uv_walk sees it once. uv_walk from a close
 * callback no longer sees the handle being finished, but sees the others still closing. */
#include "trace.h"

static uv_timer_t t, other;
static int generation;

static void walk_cb(uv_handle_t *h, void *arg)
{
    char line[64];
    (void)arg;
    snprintf(line, sizeof(line), "walk %s closing", (const char *)h->data);
    V(line, uv_is_closing(h));
}

static void on_timer(uv_timer_t *h);

static void on_close(uv_handle_t *h)
{
    T("close_cb", 10 * (uint64_t)generation, generation);
    uv_walk(h->loop, walk_cb, NULL);
    if (generation < 2 && h == (uv_handle_t *)&t) {
        V("reinit", uv_timer_init(h->loop, &t));
        t.data = generation == 0 ? "t (second)" : "t (third)";
        V("restart", uv_timer_start(&t, on_timer, 10, 0));
    }
}

static void on_timer(uv_timer_t *h)
{
    generation++;
    T((const char *)h->data, 10 * (uint64_t)generation, generation);
    uv_close((uv_handle_t *)h, on_close);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &t);
    uv_timer_init(loop, &other);
    t.data = "t (first)";
    other.data = "other";
    uv_close((uv_handle_t *)&other, NULL);
    uv_close((uv_handle_t *)&t, on_close); /* closed last: finished first */
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 20, generation);
    uv_walk(loop, walk_cb, NULL);
    return trace_end(loop);
}
