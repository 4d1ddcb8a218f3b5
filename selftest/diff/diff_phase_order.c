/* The order of the loop's phases with 0 ms timers and idle, prepare and check handles, through
 * uv_run(NOWAIT), then ONCE, then DEFAULT. It changed in libuv 1.45 (timers after the closing
 * phase, and before the first iteration in DEFAULT only) and 1.48 (a 0 ms timer started from a
 * timer callback waits for the next timer phase): the harness must print what the libuv it is
 * compiled against prints (docs/versions.md). */
#include "trace.h"

static uv_timer_t ta, tb, tc;
static uv_idle_t idle;
static uv_prepare_t prep;
static uv_check_t chk;
static int checks;

static void on_timer(uv_timer_t *h)
{
    T((const char *)h->data, 0, 0);
    if (h == &ta) /* a 0 ms timer from a timer callback: same phase before 1.48, next since */
        uv_timer_start(&tb, on_timer, 0, 0);
}

static void on_idle(uv_idle_t *h)
{
    (void)h;
    T("idle", 0, 0);
}

static void on_prepare(uv_prepare_t *h)
{
    (void)h;
    T("prepare", 0, 0);
}

static void on_check(uv_check_t *h)
{
    (void)h;
    T("check", 0, 0);
    if (++checks == 2) /* a 0 ms timer from the check phase: before the next iteration's idle? */
        uv_timer_start(&tc, on_timer, 0, 0);
    if (checks == 4) {
        uv_idle_stop(&idle);
        uv_prepare_stop(&prep);
        uv_check_stop(&chk);
    }
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_timer_init(loop, &ta);
    uv_timer_init(loop, &tb);
    uv_timer_init(loop, &tc);
    ta.data = "timer a";
    tb.data = "timer b (from a)";
    tc.data = "timer c (from check)";
    uv_idle_init(loop, &idle);
    uv_prepare_init(loop, &prep);
    uv_check_init(loop, &chk);
    uv_idle_start(&idle, on_idle);
    uv_prepare_start(&prep, on_prepare);
    uv_check_start(&chk, on_check);

    uv_timer_start(&ta, on_timer, 0, 0);
    V("run nowait", uv_run(loop, UV_RUN_NOWAIT));
    uv_timer_start(&ta, on_timer, 0, 0);
    V("run once", uv_run(loop, UV_RUN_ONCE));
    uv_timer_start(&ta, on_timer, 0, 0);
    V("run default", uv_run(loop, UV_RUN_DEFAULT));
    return trace_end(loop);
}
