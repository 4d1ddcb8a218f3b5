/* A datagram longer than the buffer alloc_cb gives arrives cut, with UV_UDP_PARTIAL; a
 * zero-length datagram arrives as nread 0 with an address; an alloc_cb that gives no buffer gets
 * UV_ENOBUFS and the datagram stays queued for the next read; try_send sends at once when
 * nothing is queued. */
#include "trace.h"

static uv_loop_t *loop;
static uv_udp_t server, client;
static char small[4];
static int allocs;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    if (allocs++ == 0) {
        P("alloc: no buffer");
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(small, sizeof(small));
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    P("recv nread=%s addr=%s flags=%u data=%.*s", rc_name(nread), addr ? "set" : "NULL", flags,
      nread > 0 ? (int)nread : 0, buf->base ? buf->base : "");
    if (nread == UV_ENOBUFS)
        return;
    if (nread == 0 && addr == NULL && allocs > 4) {
        uv_close((uv_handle_t *)h, on_close);
        uv_close((uv_handle_t *)&client, on_close);
    }
}

int main(void)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_buf_t big = uv_buf_init("abcdefgh", 8), empty = uv_buf_init("", 0);
    uv_buf_t two[2] = {uv_buf_init("xy", 2), uv_buf_init("z", 1)};

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    uv_udp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("bind", uv_udp_bind(&server, (const struct sockaddr *)&a, 0));
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);
    V("client init_ex AF_INET", uv_udp_init_ex(loop, &client, AF_INET));
    len = sizeof(ss);
    {
        struct sockaddr_storage mine;
        int mlen = sizeof(mine);
        V("client getsockname unbound",
          uv_udp_getsockname(&client, (struct sockaddr *)&mine, &mlen));
        V("client getsockname port", ntohs(((struct sockaddr_in *)&mine)->sin_port));
    }
    V("try_send big", uv_udp_try_send(&client, &big, 1, (struct sockaddr *)&ss));
    V("try_send empty", uv_udp_try_send(&client, &empty, 1, (struct sockaddr *)&ss));
    V("try_send two buffers", uv_udp_try_send(&client, two, 2, (struct sockaddr *)&ss));
    V("recv_start", uv_udp_recv_start(&server, on_alloc, on_recv));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
