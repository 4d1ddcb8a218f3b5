/* uv_read_stop inside a read callback holds later bytes in the kernel until uv_read_start; the
 * stream stays readable; stopping twice is fine. Alloc callbacks that give no buffer get
 * UV_ENOBUFS and the stream keeps reading. */
#include "common.h"

static uv_write_t w1, w2;
static uv_timer_t timer;
static char rbuf[4096];
static int stopped_reads, enobufs_left = 1;
static size_t got;

static void on_written(uv_write_t *req, int status)
{
    P("server write_cb %d", req == &w1 ? 1 : 2);
    V("  status", status);
}

static void alloc_c(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    if (enobufs_left > 0) {
        enobufs_left--;
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_timer(uv_timer_t *t)
{
    P("timer");
    V("client read_start again", uv_read_start((uv_stream_t *)&client, alloc_c, client_read));
    uv_close((uv_handle_t *)t, on_close);
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread == UV_ENOBUFS) {
        V("client read", nread);
        V("  buf is empty", buf->base == NULL && buf->len == 0);
        return;
    }
    if (nread > 0) {
        P("~client read \"%.*s\"", (int)nread, buf->base);
        got += (size_t)nread;
        if (got == 3) {
            static uv_buf_t b2;
            P("client has \"abc\"");
            V("client read_stop", uv_read_stop(s));
            V("client read_stop again", uv_read_stop(s));
            V("client is_readable when stopped", uv_is_readable(s));
            b2 = uv_buf_init("def", 3);
            V("server write 2", uv_write(&w2, (uv_stream_t *)&sconn, &b2, 1, on_written));
            uv_timer_init(loop, &timer);
            timer.data = "timer";
            uv_timer_start(&timer, on_timer, 50, 0);
        } else if (got == 6) {
            P("client has \"abcdef\"");
            uv_close((uv_handle_t *)&sconn, on_close);
        }
        return;
    }
    if (nread == 0)
        return;
    V("client read", nread);
    uv_close((uv_handle_t *)s, on_close);
    (void)stopped_reads;
}

static void ready(void)
{
    static uv_buf_t b1;

    V("client read_start", uv_read_start((uv_stream_t *)&client, alloc_c, client_read));
    b1 = uv_buf_init("abc", 3);
    V("server write 1", uv_write(&w1, (uv_stream_t *)&sconn, &b1, 1, on_written));
}

int main(void) { return connect_pair(ready); }
