/* As net_write_reset, but the client does not read: the queued write fails with the reset. */
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
    uv_close((uv_handle_t *)&client, on_close);
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
    (void)client_read;
    (void)alloc_c;
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
