/* Data getters and setters: uv_handle_set_data/get_data and the data field are one; a handle
 * knows its loop; uv_loop_set_data/get_data; uv_loop_init keeps the loop's data and uv_timer_init
 * the handle's. */
#include "trace.h"

static uv_loop_t own;
static uv_timer_t t;
static uv_idle_t i;
static int x, y, z;

static void on_t(uv_timer_t *h)
{
    V("data in callback is y", uv_handle_get_data((uv_handle_t *)h) == &y);
    V("loop in callback", uv_handle_get_loop((uv_handle_t *)h) == &own);
    V("loop data in callback", uv_loop_get_data(h->loop) == &z);
}

int main(void)
{
    uv_loop_set_data(&own, &z);
    V("loop data before init", uv_loop_get_data(&own) == &z);
    V("loop_init", uv_loop_init(&own));
    V("loop data kept by init", own.data == &z);
    trace_begin(&own);
    t.data = &z;
    uv_timer_init(&own, &t);
    V("data kept by init", t.data == &z);
    uv_idle_init(&own, &i);
    uv_handle_set_data((uv_handle_t *)&t, &x);
    V("get_data", uv_handle_get_data((uv_handle_t *)&t) == &x);
    V("data field", t.data == &x);
    t.data = &y;
    V("get_data after field set", uv_handle_get_data((uv_handle_t *)&t) == &y);
    V("handle loop", uv_handle_get_loop((uv_handle_t *)&i) == &own);
    V("handle loop field", i.loop == &own);
    uv_handle_set_data((uv_handle_t *)&i, NULL);
    V("idle data NULL", uv_handle_get_data((uv_handle_t *)&i) == NULL);
    uv_timer_start(&t, on_t, 1, 0);
    V("data kept by start", t.data == &y);
    V("run", uv_run(&own, UV_RUN_DEFAULT));
    uv_loop_set_data(&own, &x);
    V("loop data set", uv_loop_get_data(&own) == &x);
    trace_end(&own);
    V("loop data kept by close", own.data == &x);
    return 0;
}
