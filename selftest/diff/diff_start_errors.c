/* Return codes of start functions: uv_timer_start with a NULL callback or on a closing timer is
 * UV_EINVAL (and leaves a running timer as it was); starting an idle/prepare/check handle twice
 * is 0 and keeps the first callback; a NULL callback is UV_EINVAL only when not already active;
 * stopping an inactive handle is 0. */
#include "trace.h"

static uv_timer_t t, closing;
static uv_idle_t i;
static uv_prepare_t p;
static uv_check_t c;

static void on_t(uv_timer_t *h)
{
    (void)h;
    T("timer t, first callback", 50, 0);
}

static void on_t2(uv_timer_t *h)
{
    (void)h;
    T("timer t, second callback", 50, 0);
}

static void first_idle(uv_idle_t *h)
{
    T("first idle callback", 0, 0);
    uv_idle_stop(h);
}

static void second_idle(uv_idle_t *h)
{
    T("second idle callback", 0, 0);
    uv_idle_stop(h);
}

static void on_prepare(uv_prepare_t *h) { uv_prepare_stop(h); }

static void on_check(uv_check_t *h) { uv_check_stop(h); }

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &t);
    uv_timer_init(loop, &closing);
    uv_idle_init(loop, &i);
    uv_prepare_init(loop, &p);
    uv_check_init(loop, &c);

    V("timer start NULL cb", uv_timer_start(&t, NULL, 10, 0));
    V("timer active", uv_is_active((uv_handle_t *)&t));
    V("timer stop inactive", uv_timer_stop(&t));
    V("timer start", uv_timer_start(&t, on_t, 90, 0));
    V("timer start again (restart)", uv_timer_start(&t, on_t, 50, 0));
    V("timer start NULL cb while active", uv_timer_start(&t, NULL, 1000, 0));
    V("timer still active", uv_is_active((uv_handle_t *)&t));
    V("timer due_in unchanged", uv_timer_get_due_in(&t));
    uv_close((uv_handle_t *)&closing, NULL);
    V("timer start on closing", uv_timer_start(&closing, on_t2, 1, 0));
    V("closing active", uv_is_active((uv_handle_t *)&closing));
    V("again on closing", uv_timer_again(&closing));

    V("idle start NULL cb", uv_idle_start(&i, NULL));
    V("idle stop inactive", uv_idle_stop(&i));
    V("idle start", uv_idle_start(&i, first_idle));
    V("idle start twice", uv_idle_start(&i, second_idle));
    V("idle start NULL while active", uv_idle_start(&i, NULL));
    V("prepare start NULL cb", uv_prepare_start(&p, NULL));
    V("prepare start", uv_prepare_start(&p, on_prepare));
    V("prepare start twice", uv_prepare_start(&p, on_prepare));
    V("prepare stop", uv_prepare_stop(&p));
    V("prepare stop twice", uv_prepare_stop(&p));
    V("check start NULL cb", uv_check_start(&c, NULL));
    V("check start", uv_check_start(&c, on_check));
    V("check start twice", uv_check_start(&c, on_check));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 50, 0);
    return trace_end(loop);
}
