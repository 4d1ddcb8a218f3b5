/* Timers fire by due time, and timers with the same due time in the order they were started: a
 * restart (stop and start again) moves a timer behind the others due at the same time. */
#include "trace.h"

static uv_timer_t t[6];
static const char *const names[6] = {"timer z", "timer c", "timer a",
                                     "timer b", "timer d", "timer e"};
static const uint64_t dues[6] = {0, 10, 10, 10, 5, 10};

static void on_timer(uv_timer_t *h)
{
    int i = (int)(h - t);
    T(names[i], dues[i], uv_is_active((uv_handle_t *)h));
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    int i;

    trace_begin(loop);
    for (i = 0; i < 6; i++)
        uv_timer_init(loop, &t[i]);
    uv_timer_start(&t[1], on_timer, 10, 0); /* c */
    uv_timer_start(&t[2], on_timer, 10, 0); /* a */
    uv_timer_start(&t[3], on_timer, 10, 0); /* b */
    uv_timer_start(&t[4], on_timer, 5, 0);  /* d: started later, due earlier */
    uv_timer_start(&t[5], on_timer, 10, 0); /* e */
    uv_timer_start(&t[0], on_timer, 0, 0);  /* z: started last, due at once */
    /* a restarted with the same timeout: now behind e */
    uv_timer_stop(&t[2]);
    uv_timer_start(&t[2], on_timer, 10, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 10, 0);
    return trace_end(loop);
}
