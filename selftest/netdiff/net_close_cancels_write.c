/* Closing a stream with writes still queued (the peer does not read, so the kernel's buffers
 * fill): every queued write's callback gets UV_ECANCELED, in order, before close_cb. The peer then
 * reads what the kernel had taken, and EOF. */
#include "common.h"

#include <stdlib.h>

#define BIG (64u * 1024 * 1024)

static uv_write_t w1, w2;
static char *big, rbuf[65536];
static size_t got;

static void on_written(uv_write_t *req, int status)
{
    P("write_cb %s", req == &w1 ? "big" : "small");
    V("  status", status);
}

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread > 0) {
        got += (size_t)nread;
        return;
    }
    if (nread == 0)
        return;
    P("~server read %zu bytes in all", got);
    V("server got some, not all", got > 0 && got < BIG);
    V("server read", nread);
    uv_close((uv_handle_t *)s, on_close);
}

static void ready(void)
{
    uv_buf_t b1, b2 = uv_buf_init("tail", 4);

    big = calloc(1, BIG);
    b1 = uv_buf_init(big, BIG);
    V("write big", uv_write(&w1, (uv_stream_t *)&client, &b1, 1, on_written));
    V("write small", uv_write(&w2, (uv_stream_t *)&client, &b2, 1, on_written));
    V("queue holds bytes", uv_stream_get_write_queue_size((uv_stream_t *)&client) > 0);
    V("try_write with a queue", uv_try_write((uv_stream_t *)&client, &b2, 1));
    uv_close((uv_handle_t *)&client, on_close);
    P("client closed");
    V("server read_start", uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read));
}

int main(void)
{
    int r = connect_pair(ready);
    free(big);
    return r;
}
