/* Zero timeouts: a timer started with 0 before uv_run fires in the first iteration; one started
 * with 0 from a timer callback fires in the same timer pass; one started from a prepare or check
 * callback fires in the next iteration, after that iteration's check callbacks. */
#include "trace.h"

static uv_timer_t t0, t1, tp, tc;
static uv_prepare_t p;
static uv_check_t c;
static int iter;

static void on_t1(uv_timer_t *h)
{
    (void)h;
    T("timer t1 (from t0)", 0, iter);
}

static void on_t0(uv_timer_t *h)
{
    (void)h;
    T("timer t0", 0, iter);
    uv_timer_start(&t1, on_t1, 0, 0);
}

static void on_tp(uv_timer_t *h)
{
    (void)h;
    T("timer tp (from prepare)", 0, iter);
}

static void on_tc(uv_timer_t *h)
{
    (void)h;
    T("timer tc (from check)", 0, iter);
}

static void on_prepare(uv_prepare_t *h)
{
    T("prepare", 0, iter);
    if (iter == 0) {
        uv_timer_start(&tp, on_tp, 0, 0);
    } else {
        uv_prepare_stop(h);
        uv_check_stop(&c); /* else the next poll would wait for nothing, forever */
    }
}

static void on_check(uv_check_t *h)
{
    T("check", 0, iter);
    (void)h;
    uv_timer_start(&tc, on_tc, 0, 0);
    iter++;
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &t0);
    uv_timer_init(loop, &t1);
    uv_timer_init(loop, &tp);
    uv_timer_init(loop, &tc);
    uv_prepare_init(loop, &p);
    uv_check_init(loop, &c);
    uv_prepare_start(&p, on_prepare);
    uv_check_start(&c, on_check);
    uv_timer_start(&t0, on_t0, 0, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("iterations", iter);
    return trace_end(loop);
}
