/* Idle, prepare and check handles: each phase runs its handles newest first (libuv inserts a
 * started handle at the head of its queue); a handle started by a callback waits for the next
 * iteration, one stopped by an earlier callback of the same phase does not run. */
#include "trace.h"

static uv_idle_t i1, i2, i3, i4;
static uv_prepare_t p1, p2;
static uv_check_t c1, c2;
static int iter;

static void on_idle(uv_idle_t *h)
{
    T((const char *)h->data, 0, iter);
    if (h == &i2 && iter == 0)
        V("start i4 from i2", uv_idle_start(&i4, on_idle));
    if (h == &i3 && iter == 1)
        V("stop i1 from i3", uv_idle_stop(&i1));
}

static void on_prepare(uv_prepare_t *h) { T((const char *)h->data, 0, iter); }

static void on_check(uv_check_t *h)
{
    T((const char *)h->data, 0, iter);
    if (h != &c1)
        return;
    if (++iter == 2) {
        /* restart i1: it goes to the head again */
        uv_idle_start(&i1, on_idle);
    } else if (iter == 3) {
        uv_idle_stop(&i1);
        uv_idle_stop(&i2);
        uv_idle_stop(&i3);
        uv_idle_stop(&i4);
        uv_prepare_stop(&p1);
        uv_prepare_stop(&p2);
        uv_check_stop(&c1);
        uv_check_stop(&c2);
    }
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_idle_init(loop, &i1);
    uv_idle_init(loop, &i2);
    uv_idle_init(loop, &i3);
    uv_idle_init(loop, &i4);
    uv_prepare_init(loop, &p1);
    uv_prepare_init(loop, &p2);
    uv_check_init(loop, &c1);
    uv_check_init(loop, &c2);
    i1.data = "idle 1";
    i2.data = "idle 2";
    i3.data = "idle 3";
    i4.data = "idle 4";
    p1.data = "prepare 1";
    p2.data = "prepare 2";
    c1.data = "check 1";
    c2.data = "check 2";
    /* check 1 first: it runs last in its phase and counts the iterations */
    uv_check_start(&c1, on_check);
    uv_check_start(&c2, on_check);
    uv_prepare_start(&p1, on_prepare);
    uv_prepare_start(&p2, on_prepare);
    uv_idle_start(&i1, on_idle);
    uv_idle_start(&i2, on_idle);
    uv_idle_start(&i3, on_idle);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("iterations", iter);
    return trace_end(loop);
}
