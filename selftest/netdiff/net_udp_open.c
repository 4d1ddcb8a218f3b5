/* uv_udp_open adopts a raw UDP socket: a datagram the socket had queued before is read by the
 * handle, the handle's name is the socket's, it sends from that address; opening it again is
 * UV_EBUSY, another handle opening the same socket UV_EEXIST; a connected socket makes a
 * connected handle (send without an address). Closing the handle closes the socket. */
#define _GNU_SOURCE 1
#include "trace.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_udp_t server, opened, other, conn;
static uv_udp_send_t sreq, oreq, creq;
static char slab[65536];
static int fd, cfd, got;
static struct sockaddr_in server_addr;

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_sent(uv_udp_send_t *r, int status)
{
    uv_buf_t cb = uv_buf_init("from-conn", 9);

    P("%s send_cb %s", (const char *)r->data, rc_name(status));
    /* The next step from a send callback, one socket ready at a time: the order in which one
     * poll reports several ready sockets is epoll's, not modelled (docs/udp.md). */
    if (r == &oreq)
        V("conn send", uv_udp_send(&creq, &conn, &cb, 1, NULL, on_sent));
}

static void finish(void)
{
    uv_close((uv_handle_t *)&server, on_close);
    uv_close((uv_handle_t *)&opened, on_close);
    uv_close((uv_handle_t *)&other, on_close);
    uv_close((uv_handle_t *)&conn, on_close);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    uv_buf_t back = uv_buf_init("from-opened", 11);

    (void)flags;
    if (nread == 0 && addr == NULL)
        return;
    P("%s recv %s %.*s", (const char *)h->data, rc_name(nread), nread > 0 ? (int)nread : 0,
      buf->base);
    got++;
    /* One step at a time: the order does not depend on which socket epoll reports first. */
    if (got == 2)
        V("opened send",
          uv_udp_send(&oreq, &opened, &back, 1, (const struct sockaddr *)&server_addr, on_sent));
    else if (got == 4)
        finish();
}

int main(void)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof(ss), port, sport;
    socklen_t slen = sizeof(a);
    uv_buf_t early = uv_buf_init("early", 5), late = uv_buf_init("late", 4);
    uv_buf_t cb = uv_buf_init("from-conn", 9);

    loop = uv_default_loop();
    server.data = "server";
    opened.data = "opened";
    other.data = "other";
    conn.data = "conn";
    sreq.data = "server";
    oreq.data = "opened";
    creq.data = "conn";
    uv_udp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_udp_bind(&server, (const struct sockaddr *)&a, 0));
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);
    sport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    V("server recv_start", uv_udp_recv_start(&server, on_alloc, on_recv));

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    P("bind raw %d", bind(fd, (const struct sockaddr *)&a, sizeof(a)));
    getsockname(fd, (struct sockaddr *)&a, &slen);
    port = ntohs(a.sin_port);
    V("server send early", uv_udp_try_send(&server, &early, 1, (const struct sockaddr *)&a));
    usleep(20000); /* the real kernel queues it on the raw socket */
    V("run once", uv_run(loop, UV_RUN_NOWAIT));

    V("init opened", uv_udp_init(loop, &opened));
    V("open", uv_udp_open(&opened, fd));
    V("open again", uv_udp_open(&opened, fd));
    len = sizeof(ss);
    V("getsockname", uv_udp_getsockname(&opened, (struct sockaddr *)&ss, &len));
    P("same port %d", ntohs(((struct sockaddr_in *)&ss)->sin_port) == port);
    V("opened recv_start", uv_udp_recv_start(&opened, on_alloc, on_recv));
    V("init other", uv_udp_init(loop, &other));
    V("other opens the reading socket", uv_udp_open(&other, fd));
    V("server send late",
      uv_udp_send(&sreq, &server, &late, 1, (const struct sockaddr *)&a, on_sent));

    uv_ip4_addr("127.0.0.1", sport, &server_addr);
    cfd = socket(AF_INET, SOCK_DGRAM, 0);
    P("connect raw %d", connect(cfd, (const struct sockaddr *)&server_addr, sizeof(server_addr)));
    V("init conn", uv_udp_init(loop, &conn));
    V("open connected", uv_udp_open(&conn, cfd));
    len = sizeof(ss);
    V("conn getpeername", uv_udp_getpeername(&conn, (struct sockaddr *)&ss, &len));
    V("conn send with an address",
      uv_udp_send(&creq, &conn, &cb, 1, (const struct sockaddr *)&server_addr, on_sent));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
