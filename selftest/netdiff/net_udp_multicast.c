/* Multicast and broadcast on one host: a socket bound at the wildcard joins a group and receives
 * what is sent to it (IP_MULTICAST_LOOP is on by default); joining twice, leaving a group not
 * joined (or on another interface) and joining a unicast address fail as the kernel says; after
 * leaving, nothing more
 * arrives. A broadcast without SO_BROADCAST fails with UV_EACCES in the send callback. Options
 * are checked against their ranges before the socket is touched. Binding an address that is not
 * the host's fails with UV_EADDRNOTAVAIL; two sockets share a port only if both ask for
 * UV_UDP_REUSEADDR. */
#include "trace.h"

static uv_loop_t *loop;
static uv_udp_t rx, tx, a1, a2;
static uv_udp_send_t req[4];
static uv_timer_t timer;
static char slab[65536];
static struct sockaddr_in group;
static int phase;

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
    uv_buf_t b = uv_buf_init("after-leave", 11);

    P("timer %d", phase);
    if (phase++ == 0) {
        V("leave on another interface",
          uv_udp_set_membership(&rx, "239.255.77.1", NULL, UV_LEAVE_GROUP));
        V("leave", uv_udp_set_membership(&rx, "239.255.77.1", "127.0.0.1", UV_LEAVE_GROUP));
        req[2].data = "after leave";
        V("send after leave", uv_udp_send(&req[2], &tx, &b, 1, (struct sockaddr *)&group, on_sent));
        uv_timer_start(t, on_timer, 20, 0);
        return;
    }
    uv_close((uv_handle_t *)t, on_close);
    uv_close((uv_handle_t *)&rx, on_close);
    uv_close((uv_handle_t *)&tx, on_close);
}

int main(void)
{
    struct sockaddr_in any, bcast, far, lo;
    uv_buf_t b = uv_buf_init("to-group", 8);
    int port;

    loop = uv_default_loop();
    rx.data = "rx";
    tx.data = "tx";
    a1.data = "a1";
    a2.data = "a2";
    timer.data = "timer";

    /* addresses and ports */
    uv_udp_init(loop, &a1);
    uv_udp_init(loop, &a2);
    uv_ip4_addr("192.0.2.1", 0, &far);
    V("bind a non-local address", uv_udp_bind(&a1, (const struct sockaddr *)&far, 0));
    uv_ip4_addr("127.0.0.1", 0, &lo);
    V("bind after a failed bind", uv_udp_bind(&a1, (const struct sockaddr *)&lo, 0));
    {
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        uv_udp_getsockname(&a1, (struct sockaddr *)&ss, &len);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    uv_ip4_addr("127.0.0.1", port, &lo);
    V("bind a taken port", uv_udp_bind(&a2, (const struct sockaddr *)&lo, 0));
    V("bind IPV6ONLY on IPv4", uv_udp_bind(&a2, (const struct sockaddr *)&lo, UV_UDP_IPV6ONLY));
    V("bind bad flags", uv_udp_bind(&a2, (const struct sockaddr *)&lo, 1024));
    uv_close((uv_handle_t *)&a1, on_close);
    uv_close((uv_handle_t *)&a2, on_close);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    uv_udp_init(loop, &a1);
    uv_udp_init(loop, &a2);
    V("bind REUSEADDR", uv_udp_bind(&a1, (const struct sockaddr *)&lo, UV_UDP_REUSEADDR));
    V("bind REUSEADDR again", uv_udp_bind(&a2, (const struct sockaddr *)&lo, UV_UDP_REUSEADDR));
    uv_close((uv_handle_t *)&a1, on_close);
    uv_close((uv_handle_t *)&a2, on_close);
    V("run", uv_run(loop, UV_RUN_DEFAULT));

    uv_udp_init(loop, &rx);
    uv_udp_init(loop, &tx);
    uv_ip4_addr("0.0.0.0", 0, &any);
    V("rx bind", uv_udp_bind(&rx, (const struct sockaddr *)&any, UV_UDP_REUSEADDR));
    {
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        uv_udp_getsockname(&rx, (struct sockaddr *)&ss, &len);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    uv_ip4_addr("239.255.77.1", port, &group);
    V("join a unicast address", uv_udp_set_membership(&rx, "127.0.0.1", NULL, UV_JOIN_GROUP));
    V("join a malformed address", uv_udp_set_membership(&rx, "nope", NULL, UV_JOIN_GROUP));
    V("leave before joining", uv_udp_set_membership(&rx, "239.255.77.1", NULL, UV_LEAVE_GROUP));
    V("join", uv_udp_set_membership(&rx, "239.255.77.1", "127.0.0.1", UV_JOIN_GROUP));
    V("join twice", uv_udp_set_membership(&rx, "239.255.77.1", "127.0.0.1", UV_JOIN_GROUP));
    V("join bad membership", uv_udp_set_membership(&rx, "239.255.77.2", NULL, (uv_membership)7));
    V("join with a non-local interface",
      uv_udp_set_membership(&rx, "239.255.77.3", "192.0.2.1", UV_JOIN_GROUP));
    V("rx recv_start", uv_udp_recv_start(&rx, on_alloc, on_recv));

    V("tx set_multicast_loop before bind", uv_udp_set_multicast_loop(&tx, 1));
    V("tx bind", uv_udp_bind(&tx, (const struct sockaddr *)&any, 0));
    V("tx set_multicast_interface", uv_udp_set_multicast_interface(&tx, "127.0.0.1"));
    V("tx set_multicast_interface bad", uv_udp_set_multicast_interface(&tx, "x.y"));
    V("tx set_multicast_interface non-local", uv_udp_set_multicast_interface(&tx, "192.0.2.1"));
    V("tx set_multicast_loop 2", uv_udp_set_multicast_loop(&tx, 2));
    V("tx set_multicast_loop -1", uv_udp_set_multicast_loop(&tx, -1));
    V("tx set_multicast_ttl 1", uv_udp_set_multicast_ttl(&tx, 1));
    req[0].data = "to group";
    V("send to group", uv_udp_send(&req[0], &tx, &b, 1, (struct sockaddr *)&group, on_sent));
    uv_ip4_addr("255.255.255.255", port, &bcast);
    req[1].data = "broadcast";
    V("broadcast without SO_BROADCAST",
      uv_udp_send(&req[1], &tx, &b, 1, (struct sockaddr *)&bcast, on_sent));
    V("try broadcast without SO_BROADCAST", uv_udp_try_send(&rx, &b, 1, (struct sockaddr *)&bcast));
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_timer, 20, 0);
    V("run", uv_run(loop, UV_RUN_DEFAULT));
    return scenario_end(loop);
}
