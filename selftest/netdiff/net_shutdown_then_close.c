/* uv_shutdown then uv_close at once: a write that already went out calls back with 0, the
 * shutdown with UV_ECANCELED, both before close_cb. The peer reads the bytes and EOF. */
#include "common.h"

static uv_write_t w, w2; /* w2: before libuv 1.42 the write after the shutdown is accepted */
static uv_shutdown_t sd;
static char rbuf[4096];

static void on_written(uv_write_t *req, int status)
{
    (void)req;
    V("write_cb", status);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    V("shutdown_cb", status);
}

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        P("~server read \"%.*s\"", (int)nread, buf->base);
        return;
    }
    if (nread == 0)
        return;
    V("server read", nread);
    uv_close((uv_handle_t *)s, on_close);
}

static void ready(void)
{
    uv_buf_t b = uv_buf_init("abc", 3);

    V("write", uv_write(&w, (uv_stream_t *)&client, &b, 1, on_written));
    V("shutdown", uv_shutdown(&sd, (uv_stream_t *)&client, on_shutdown));
    V("write after shutdown", uv_write(&w2, (uv_stream_t *)&client, &b, 1, on_written));
    uv_close((uv_handle_t *)&client, on_close);
    V("shutdown after close", uv_shutdown(&sd, (uv_stream_t *)&client, on_shutdown));
    V("server read_start", uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read));
}

int main(void) { return connect_pair(ready); }
