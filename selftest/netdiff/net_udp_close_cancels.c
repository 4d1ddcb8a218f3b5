/* Closing a UDP handle with sends queued: the one already sent completes with 0, the ones still
 * queued with UV_ECANCELED, all before the close callback; a send from a send callback goes out
 * in the same iteration's poll. */
#include "trace.h"

static uv_loop_t *loop;
static uv_udp_t tx, rx;
static uv_udp_send_t r[4];
static struct sockaddr_storage dest;
static char slab[65536];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    (void)h;
    P("rx recv nread=%s addr=%s flags=%u data=%.*s", rc_name(nread), addr ? "set" : "NULL", flags,
      nread > 0 ? (int)nread : 0, buf->base);
}

static void on_sent(uv_udp_send_t *req, int status)
{
    P("send_cb %s %s queue=%zu", (const char *)req->data, rc_name(status),
      uv_udp_get_send_queue_count(&tx));
    if (req == &r[0]) {
        uv_buf_t b = uv_buf_init("from-cb", 7);
        r[3].data = "from cb";
        V("send from send_cb", uv_udp_send(&r[3], &tx, &b, 1, (struct sockaddr *)&dest, on_sent));
    }
    if (req == &r[3]) {
        uv_buf_t b = uv_buf_init("late", 4);
        r[1].data = "late 1";
        r[2].data = "late 2";
        V("send late 1", uv_udp_send(&r[1], &tx, &b, 1, (struct sockaddr *)&dest, on_sent));
        V("send late 2", uv_udp_send(&r[2], &tx, &b, 1, (struct sockaddr *)&dest, on_sent));
        uv_close((uv_handle_t *)&tx, on_close);
        uv_close((uv_handle_t *)&rx, on_close);
    }
}

int main(void)
{
    struct sockaddr_in a;
    int len = sizeof(dest);
    uv_buf_t b = uv_buf_init("first", 5);

    loop = uv_default_loop();
    tx.data = "tx";
    rx.data = "rx";
    uv_udp_init(loop, &tx);
    uv_udp_init(loop, &rx);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_udp_bind(&rx, (const struct sockaddr *)&a, 0);
    uv_udp_getsockname(&rx, (struct sockaddr *)&dest, &len);
    V("rx recv_start", uv_udp_recv_start(&rx, on_alloc, on_recv));
    r[0].data = "first";
    V("send first", uv_udp_send(&r[0], &tx, &b, 1, (struct sockaddr *)&dest, on_sent));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
