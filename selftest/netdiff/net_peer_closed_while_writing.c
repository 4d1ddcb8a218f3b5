/* The server reads and writes to a client that does not read; the client closes with the
 * server's bytes unread in its receive queue, so its kernel answers with a reset: the server's
 * read gets UV_ECONNRESET (never UV_EPIPE) and its next write fails. */
#include "common.h"

#include <signal.h>

static uv_write_t w[8];
static uv_timer_t timer;
static char rbuf[256];
static int ticks, reads_done;

static void alloc_s(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h, (void)size;
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread == 0)
        return;
    V("server read", nread);
    if (nread < 0 && !reads_done++) {
        uv_read_stop(s);
    }
}

static void on_written(uv_write_t *req, int status)
{
    P("server write_cb %d %s", (int)(req - w), rc_name(status));
}

static void on_timer(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("data", 4);

    ticks++;
    if (ticks == 2) {
        P("the client closes with unread bytes");
        uv_close((uv_handle_t *)&client, on_close);
        return;
    }
    if (ticks <= 6) {
        V("server write", uv_write(&w[ticks], (uv_stream_t *)&sconn, &b, 1, on_written));
        return;
    }
    uv_close((uv_handle_t *)t, on_close);
    uv_close((uv_handle_t *)&sconn, on_close);
}

static void ready(void)
{
    uv_buf_t b = uv_buf_init("first", 5);

    V("server read_start", uv_read_start((uv_stream_t *)&sconn, alloc_s, server_read));
    V("server write", uv_write(&w[0], (uv_stream_t *)&sconn, &b, 1, on_written));
    uv_timer_init(loop, &timer);
    timer.data = "timer";
    uv_timer_start(&timer, on_timer, 5, 5);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return connect_pair(ready);
}
