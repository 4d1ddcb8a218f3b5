/* A raw UDP socket (socket/sendto/recvfrom, as c-ares or a statsd client does) waited on with
 * uv_poll, against a uv_udp_t server: unbound until the first send (getsockname shows port 0),
 * EAGAIN on an empty queue, FIONREAD the next datagram's size, MSG_PEEK, a datagram cut at a
 * small buffer (MSG_TRUNC in msg_flags) and the rest of it dropped, the sender's address from
 * recvfrom; a blocking recv with SO_RCVTIMEO that times out; connected to a port nothing is bound
 * to, the ICMP answer makes POLLERR and the next recv ECONNREFUSED. */
#define _GNU_SOURCE 1
#include "errnames.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static uv_loop_t *loop;
static uv_udp_t server, gone;
static uv_udp_send_t sreq;
static uv_poll_t poller;
static int fd, stage, server_port;
static char slab[65536];

static void on_close(uv_handle_t *h) { P("close %s", (const char *)h->data); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_sent(uv_udp_send_t *r, int status)
{
    (void)r;
    V("server send_cb", status);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    uv_buf_t b = uv_buf_init("pong-reply", 10);

    (void)flags;
    if (nread == 0 && addr == NULL)
        return;
    P("server recv %s %.*s", rc_name(nread), nread > 0 ? (int)nread : 0, buf->base);
    V("server send", uv_udp_send(&sreq, h, &b, 1, addr, on_sent));
}

static void poll_cb(uv_poll_t *h, int status, int events);

static void start_refused(void)
{
    struct sockaddr_in a;
    int port;
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    /* A port that was bound a moment ago and is free now. */
    uv_udp_init(loop, &gone);
    gone.data = "gone";
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_udp_bind(&gone, (const struct sockaddr *)&a, 0);
    uv_udp_getsockname(&gone, (struct sockaddr *)&ss, &len);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&gone, on_close);
    uv_ip4_addr("127.0.0.1", port, &a);
    E("connect to a free port", connect(fd, (const struct sockaddr *)&a, sizeof(a)));
    E("send connected", send(fd, "x", 1, 0));
    stage = 2;
    V("poll start again", uv_poll_start(&poller, UV_READABLE, poll_cb));
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    char b[64], small[4];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    struct msghdr m;
    struct iovec v;
    int n = -1, err = -1;
    socklen_t elen = sizeof(err);
    ssize_t r;

    if (stage == 1 && status == 0 && (events & UV_READABLE)) {
        P("poll readable");
        E("fionread", ioctl(fd, FIONREAD, &n) == 0 ? n : -1);
        r = recv(fd, b, 4, MSG_PEEK);
        P("peek %d %.*s", (int)r, r > 0 ? (int)r : 0, b);
        memset(&m, 0, sizeof(m));
        v.iov_base = small;
        v.iov_len = sizeof(small);
        m.msg_iov = &v;
        m.msg_iovlen = 1;
        m.msg_name = &from;
        m.msg_namelen = sizeof(from);
        r = recvmsg(fd, &m, 0);
        P("recvmsg %d %.*s trunc=%d from=%s", (int)r, r > 0 ? (int)r : 0, small,
          (m.msg_flags & MSG_TRUNC) != 0,
          ntohs(((struct sockaddr_in *)&from)->sin_port) == server_port ? "server" : "other");
        E("recvfrom empty", recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &flen));
        E("fionread empty", ioctl(fd, FIONREAD, &n) == 0 ? n : -1);
        V("poll stop", uv_poll_stop(h));
        start_refused();
        return;
    }
    if (stage == 2) {
        P("poll status=%s readable=%d", rc_name(status), (events & UV_READABLE) != 0);
        E("getsockopt", getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen));
        P("so_error %s", err == ECONNREFUSED ? "ECONNREFUSED" : err == 0 ? "0" : "other");
        E("recv after ICMP", recv(fd, b, sizeof(b), 0));
        stage = 3;
        uv_close((uv_handle_t *)h, on_close);
        uv_close((uv_handle_t *)&server, on_close);
        E("close", close(fd));
    }
}

int main(void)
{
    struct sockaddr_in a, mine;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(mine);
    int len = sizeof(ss);
    struct timeval tv = {0, 100000};
    char b[16];

    loop = uv_default_loop();
    server.data = "server";
    poller.data = "poll";
    uv_udp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &a);
    V("server bind", uv_udp_bind(&server, (const struct sockaddr *)&a, 0));
    uv_udp_getsockname(&server, (struct sockaddr *)&ss, &len);
    server_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    V("server recv_start", uv_udp_recv_start(&server, on_alloc, on_recv));

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    P("socket %s", fd >= 0 ? "ok" : "failed");
    E("getsockname unbound", getsockname(fd, (struct sockaddr *)&mine, &slen));
    P("unbound port %d", ntohs(mine.sin_port));
    E("getpeername", getpeername(fd, (struct sockaddr *)&mine, &slen));
    E("send without address", send(fd, "x", 1, 0));
    E("listen", listen(fd, 1));
    E("recv empty", recv(fd, b, sizeof(b), 0));

    /* A blocking receive with a timeout. */
    {
        int bfd = socket(AF_INET, SOCK_DGRAM, 0);
        E("setsockopt rcvtimeo", setsockopt(bfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
        E("bind blocking", bind(bfd, (const struct sockaddr *)&a, sizeof(a)));
        E("blocking recv times out", recv(bfd, b, sizeof(b), 0));
        E("close blocking", close(bfd));
    }

    uv_ip4_addr("127.0.0.1", server_port, &a);
    E("sendto server", sendto(fd, "ping", 4, 0, (const struct sockaddr *)&a, sizeof(a)));
    slen = sizeof(mine);
    E("getsockname", getsockname(fd, (struct sockaddr *)&mine, &slen));
    P("bound port %s", ntohs(mine.sin_port) != 0 ? "set" : "0");
    stage = 1;
    V("poll init", uv_poll_init_socket(loop, &poller, fd));
    V("poll start", uv_poll_start(&poller, UV_READABLE, poll_cb));
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
