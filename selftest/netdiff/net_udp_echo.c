/* UDP on loopback: a server bound at 127.0.0.1 echoes what a client sends. Shows when send_cb
 * runs (the pending phase after the send), that uv_udp_try_send answers UV_EAGAIN while a send is
 * queued, that a receive ends with recv_cb(0, NULL addr) once the queue is empty, and the
 * counters and names around it. */
#include "trace.h"

static uv_loop_t *loop;
static uv_udp_t server, client;
static uv_udp_send_t sreq[3], ereq;
static uv_timer_t timer;
static char slab[2][65536];
static int echoes;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    P("alloc %s suggested=%zu", (const char *)h->data, suggested);
    *buf = uv_buf_init(slab[h == (uv_handle_t *)&server ? 0 : 1], sizeof(slab[0]));
}

static void on_echo_sent(uv_udp_send_t *req, int status)
{
    (void)req;
    V("server send_cb", status);
}

static void on_server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags)
{
    P("server recv nread=%s addr=%s flags=%u data=%.*s", rc_name(nread), addr ? "set" : "NULL",
      flags, nread > 0 ? (int)nread : 0, buf->base);
    if (nread > 0 && echoes++ == 0) {
        uv_buf_t b = uv_buf_init("pong", 4);
        V("server send", uv_udp_send(&ereq, h, &b, 1, addr, on_echo_sent));
        V("server try_send while queued", uv_udp_try_send(h, &b, 1, addr));
        V("server send_queue_count", (long long)uv_udp_get_send_queue_count(h));
    }
}

static void on_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags)
{
    P("client recv nread=%s addr=%s flags=%u data=%.*s", rc_name(nread), addr ? "set" : "NULL",
      flags, nread > 0 ? (int)nread : 0, buf->base);
    if (nread > 0) {
        V("client recv_stop", uv_udp_recv_stop(h));
        V("client is_active after recv_stop", uv_is_active((uv_handle_t *)h));
    }
}

static void on_sent(uv_udp_send_t *req, int status)
{
    V(req == &sreq[0]   ? "client send_cb 0"
      : req == &sreq[1] ? "client send_cb 1"
                        : "client send_cb 2",
      status);
    V("client send_queue_count", (long long)uv_udp_get_send_queue_count(req->handle));
}

static void on_timer(uv_timer_t *t)
{
    P("timer");
    uv_close((uv_handle_t *)t, on_close);
    uv_close((uv_handle_t *)&server, on_close);
    uv_close((uv_handle_t *)&client, on_close);
}

int main(void)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_buf_t b[3] = {uv_buf_init("one", 3), uv_buf_init("two", 3), uv_buf_init("three", 5)};

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    timer.data = "timer";
    V("server init", uv_udp_init(loop, &server));
    V("server getsockname before bind", uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len));
    V("server set_ttl before bind", uv_udp_set_ttl(&server, 10));
    V("server set_broadcast before bind", uv_udp_set_broadcast(&server, 1));
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_udp_bind(&server, (const struct sockaddr *)&a, 0));
    V("server bind again", uv_udp_bind(&server, (const struct sockaddr *)&a, 0));
    len = sizeof(ss);
    V("server getsockname", uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len));
    V("server getsockname len", len);
    len = sizeof(ss);
    V("server getpeername", uv_udp_getpeername(&server, (struct sockaddr *)&ss, &len));
    V("server set_ttl 0", uv_udp_set_ttl(&server, 0));
    V("server set_ttl 10", uv_udp_set_ttl(&server, 10));
    V("server set_multicast_ttl 256", uv_udp_set_multicast_ttl(&server, 256));
    V("server set_multicast_loop 1", uv_udp_set_multicast_loop(&server, 1));
    V("server is_active", uv_is_active((uv_handle_t *)&server));
    V("server recv_start", uv_udp_recv_start(&server, on_alloc, on_server_recv));
    V("server recv_start again", uv_udp_recv_start(&server, on_alloc, on_server_recv));
    V("server is_active reading", uv_is_active((uv_handle_t *)&server));
    len = sizeof(ss);
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);

    V("client init", uv_udp_init(loop, &client));
    V("client send without address", uv_udp_send(&sreq[0], &client, b, 1, NULL, on_sent));
    V("client connect NULL", uv_udp_connect(&client, NULL));
    V("client send 0", uv_udp_send(&sreq[0], &client, &b[0], 1, (struct sockaddr *)&ss, on_sent));
    V("client is_active", uv_is_active((uv_handle_t *)&client));
    V("client send_queue_size", (long long)uv_udp_get_send_queue_size(&client));
    V("client try_send while queued", uv_udp_try_send(&client, &b[1], 1, (struct sockaddr *)&ss));
    V("client send 1", uv_udp_send(&sreq[1], &client, &b[1], 1, (struct sockaddr *)&ss, on_sent));
    V("client send 2", uv_udp_send(&sreq[2], &client, &b[2], 1, (struct sockaddr *)&ss, on_sent));
    V("client recv_start", uv_udp_recv_start(&client, on_alloc, on_client_recv));
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 50, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("client try_send after close", 0);
    return scenario_end(loop);
}
