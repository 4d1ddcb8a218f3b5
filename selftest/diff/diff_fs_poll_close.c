/* Closing a uv_fs_poll_t while its stat is in flight: its close callback waits until the stat
 * has finished and the poll's own timer is closed, so that uv_loop_close then finds nothing open
 * (libuv's tests fs_poll_close_request and _multi_start_stop / _multi_stop_start). */
#include "trace.h"

#define MISSING "/nonexistent/ah-fs-poll-close"

static int closed;

static void poll_cb(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
    (void)h, (void)prev, (void)curr;
    V("poll_cb (never)", status);
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
    closed++;
}

static void scenario(const char *what, int starts, int stop_last)
{
    uv_loop_t loop;
    uv_fs_poll_t p;
    int i;

    closed = 0;
    V(what, uv_loop_init(&loop));
    V("init", uv_fs_poll_init(&loop, &p));
    for (i = 0; i < starts; i++) {
        V("start", uv_fs_poll_start(&p, poll_cb, MISSING, 100));
        if (i < starts - 1 || stop_last)
            V("stop", uv_fs_poll_stop(&p));
    }
    uv_close((uv_handle_t *)&p, close_cb);
    V("closing, callback ran", closed);
    while (closed == 0)
        uv_run(&loop, UV_RUN_ONCE);
    V("closed", closed);
    V("loop_close", uv_loop_close(&loop));
}

int main(void)
{
    trace_begin(uv_default_loop());
    scenario("close while the stat runs", 1, 0);
    scenario("stop and start 10 times, close", 10, 0);
    scenario("start and stop 10 times, close", 10, 1);
    return 0;
}
