/* The client closes (a FIN, nothing unread on its side). The server, not reading yet, writes:
 * the client's kernel answers with a reset. When the server then reads, it gets UV_EOF, never
 * UV_EPIPE (Linux reports the FIN before the reset's error on a read), while its next write
 * fails with UV_EPIPE. With bytes before the FIN (HELLO=1), they come first. */
#include "common.h"

#include <signal.h>

static uv_write_t cw, w1, w2;
static uv_timer_t timer;
static char rbuf[256];
static int ticks, hello;

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)s;
    if (nread == 0)
        return;
    P("server read %s%s%.*s", rc_name(nread), nread > 0 ? " " : "", nread > 0 ? (int)nread : 0,
      buf->base);
}

static void on_written(uv_write_t *req, int status)
{
    P("%s write_cb %s",
      req == &cw   ? "client"
      : req == &w1 ? "server first"
                   : "server second",
      rc_name(status));
}

static void on_timer(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("x", 1);

    switch (++ticks) {
    case 1:
        V("server write", uv_write(&w1, (uv_stream_t *)&sconn, &b, 1, on_written));
        break;
    case 2:
        V("server read_start", uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read));
        break;
    case 3:
        V("server write again", uv_write(&w2, (uv_stream_t *)&sconn, &b, 1, on_written));
        break;
    default:
        uv_close((uv_handle_t *)t, on_close);
        uv_close((uv_handle_t *)&sconn, on_close);
    }
}

static void ready(void)
{
    uv_buf_t b = uv_buf_init("hello", 5);

    if (hello)
        V("client write", uv_write(&cw, (uv_stream_t *)&client, &b, 1, on_written));
    uv_close((uv_handle_t *)&client, on_close);
    uv_timer_init(loop, &timer);
    timer.data = "timer";
    uv_timer_start(&timer, on_timer, 10, 10);
}

int main(void)
{
    int r;

    signal(SIGPIPE, SIG_IGN);
    P("without bytes");
    r = connect_pair(ready);
    P("with bytes");
    hello = 1;
    ticks = 0;
    pair_connected = pair_accepted = 0;
    return r | connect_pair(ready);
}
