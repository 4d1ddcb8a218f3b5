/* Many timers with seeded pseudo-random timeouts in 0..40 ms, several sharing a due time: they
 * fire in (due time, start order) order. */
#include "trace.h"

#define N 64

static uv_timer_t t[N];
static uint64_t due[N];
static char names[N][16];

static void on_timer(uv_timer_t *h)
{
    int k = (int)(h - t);
    T(names[k], due[k], 0);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uint32_t x = 12345;
    int k;

    trace_begin(loop);
    for (k = 0; k < N; k++) {
        x = x * 1103515245u + 12345u;
        due[k] = (x >> 16) % 9 * 5; /* 0, 5, ..., 40: ties, 5 ms apart */
        snprintf(names[k], sizeof(names[k]), "t%02d", k);
        uv_timer_init(loop, &t[k]);
        uv_timer_start(&t[k], on_timer, due[k], 0);
    }
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return trace_end(loop);
}
