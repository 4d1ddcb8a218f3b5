/* A cmocka suite on the harness, explored unchanged by ah-explore with `--test NAME`
 * (explore_cli.sh). Two planted races, each beside its correct twin: a counter whose increments
 * are lost when the two threads' switch points interleave (thread schedule), and replies assumed
 * to come back in the order the requests left (network jitter and same-instant order). Under the
 * default schedule every test passes. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* ---- threads: a counter ---- */

static uv_mutex_t mu;
static int counter;

static void add_lost(void *arg)
{
    int seen;

    (void)arg;
    uv_mutex_lock(&mu);
    seen = counter;
    uv_mutex_unlock(&mu);
    uv_mutex_lock(&mu);
    counter = seen + 1; /* planted: the other thread's increment may have come in between */
    uv_mutex_unlock(&mu);
}

static void add_locked(void *arg)
{
    (void)arg;
    uv_mutex_lock(&mu);
    counter = counter + 1;
    uv_mutex_unlock(&mu);
}

static void two_threads(uv_thread_cb fn)
{
    uv_thread_t a, b;

    counter = 0;
    assert_int_equal(uv_mutex_init(&mu), 0);
    assert_int_equal(uv_thread_create(&a, fn, NULL), 0);
    assert_int_equal(uv_thread_create(&b, fn, NULL), 0);
    assert_int_equal(uv_thread_join(&a), 0);
    assert_int_equal(uv_thread_join(&b), 0);
    uv_mutex_destroy(&mu);
}

static void counter_lost_update(void **state)
{
    (void)state;
    two_threads(add_lost);
    assert_int_equal(counter, 2);
}

static void counter_locked(void **state)
{
    (void)state;
    two_threads(add_locked);
    assert_int_equal(counter, 2);
}

/* ---- the loop: two requests, replies with jitter that can tie ---- */

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

static void two_requests(ah_sim *sim)
{
    ah_peer *a = ah_net_listen(sim, "127.0.0.1:7401");
    ah_peer *b = ah_net_listen(sim, "127.0.0.1:7402");

    memset(order, 0, sizeof(order));
    ah_peer_expect(a, "q\n");
    ah_peer_reply(a, "A\n");
    ah_peer_expect(b, "q\n");
    ah_peer_reply(b, "B\n");
    /* b's reply is never earlier than a's; at a tie, same-instant order decides */
    ah_net_latency(sim, "127.0.0.1:7401", 3, 3);
    ah_net_latency(sim, "127.0.0.1:7402", 3, 4);
    start(&conns[0], 'a', 7401);
    start(&conns[1], 'b', 7402);
    ah_run_until_idle(sim);
}

static void replies_in_order(void **state)
{
    two_requests(*state);
    assert_string_equal(order, "ab"); /* planted: the replies race */
}

static void replies_in_any_order(void **state)
{
    two_requests(*state);
    assert_int_equal(strlen(order), 2);
    assert_true(strchr(order, 'a') != NULL && strchr(order, 'b') != NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(counter_lost_update),
        ah_unit_test(counter_locked),
        ah_unit_test(replies_in_order),
        ah_unit_test(replies_in_any_order),
    };
    return ah_run_tests(tests);
}
