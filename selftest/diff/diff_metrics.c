/* uv_metrics_idle_time counts the time the loop's polls waited once UV_METRICS_IDLE_TIME is
 * configured (in the harness: the virtual time); uv_metrics_info (libuv 1.45+) counts the loop's
 * iterations and the I/O events (a timer is none). */
#include "trace.h"

static uv_timer_t t;

static void on_timer(uv_timer_t *h)
{
    (void)h;
    T("timer", 50, 0);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    V("idle time before configure", uv_metrics_idle_time(loop));
    V("configure", uv_loop_configure(loop, UV_METRICS_IDLE_TIME));
    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_timer, 50, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    /* Rounded up: libuv's poll timeout counts from the loop time cached before the poll began,
     * so the real wait is a fraction of a millisecond short of 50. */
    TV("idle time", 50, (uv_metrics_idle_time(loop) + 999999) / 1000000);
#if UV_VERSION_HEX >= 0x012d00
    {
        uv_metrics_t m;
        V("metrics_info", uv_metrics_info(loop, &m));
        V("  loop_count", m.loop_count);
        V("  events", m.events);
        V("  events_waiting", m.events_waiting);
    }
#endif
    return trace_end(loop);
}
