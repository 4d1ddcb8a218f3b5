/* Huge timeouts: now + timeout is clamped to the largest due time instead of wrapping, so such a
 * timer sorts after every other; uv_backend_timeout caps at INT_MAX; an unreferenced one lets the
 * loop end. */
#include "trace.h"

static uv_timer_t big, huge, small;

static void on_small(uv_timer_t *h)
{
    (void)h;
    T("timer small", 10, 0);
}

static void on_never(uv_timer_t *h)
{
    (void)h;
    T("MUST NOT FIRE", 0, 0);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uint64_t now;

    trace_begin(loop);
    now = uv_now(loop);
    uv_timer_init(loop, &big);
    uv_timer_init(loop, &huge);
    uv_timer_init(loop, &small);
    uv_timer_start(&huge, on_never, UINT64_MAX, 0);
    V("huge: now + due_in is the largest time", uv_timer_get_due_in(&huge) + now == UINT64_MAX);
    V("huge timeout field", huge.timeout == UINT64_MAX);
    uv_timer_start(&big, on_never, UINT64_MAX - now - 1, 0);
    V("big due_in", uv_timer_get_due_in(&big) == UINT64_MAX - now - 1);
    V("backend timeout capped", uv_backend_timeout(loop));
    uv_timer_start(&small, on_small, 10, 0);
    uv_unref((uv_handle_t *)&big);
    uv_unref((uv_handle_t *)&huge);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    T("after run", 10, 0);
    V("huge still active", uv_is_active((uv_handle_t *)&huge));
    return trace_end(loop);
}
