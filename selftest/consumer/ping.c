/* See ping.h. Written against libuv only: the consumer's tests compile it unchanged. */
#include "ping.h"

#include <string.h>

static void on_close(uv_handle_t *h)
{
    ping_t *p = h->data;

    if (--p->pending_closes == 0)
        p->cb(p, p->status);
}

static void finish(ping_t *p, int status)
{
    if (uv_is_closing((uv_handle_t *)&p->timer))
        return;
    p->status = status;
    uv_close((uv_handle_t *)&p->timer, on_close);
    uv_close((uv_handle_t *)&p->tcp, on_close);
}

static void on_timeout(uv_timer_t *t) { finish(t->data, UV_ETIMEDOUT); }

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    ping_t *p = h->data;

    (void)size;
    *buf = uv_buf_init(p->buf + p->got, (unsigned)(sizeof(p->buf) - 1 - p->got));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    ping_t *p = s->data;

    (void)buf;
    if (n < 0) {
        finish(p, (int)n);
        return;
    }
    p->got += (size_t)n;
    p->buf[p->got] = '\0';
    if (strcmp(p->buf, "pong\n") == 0)
        finish(p, 0);
    else if (p->got >= 5)
        finish(p, UV_EPROTO);
}

static void on_write(uv_write_t *w, int status)
{
    if (status < 0)
        finish(w->data, status);
}

static void on_connect(uv_connect_t *c, int status)
{
    ping_t *p = c->data;
    uv_buf_t b = uv_buf_init("ping\n", 5);

    if (status < 0) {
        finish(p, status);
        return;
    }
    p->write.data = p;
    uv_write(&p->write, (uv_stream_t *)&p->tcp, &b, 1, on_write);
    uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}

int ping(uv_loop_t *loop, ping_t *p, const char *ip, int port, uint64_t timeout_ms, ping_cb cb)
{
    struct sockaddr_in addr;
    int r = uv_ip4_addr(ip, port, &addr);

    if (r < 0)
        return r;
    memset(p, 0, sizeof(*p));
    p->cb = cb;
    p->pending_closes = 2;
    uv_tcp_init(loop, &p->tcp);
    uv_timer_init(loop, &p->timer);
    p->tcp.data = p->timer.data = p->connect.data = p;
    uv_timer_start(&p->timer, on_timeout, timeout_ms, 0);
    return uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&addr, on_connect);
}
