/* A datagram sent to a socket from inside that socket's recv_cb: loopback puts it in the receive
 * queue during the send, and libuv's read loop (which reads until recvmsg says EAGAIN) reads it
 * before the sender's send_cb runs. A datagram sent to a socket whose read loop is not running
 * waits for that socket's next poll. */
#include "trace.h"

static uv_loop_t *loop;
static uv_udp_t server, client;
static uv_udp_send_t req1, req2;
static char slab[65536];
static struct sockaddr_in server_addr;
static int got;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_sent(uv_udp_send_t *r, int status)
{
    P("send_cb %s %s", r == &req1 ? "first" : "second", rc_name(status));
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    uv_buf_t b = uv_buf_init("second", 6);

    (void)flags;
    if (nread == 0 && addr == NULL) {
        P("server read loop drained");
        return;
    }
    P("%s recv %.*s", (const char *)h->data, nread > 0 ? (int)nread : 0, buf->base);
    if (++got == 1)
        V("client send from the server's recv_cb",
          uv_udp_send(&req2, &client, &b, 1, (const struct sockaddr *)&server_addr, on_sent));
    else {
        uv_close((uv_handle_t *)&server, on_close);
        uv_close((uv_handle_t *)&client, on_close);
    }
}

int main(void)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_buf_t b = uv_buf_init("first", 5);

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    uv_udp_init(loop, &server);
    uv_udp_init(loop, &client);
    uv_ip4_addr("127.0.0.1", 0, &server_addr);
    V("bind", uv_udp_bind(&server, (const struct sockaddr *)&server_addr, 0));
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);
    uv_ip4_addr("127.0.0.1", ntohs(((struct sockaddr_in *)&ss)->sin_port), &server_addr);
    V("recv_start", uv_udp_recv_start(&server, on_alloc, on_recv));
    V("client send",
      uv_udp_send(&req1, &client, &b, 1, (const struct sockaddr *)&server_addr, on_sent));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
