/* Starting and stopping timers inside timer callbacks: a timer restarting itself; a timer
 * stopping another due at the same instant (it never fires); timers started with timeout 0 from
 * a timer callback fire in the same timer pass (libuv 1.44), behind those already due. */
#include "trace.h"

static uv_timer_t a, x, y, w, z;
static int na;

static void on_z(uv_timer_t *h)
{
    (void)h;
    T("timer z", 40, 0);
}

static void on_w(uv_timer_t *h)
{
    (void)h;
    T("timer w", 40, 0);
}

static void on_y(uv_timer_t *h)
{
    (void)h;
    T("timer y (stopped, must not fire)", 40, 0);
}

static void on_x(uv_timer_t *h)
{
    (void)h;
    T("timer x", 40, 0);
    V("stop y", uv_timer_stop(&y));
    V("start z 0", uv_timer_start(&z, on_z, 0, 0));
    V("restart w 0", uv_timer_start(&w, on_w, 0, 0));
}

static void on_a(uv_timer_t *h)
{
    T("timer a", 10 * (uint64_t)(na + 1), 0);
    if (++na < 3) {
        V("a restart", uv_timer_start(h, on_a, 10, 0));
        return;
    }
    /* three timers due together, 10 ms from now */
    uv_timer_start(&x, on_x, 10, 0);
    uv_timer_start(&y, on_y, 10, 0);
    uv_timer_start(&w, on_w, 10, 0);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &x);
    uv_timer_init(loop, &y);
    uv_timer_init(loop, &w);
    uv_timer_init(loop, &z);
    uv_timer_start(&a, on_a, 10, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 40, na);
    return trace_end(loop);
}
