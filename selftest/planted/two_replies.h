/* Two requests racing for their replies: the scenario of the planted "replies come back in the
 * order the requests left" race, shared by explore_planted.c (the explorer's own command line)
 * and explore_cli/cli_suite.c (ah-explore in front of a cmocka suite). Each connection to a
 * scripted peer sends "q\n" and records its name in `order` when its reply arrives. Include it
 * once, after <cmocka.h> and <ah/ah.h>. */
#ifndef AH_SELFTEST_TWO_REPLIES_H
#define AH_SELFTEST_TWO_REPLIES_H

#include <stdio.h>
#include <string.h>

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    char buf[64];
    char name;
} conn;

static conn conns[2];
static char order[3];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)size;
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = s->data;
    (void)buf;
    if (n == 0)
        return;
    if (n > 0)
        order[strlen(order)] = c->name;
    uv_close((uv_handle_t *)s, NULL);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
}

static void connect_cb(uv_connect_t *req, int status)
{
    conn *c = req->handle->data;
    uv_buf_t b = uv_buf_init("q\n", 2);

    assert_int_equal(status, 0);
    uv_write(&c->wreq, req->handle, &b, 1, write_cb);
    uv_read_start(req->handle, alloc_cb, read_cb);
}

static void start(conn *c, char name, int port)
{
    struct sockaddr_in a;

    memset(c, 0, sizeof(*c));
    c->name = name;
    uv_tcp_init(uv_default_loop(), &c->tcp);
    c->tcp.data = c;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&a, connect_cb);
}

/* Peers on 127.0.0.1:`port` ('a') and `port`+1 ('b'), each answering after a latency in
 * [lo, hi] ms (a's, then b's), and the loop run until idle: `order` says who answered first. */
static void two_requests(ah_sim *sim, int port, unsigned a_lo, unsigned a_hi, unsigned b_lo,
                         unsigned b_hi)
{
    char addr[2][32];
    ah_peer *p[2];
    int i;

    memset(order, 0, sizeof(order));
    for (i = 0; i < 2; i++) {
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", port + i);
        p[i] = ah_net_listen(sim, addr[i]);
    }
    ah_peer_expect(p[0], "q\n");
    ah_peer_reply(p[0], "A\n");
    ah_peer_expect(p[1], "q\n");
    ah_peer_reply(p[1], "B\n");
    ah_net_latency(sim, addr[0], a_lo, a_hi);
    ah_net_latency(sim, addr[1], b_lo, b_hi);
    start(&conns[0], 'a', port);
    start(&conns[1], 'b', port + 1);
    ah_run_until_idle(sim);
}

#endif
