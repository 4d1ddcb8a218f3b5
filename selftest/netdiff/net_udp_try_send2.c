/* 1.50's uv_udp_try_send2: argument errors, a handle with no socket yet (UV_EINVAL: it does not
 * bind), then a batch of three datagrams sent at once and received in order. Before 1.50 the
 * function does not exist and the scenario prints only that. */
#include "trace.h"

static uv_loop_t *loop;
static uv_udp_t server, client;
static int got;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536];

    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    if (nread == 0 && addr == NULL)
        return;
    P("recv nread=%s flags=%u data=%.*s", rc_name(nread), flags, nread > 0 ? (int)nread : 0,
      buf->base);
    if (++got == 3) {
        uv_close((uv_handle_t *)h, on_close);
        uv_close((uv_handle_t *)&client, on_close);
    }
}

int main(void)
{
#if UV_VERSION_HEX >= 0x013200
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_buf_t b0 = uv_buf_init("a", 1), b1[2] = {uv_buf_init("b", 1), uv_buf_init("b", 1)},
             b2 = uv_buf_init("ccc", 3);
    uv_buf_t *bufs[3] = {&b0, b1, &b2};
    unsigned int nbufs[3] = {1, 2, 1};
    struct sockaddr *addrs[3];

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    uv_udp_init(loop, &server);
    uv_udp_init(loop, &client);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("bind", uv_udp_bind(&server, (const struct sockaddr *)&a, 0));
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);
    addrs[0] = addrs[1] = addrs[2] = (struct sockaddr *)&ss;
    V("try_send2 count 0", uv_udp_try_send2(&client, 0, bufs, nbufs, addrs, 0));
    V("try_send2 flags 1", uv_udp_try_send2(&client, 3, bufs, nbufs, addrs, 1));
    V("try_send2 no socket", uv_udp_try_send2(&client, 3, bufs, nbufs, addrs, 0));
    V("client bind", uv_udp_bind(&client, (const struct sockaddr *)&a, 0));
    V("try_send2", uv_udp_try_send2(&client, 3, bufs, nbufs, addrs, 0));
    V("recv_start", uv_udp_recv_start(&server, on_alloc, on_recv));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
#else
    (void)loop;
    (void)server;
    (void)client;
    (void)got;
    (void)on_close;
    (void)on_recv;
    (void)on_alloc;
    P("uv_udp_try_send2 is 1.50");
    return 0;
#endif
}
