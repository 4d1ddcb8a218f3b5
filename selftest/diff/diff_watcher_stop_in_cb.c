/* Stopping and starting loop watchers from callbacks of other phases: a prepare callback stops a
 * check handle before it runs; a check callback starts an idle handle (it runs next iteration)
 * and a prepare handle; a handle stopping itself and restarting is moved to the head. */
#include "trace.h"

static uv_prepare_t p1, p2;
static uv_check_t c1, c2;
static uv_idle_t i1, spin; /* spin keeps the poll from waiting */
static int iter;

static void on_idle(uv_idle_t *h)
{
    T("idle 1", 0, iter);
    uv_idle_stop(h);
}

static void spin_idle(uv_idle_t *h) { (void)h; }

static void on_prepare(uv_prepare_t *h)
{
    T((const char *)h->data, 0, iter);
    if (h == &p1 && iter == 0)
        V("stop check 2 from prepare 1", uv_check_stop(&c2));
    if (h == &p2 && iter == 1) {
        uv_prepare_stop(h);
        uv_prepare_start(h, on_prepare); /* to the head: runs first next time */
    }
}

static void on_check(uv_check_t *h)
{
    T((const char *)h->data, 0, iter);
    if (iter == 0) {
        V("start idle from check", uv_idle_start(&i1, on_idle));
        V("start check 2 again", uv_check_start(&c2, on_check));
    }
    if (++iter == 3) {
        uv_prepare_stop(&p1);
        uv_prepare_stop(&p2);
        uv_check_stop(&c1);
        uv_check_stop(&c2);
        uv_idle_stop(&spin);
    }
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_prepare_init(loop, &p1);
    uv_prepare_init(loop, &p2);
    uv_check_init(loop, &c1);
    uv_check_init(loop, &c2);
    uv_idle_init(loop, &i1);
    p1.data = "prepare 1";
    p2.data = "prepare 2";
    c1.data = "check 1";
    c2.data = "check 2";
    uv_idle_init(loop, &spin);
    uv_idle_start(&spin, spin_idle);
    uv_prepare_start(&p2, on_prepare);
    uv_prepare_start(&p1, on_prepare);
    uv_check_start(&c2, on_check);
    uv_check_start(&c1, on_check);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("iterations", iter);
    return trace_end(loop);
}
