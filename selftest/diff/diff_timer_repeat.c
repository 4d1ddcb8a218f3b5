/* Repeating timers: the first timeout, then every `repeat` ms counted from the loop time at
 * which the timer ran (it is rescheduled before its callback); a timeout of 0 with a repeat fires
 * at once, then repeats. One repeating timer at a time: real lateness makes two drift apart. */
#include "trace.h"

static uv_timer_t r, s;
static int nr, ns;

static void on_s(uv_timer_t *h)
{
    static const uint64_t due[] = {65, 95};
    T("timer s", due[ns], uv_timer_get_repeat(h));
    V("s due_in", uv_timer_get_due_in(h));
    if (++ns == 2)
        uv_close((uv_handle_t *)h, NULL);
}

static void on_r(uv_timer_t *h)
{
    static const uint64_t due[] = {5, 25, 45};
    T("timer r", due[nr], uv_is_active((uv_handle_t *)h));
    V("r due_in", uv_timer_get_due_in(h));
    if (++nr == 3) {
        uv_timer_stop(h);
        V("start s", uv_timer_start(&s, on_s, 20, 30)); /* the next one: 45 + 20 */
    }
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &r);
    uv_timer_init(loop, &s);
    V("start r", uv_timer_start(&r, on_r, 5, 20));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 95, nr * 10 + ns);
    return trace_end(loop);
}
