/* uv_async_send from loop callbacks: from a timer or idle callback (before the poll) the async
 * callback runs in the same iteration, before check; from a check or close callback (after the
 * poll) in the next iteration, after that iteration's timers. */
#include "trace.h"

static uv_async_t as;
static uv_timer_t t1, t2, t3, tz;
static uv_idle_t idle;
static uv_check_t chk;
static int step;
static const uint64_t async_due[] = {10, 10, 60, 110};

static void on_async(uv_async_t *h)
{
    T("async_cb", async_due[step], step);
    step++;
    if (step == 4)
        uv_close((uv_handle_t *)h, NULL);
}

static void on_tz(uv_timer_t *h)
{
    (void)h;
    T("timer tz (from check)", 10, step);
}

static void on_check(uv_check_t *h)
{
    T("check", 10, step);
    if (h->data != NULL) {
        uv_close((uv_handle_t *)h, NULL);
        return;
    }
    h->data = "sent";
    V("send from check", uv_async_send(&as));
    uv_timer_start(&tz, on_tz, 0, 0);
}

static void on_t1(uv_timer_t *h)
{
    (void)h;
    T("timer t1", 10, step);
    V("send from timer", uv_async_send(&as));
    uv_check_start(&chk, on_check);
}

static void on_idle(uv_idle_t *h)
{
    T("idle", 60, step);
    V("send from idle", uv_async_send(&as));
    uv_idle_stop(h);
}

static void on_t2(uv_timer_t *h)
{
    (void)h;
    T("timer t2", 60, step);
    uv_idle_start(&idle, on_idle);
}

static void on_t3_close(uv_handle_t *h)
{
    T("close t3", 110, step);
    V("send from close_cb", uv_async_send(&as));
    (void)h;
}

static void on_t3(uv_timer_t *h)
{
    T("timer t3", 110, step);
    uv_close((uv_handle_t *)h, on_t3_close);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_async_init(loop, &as, on_async);
    uv_timer_init(loop, &t1);
    uv_timer_init(loop, &t2);
    uv_timer_init(loop, &t3);
    uv_timer_init(loop, &tz);
    uv_idle_init(loop, &idle);
    uv_check_init(loop, &chk);
    chk.data = NULL;
    uv_timer_start(&t1, on_t1, 10, 0);
    uv_timer_start(&t2, on_t2, 60, 0);
    uv_timer_start(&t3, on_t3, 110, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("async callbacks", step);
    return trace_end(loop);
}
