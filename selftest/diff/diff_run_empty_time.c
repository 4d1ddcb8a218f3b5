/* uv_run on a loop with nothing to do still refreshes the loop's time, in every mode; uv_run after
 * uv_stop with nothing to do does not. */
#include "trace.h"

int main(void)
{
    uv_loop_t *loop = uv_default_loop();

    trace_begin(loop);
    uv_sleep(20);
    T("cached after uv_sleep(20)", 0, 0);
    T("default on an empty loop", 20, uv_run(loop, UV_RUN_DEFAULT));
    uv_sleep(20);
    T("once on an empty loop", 40, uv_run(loop, UV_RUN_ONCE));
    uv_sleep(20);
    T("nowait on an empty loop", 60, uv_run(loop, UV_RUN_NOWAIT));
    uv_sleep(20);
    uv_stop(loop);
    T("default after uv_stop", 80, uv_run(loop, UV_RUN_DEFAULT));
    return trace_end(loop);
}
