/* Timers started from idle, prepare and check callbacks count from the iteration's cached time;
 * timeout-0 timers started there fire at the top of the next iteration, in start order. */
#include "trace.h"

static uv_timer_t ti, tp, tc, ti10, tc10;
static uv_idle_t idle;
static uv_prepare_t prep;
static uv_check_t chk;

static void on_timer(uv_timer_t *h)
{
    T((const char *)h->data, h == &ti10 ? 10 : h == &tc10 ? 30 : 0, 0);
}

static void on_idle(uv_idle_t *h)
{
    T("idle", 0, 0);
    uv_timer_start(&ti, on_timer, 0, 0);
    uv_timer_start(&ti10, on_timer, 10, 0);
    uv_idle_stop(h);
}

static void on_prepare(uv_prepare_t *h)
{
    T("prepare", 0, 0);
    uv_timer_start(&tp, on_timer, 0, 0);
    uv_prepare_stop(h);
}

static void on_check(uv_check_t *h)
{
    T("check", 0, 0);
    uv_timer_start(&tc, on_timer, 0, 0);
    uv_timer_start(&tc10, on_timer, 30, 0);
    uv_check_stop(h);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &ti);
    uv_timer_init(loop, &tp);
    uv_timer_init(loop, &tc);
    uv_timer_init(loop, &ti10);
    uv_timer_init(loop, &tc10);
    ti.data = "timer from idle";
    tp.data = "timer from prepare";
    tc.data = "timer from check";
    ti10.data = "timer +10 from idle";
    tc10.data = "timer +30 from check";
    uv_idle_init(loop, &idle);
    uv_prepare_init(loop, &prep);
    uv_check_init(loop, &chk);
    uv_check_start(&chk, on_check);
    uv_prepare_start(&prep, on_prepare);
    uv_idle_start(&idle, on_idle);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 30, 0);
    return trace_end(loop);
}
