/* A planted race run through the explorer's command line (replay.sh): ah_explore_test explores the
 * test function; it must fail with one banner line whose replay command, run as printed,
 * reproduces the same trace hash. This program is meant to fail. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

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
    (void)status;
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

/* planted: assumes the first request is answered first */
static void replies_in_order(void **state)
{
    ah_sim *sim = *state;
    ah_peer *a = ah_net_listen(sim, "127.0.0.1:7301");
    ah_peer *b = ah_net_listen(sim, "127.0.0.1:7302");

    memset(order, 0, sizeof(order));
    ah_peer_expect(a, "q\n");
    ah_peer_reply(a, "A\n");
    ah_peer_expect(b, "q\n");
    ah_peer_reply(b, "B\n");
    ah_net_latency(sim, "127.0.0.1:7301", 1, 6);
    ah_net_latency(sim, "127.0.0.1:7302", 1, 6);
    start(&conns[0], 'a', 7301);
    start(&conns[1], 'b', 7302);
    ah_run_until_idle(sim);
    assert_string_equal(order, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {ah_explore_test(replies_in_order)};
    return ah_run_tests(tests);
}
