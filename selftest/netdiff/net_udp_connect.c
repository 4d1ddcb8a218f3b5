/* A connected UDP socket: sends without an address (with one: UV_EISCONN), takes datagrams from
 * its peer only, names its peer; connected to a loopback port where nothing is bound, the ICMP
 * answer makes the next send fail with UV_ECONNREFUSED. Disconnecting (NULL) works once. */
#include "trace.h"

static uv_loop_t *loop;
static uv_udp_t server, client, other, lonely;
static uv_udp_send_t req, req2, req3;
static uv_timer_t timer;
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
    P("%s recv nread=%s addr=%s flags=%u data=%.*s", (const char *)h->data, rc_name(nread),
      addr ? "set" : "NULL", flags, nread > 0 ? (int)nread : 0, buf->base);
}

static void on_sent(uv_udp_send_t *r, int status)
{
    P("%s send_cb %s", (const char *)r->data, rc_name(status));
}

static void on_timer(uv_timer_t *t)
{
    uv_buf_t b = uv_buf_init("again", 5);
    P("timer");
    V("lonely try_send after ICMP", uv_udp_try_send(&lonely, &b, 1, NULL));
    V("lonely try_send again", uv_udp_try_send(&lonely, &b, 1, NULL));
    uv_close((uv_handle_t *)t, on_close);
    uv_close((uv_handle_t *)&server, on_close);
    uv_close((uv_handle_t *)&client, on_close);
    uv_close((uv_handle_t *)&other, on_close);
    uv_close((uv_handle_t *)&lonely, on_close);
}

int main(void)
{
    struct sockaddr_in a, dead;
    struct sockaddr_storage ss, peer;
    int len = sizeof(ss), plen;
    uv_buf_t b = uv_buf_init("hello", 5), o = uv_buf_init("other", 5);

    loop = uv_default_loop();
    server.data = "server";
    client.data = "client";
    other.data = "other";
    lonely.data = "lonely";
    timer.data = "timer";
    req.data = "client";
    req2.data = "other";
    req3.data = "lonely";
    uv_udp_init(loop, &server);
    uv_udp_init(loop, &client);
    uv_udp_init(loop, &other);
    uv_udp_init(loop, &lonely);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_udp_bind(&server, (const struct sockaddr *)&a, 0);
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);
    /* the client connects to the server; the server connects back to the client */
    V("client connect", uv_udp_connect(&client, (struct sockaddr *)&ss));
    V("client connect again", uv_udp_connect(&client, (struct sockaddr *)&ss));
    plen = sizeof(peer);
    V("client getpeername", uv_udp_getpeername(&client, (struct sockaddr *)&peer, &plen));
    V("client getpeername same port",
      ((struct sockaddr_in *)&peer)->sin_port == ((struct sockaddr_in *)&ss)->sin_port);
    plen = sizeof(peer);
    V("client getsockname", uv_udp_getsockname(&client, (struct sockaddr *)&peer, &plen));
    V("client getsockname is loopback",
      ((struct sockaddr_in *)&peer)->sin_addr.s_addr == htonl(0x7f000001));
    V("server connect to client", uv_udp_connect(&server, (struct sockaddr *)&peer));
    V("client send with address",
      uv_udp_send(&req, &client, &b, 1, (struct sockaddr *)&ss, on_sent));
    V("client try_send with address", uv_udp_try_send(&client, &b, 1, (struct sockaddr *)&ss));
    V("client send", uv_udp_send(&req, &client, &b, 1, NULL, on_sent));
    V("other send to the server",
      uv_udp_send(&req2, &other, &o, 1, (struct sockaddr *)&ss, on_sent));
    V("server recv_start", uv_udp_recv_start(&server, on_alloc, on_recv));

    /* a port nobody holds: bind, read the port, close */
    {
        uv_udp_t probe;
        int dl = sizeof(dead);
        uv_udp_init(loop, &probe);
        probe.data = "probe";
        uv_udp_bind(&probe, (const struct sockaddr *)&a, 0);
        uv_udp_getsockname(&probe, (struct sockaddr *)&dead, &dl);
        uv_close((uv_handle_t *)&probe, on_close);
        V("run until the probe is closed", uv_run(loop, UV_RUN_NOWAIT));
    }
    V("lonely connect to a dead port", uv_udp_connect(&lonely, (struct sockaddr *)&dead));
    V("lonely send", uv_udp_send(&req3, &lonely, &b, 1, NULL, on_sent));
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 20, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    V("client disconnect after close", 0);
    return scenario_end(loop);
}
