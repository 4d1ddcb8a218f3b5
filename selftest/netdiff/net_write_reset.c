/* A client writes more than the kernel takes to a server that never reads; the server closes
 * with those bytes unread, so its kernel resets the connection. The client, reading, learns it
 * from its read callback and from the queued write's callback. */
#include "common.h"

#include <signal.h>
#include <stdlib.h>

#define BIG (64u * 1024 * 1024)

static uv_write_t w;
static uv_timer_t timer;
static char *big, rbuf[256];

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
    V("  queue still holds bytes", uv_stream_get_write_queue_size(s) > 0);
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
    uv_buf_t b;

    big = calloc(1, BIG);
    b = uv_buf_init(big, BIG);
    V("client write", uv_write(&w, (uv_stream_t *)&client, &b, 1, on_written));
    V("client read_start", uv_read_start((uv_stream_t *)&client, alloc_c, client_read));
    uv_timer_init(loop, &timer);
    timer.data = "timer";
    uv_timer_start(&timer, on_timer, 20, 0);
}

int main(void)
{
    int r;

    signal(SIGPIPE, SIG_IGN);
    r = connect_pair(ready);
    free(big);
    return r;
}
