/* A handle made with UV_UDP_RECVMMSG reads several datagrams per call: each arrives in its own
 * 64 KiB chunk with UV_UDP_MMSG_CHUNK, then one recv_cb(0, NULL, UV_UDP_MMSG_FREE) gives the
 * whole buffer back; with nothing left, recv_cb(0, NULL, 0). */
#include "trace.h"

#include <stdlib.h>

static uv_loop_t *loop;
static uv_udp_t server, client;
static uv_udp_send_t req[3];
static char *slab;
static int frees, empties;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    P("alloc suggested=%zu", suggested);
    *buf = uv_buf_init(slab, 4 * 65536);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    P("recv nread=%s addr=%s flags=%u chunk=%s len=%zu data=%.*s", rc_name(nread),
      addr ? "set" : "NULL", flags, buf->base == slab ? "first" : "later", (size_t)buf->len,
      nread > 0 ? (int)nread : 0, buf->base);
    if (flags & UV_UDP_MMSG_FREE)
        frees++;
    if (nread == 0 && addr == NULL && !(flags & UV_UDP_MMSG_FREE) && ++empties == 1) {
        uv_close((uv_handle_t *)h, on_close);
        uv_close((uv_handle_t *)&client, on_close);
    }
}

static void on_sent(uv_udp_send_t *r, int status)
{
    (void)r;
    V("send_cb", status);
}

int main(void)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss), i;
    uv_buf_t b[3] = {uv_buf_init("a", 1), uv_buf_init("bb", 2), uv_buf_init("ccc", 3)};

    slab = malloc(4 * 65536);
    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    V("init_ex bad flag", uv_udp_init_ex(loop, &server, AF_INET | 0x400));
    V("init_ex bad domain", uv_udp_init_ex(loop, &server, 77));
    V("init_ex RECVMMSG", uv_udp_init_ex(loop, &server, AF_INET | UV_UDP_RECVMMSG));
    V("using_recvmmsg", uv_udp_using_recvmmsg(&server));
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("bind", uv_udp_bind(&server, (const struct sockaddr *)&a, 0));
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);
    uv_udp_init(loop, &client);
    V("client using_recvmmsg", uv_udp_using_recvmmsg(&client));
    for (i = 0; i < 3; i++)
        V("send", uv_udp_send(&req[i], &client, &b[i], 1, (struct sockaddr *)&ss, on_sent));
    V("recv_start", uv_udp_recv_start(&server, on_alloc, on_recv));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    P("frees=%d", frees);
    free(slab);
    return scenario_end(loop);
}
