/* uv_tcp_close_reset: the peer's read gets UV_ECONNRESET (no EOF); its write afterwards fails.
 * Then a close with unread bytes in the receive queue also resets. */
#include "common.h"

#include <signal.h>

static uv_write_t w, w2;
static char rbuf[4096];

static void on_written(uv_write_t *req, int status)
{
    P("write_cb %s", req == &w ? "first" : "after reset");
    V("  status", status);
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
    if (nread >= 0) {
        P("~client read %d", (int)nread);
        return;
    }
    V("client read", nread);
    V("client is_readable after reset", uv_is_readable(s));
    V("client is_writable after reset", uv_is_writable(s));
    b = uv_buf_init("late", 4);
    V("client write after reset", uv_write(&w2, s, &b, 1, on_written));
    V("client try_write after reset", uv_try_write(s, &b, 1));
    V("client read_stop", uv_read_stop(s));
    uv_close((uv_handle_t *)s, on_close);
}

static void server_closed(uv_handle_t *h) { on_close(h); }

static void ready(void)
{
    V("client read_start", uv_read_start((uv_stream_t *)&client, alloc_c, client_read));
    V("server close_reset", uv_tcp_close_reset(&sconn, server_closed));
    V("server close_reset again", uv_is_closing((uv_handle_t *)&sconn));
}

int main(void)
{
    /* Before libuv 1.42 the stream stays writable after the reset and the write reaches
     * write(2): as every program that writes to sockets must, ignore SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return connect_pair(ready);
}
