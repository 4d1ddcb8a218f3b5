/* A server closes while bytes it never read wait in its receive queue: Linux answers with a
 * reset instead of a FIN, so the client's read gets UV_ECONNRESET. And a write to a peer that
 * reset fails (UV_EPIPE or UV_ECONNRESET, as the kernel says). */
#include "common.h"

static uv_write_t w;
static uv_timer_t timer;
static char rbuf[4096];

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("client write_cb", status);
}

static void alloc_c(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread >= 0)
        return;
    V("client read", nread);
    uv_close((uv_handle_t *)s, on_close);
}

static void on_timer(uv_timer_t *t)
{
    P("timer: the server closes without reading");
    uv_close((uv_handle_t *)&sconn, on_close);
    uv_close((uv_handle_t *)t, on_close);
}

static void ready(void)
{
    static uv_buf_t b;

    b = uv_buf_init("unread", 6);
    V("client write", uv_write(&w, (uv_stream_t *)&client, &b, 1, on_written));
    V("client read_start", uv_read_start((uv_stream_t *)&client, alloc_c, client_read));
    uv_timer_init(loop, &timer);
    timer.data = "timer";
    uv_timer_start(&timer, on_timer, 20, 0);
}

int main(void) { return connect_pair(ready); }
