/* The server closes; the client reads EOF and writes anyway: the first write succeeds (the
 * kernel takes it), the server's kernel answers with a reset, and the next write fails. */
#include "common.h"

#include <signal.h>

static uv_write_t w1, w2;
static uv_timer_t timer;
static char rbuf[256];

static void on_written(uv_write_t *req, int status)
{
    P("write_cb %s", req == &w1 ? "first" : "second");
    V("  status", status);
}

static void on_timer(uv_timer_t *t)
{
    static uv_buf_t b;

    b = uv_buf_init("y", 1);
    P("timer");
    V("second write", uv_write(&w2, (uv_stream_t *)&client, &b, 1, on_written));
    V("try_write", uv_try_write((uv_stream_t *)&client, &b, 1));
    uv_close((uv_handle_t *)t, on_close);
    uv_close((uv_handle_t *)&client, on_close);
}

static void alloc_c(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    static uv_buf_t b;

    (void)buf;
    if (nread >= 0)
        return;
    V("client read", nread);
    b = uv_buf_init("x", 1);
    V("first write", uv_write(&w1, s, &b, 1, on_written));
    uv_timer_init(loop, &timer);
    timer.data = "timer";
    uv_timer_start(&timer, on_timer, 20, 0);
}

static void ready(void)
{
    V("client read_start", uv_read_start((uv_stream_t *)&client, alloc_c, client_read));
    uv_close((uv_handle_t *)&sconn, on_close);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as every program that writes to sockets must */
    return connect_pair(ready);
}
