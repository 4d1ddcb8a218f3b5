/* UDP in the sim: an in-sim echo server and a small request/reply client, under the datagram
 * faults of include/ah/udp.h. The planted bug is a client that sends its request once and waits
 * forever: the loss fault finds it (a deadlock report naming the lost datagram), and its twin that
 * retries on a timer passes the same schedules. */
#include <ah/ah.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the code under test: plain libuv ---- */

static char slab[65536];

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

/* An echo server: every datagram goes back to its sender, prefixed with "re:". */
typedef struct echo_server {
    uv_udp_t udp;
    uv_udp_send_t req[64];
    char out[64][128];
    unsigned n;
} echo_server;

static void echo_sent(uv_udp_send_t *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
}

static void echo_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags)
{
    echo_server *s = (echo_server *)h;
    unsigned i = s->n % 64;
    uv_buf_t b;

    (void)flags;
    if (nread <= 0 || addr == NULL)
        return;
    memcpy(s->out[i], "re:", 3);
    memcpy(s->out[i] + 3, buf->base, (size_t)nread < 120 ? (size_t)nread : 120);
    b = uv_buf_init(s->out[i], 3 + ((unsigned)nread < 120 ? (unsigned)nread : 120));
    s->n++;
    assert_int_equal(uv_udp_send(&s->req[i], h, &b, 1, addr, echo_sent), 0);
}

static void echo_start(uv_loop_t *loop, echo_server *s, const char *ip, int port)
{
    struct sockaddr_in a;

    memset(s, 0, sizeof(*s));
    uv_ip4_addr(ip, port, &a);
    assert_int_equal(uv_udp_init(loop, &s->udp), 0);
    assert_int_equal(uv_udp_bind(&s->udp, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_udp_recv_start(&s->udp, alloc_cb, echo_recv), 0);
}

/* A request/reply client: sends "ping" and calls done(status, reply length) on the reply. With
 * retry_ms > 0 it sends again every retry_ms, up to 5 times, then gives up with UV_ETIMEDOUT;
 * with 0 (the planted bug) it sends once and waits forever. */
typedef struct rpc {
    uv_udp_t udp;
    uv_timer_t timer;
    uv_udp_send_t req;
    struct sockaddr_in to;
    uint64_t retry_ms;
    int tries, done;
    ah_future *f;
} rpc;

static void rpc_closed(uv_handle_t *h) { (void)h; }

static void rpc_finish(rpc *c, int status, intptr_t value)
{
    if (c->done++)
        return;
    uv_close((uv_handle_t *)&c->udp, rpc_closed);
    uv_close((uv_handle_t *)&c->timer, rpc_closed);
    ah_future_settle(c->f, status, value);
}

static void rpc_sent(uv_udp_send_t *req, int status)
{
    (void)req;
    assert_true(status == 0 || status == UV_ECANCELED);
}

static void rpc_send(rpc *c)
{
    uv_buf_t b = uv_buf_init("ping", 4);

    c->tries++;
    /* a retry may go out while the previous send's callback is still queued: use try_send then */
    if (uv_udp_get_send_queue_count(&c->udp) == 0)
        assert_int_equal(uv_udp_send(&c->req, &c->udp, &b, 1, (struct sockaddr *)&c->to, rpc_sent),
                         0);
    else
        assert_int_equal(uv_udp_try_send(&c->udp, &b, 1, (struct sockaddr *)&c->to), UV_EAGAIN);
}

static void rpc_timer(uv_timer_t *t)
{
    rpc *c = t->data;

    if (c->tries >= 5) {
        rpc_finish(c, UV_ETIMEDOUT, 0);
        return;
    }
    rpc_send(c);
}

static void rpc_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                     unsigned flags)
{
    (void)buf, (void)flags;
    if (nread > 0 && addr != NULL)
        rpc_finish((rpc *)h, 0, (intptr_t)nread);
}

static void rpc_start(uv_loop_t *loop, rpc *c, const char *ip, int port, uint64_t retry_ms,
                      ah_future *f)
{
    memset(c, 0, sizeof(*c));
    c->retry_ms = retry_ms;
    c->f = f;
    uv_ip4_addr(ip, port, &c->to);
    uv_udp_init(loop, &c->udp);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    assert_int_equal(uv_udp_recv_start(&c->udp, alloc_cb, rpc_recv), 0);
    rpc_send(c);
    if (retry_ms > 0)
        uv_timer_start(&c->timer, rpc_timer, retry_ms, retry_ms);
}

static void close_server(ah_sim *sim, echo_server *s)
{
    uv_close((uv_handle_t *)&s->udp, NULL);
    ah_run_until_idle(sim);
}

/* ---- tests ---- */

static void request_reply_at_zero_latency(void **state)
{
    ah_sim *sim = *state;
    echo_server s;
    rpc c;
    ah_future *f = ah_future_new(sim);

    echo_start(uv_default_loop(), &s, "127.0.0.1", 9000);
    rpc_start(uv_default_loop(), &c, "127.0.0.1", 9000, 100, f);
    assert_int_equal(ah_await_value(sim, f), 7); /* "re:ping" */
    ah_assert_now_ms(sim, 0);
    close_server(sim, &s);
    assert_int_equal(ah_udp_get_stats(sim).sent, 2);
}

static void latency_delays_each_way(void **state)
{
    ah_sim *sim = *state;
    echo_server s;
    rpc c;
    ah_future *f = ah_future_new(sim);

    ah_udp_latency(sim, "127.0.0.1:9000", 30, 30); /* to the server */
    ah_udp_latency(sim, "127.0.0.1", 20, 20);      /* everything else on loopback */
    echo_start(uv_default_loop(), &s, "127.0.0.1", 9000);
    rpc_start(uv_default_loop(), &c, "127.0.0.1", 9000, 1000, f);
    assert_int_equal(ah_await_value(sim, f), 7);
    ah_assert_now_ms(sim, 50);
    close_server(sim, &s);
}

static void retrying_client_survives_a_lost_request(void **state)
{
    ah_sim *sim = *state;
    echo_server s;
    rpc c;
    ah_future *f = ah_future_new(sim);

    ah_udp_drop_next(sim, "127.0.0.1:9000", 2);
    echo_start(uv_default_loop(), &s, "127.0.0.1", 9000);
    rpc_start(uv_default_loop(), &c, "127.0.0.1", 9000, 100, f);
    assert_int_equal(ah_await_value(sim, f), 7);
    ah_assert_now_ms(sim, 200); /* the third try got through */
    assert_int_equal(ah_udp_get_stats(sim).lost, 2);
    close_server(sim, &s);
}

static void retrying_client_gives_up_under_total_loss(void **state)
{
    ah_sim *sim = *state;
    echo_server s;
    rpc c;
    ah_future *f = ah_future_new(sim);

    ah_udp_loss(sim, "*", 100);
    echo_start(uv_default_loop(), &s, "127.0.0.1", 9000);
    rpc_start(uv_default_loop(), &c, "127.0.0.1", 9000, 100, f);
    assert_int_equal(ah_await_error(sim, f), UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 500);
    close_server(sim, &s);
}

/* The planted bug: one request, no retry. */
static void one_shot_client_body(ah_sim *sim, void *ctx)
{
    static echo_server s;
    static rpc c;
    ah_future *f = ah_future_new(sim);
    uint64_t retry_ms = (uint64_t)(uintptr_t)ctx;

    ah_udp_loss(sim, "127.0.0.1:9000", 30);
    echo_start(uv_default_loop(), &s, "127.0.0.1", 9000);
    rpc_start(uv_default_loop(), &c, "127.0.0.1", 9000, retry_ms, f);
    if (ah_await(sim, f) != AH_FUTURE_FULFILLED)
        ah_fail(sim, "no reply");
    uv_close((uv_handle_t *)&s.udp, NULL);
    ah_run_until_idle(sim);
}

static void loss_fault_finds_a_client_that_never_retries(void **state)
{
    ah_explore_opts o = {.strategy = AH_STRATEGY_RANDOM,
                         .schedules = 40,
                         .ignore_env = 1,
                         .no_trace_file = 1,
                         .no_shrink = 1};
    ah_explore_result res;

    (void)state;
    assert_int_equal(ah_explore_run(&o, one_shot_client_body, (void *)(uintptr_t)0, &res), 1);
    fprintf(stderr, "  the explorer found it:\n%s\n", res.message);
    assert_non_null(strstr(res.message, "deadlock"));
    assert_non_null(strstr(res.message, "datagram(s) to 127.0.0.1:9000 were lost"));
    ah_explore_result_free(&res);
    /* the twin that retries passes every schedule */
    assert_int_equal(ah_explore_run(&o, one_shot_client_body, (void *)(uintptr_t)100, &res), 0);
    ah_explore_result_free(&res);
}

/* Two servers receive what one client sends; counts what each got. */
static unsigned got[4];
static char last[4][64];
static size_t last_n[4];
static unsigned last_flags[4];

static void count_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                       unsigned flags)
{
    int i = (int)(intptr_t)h->data;

    if (nread < 0 || addr == NULL)
        return;
    got[i]++;
    last_n[i] = (size_t)nread;
    last_flags[i] = flags;
    memcpy(last[i], buf->base, (size_t)nread < sizeof(last[i]) ? (size_t)nread : sizeof(last[i]));
}

static void rx_start(uv_udp_t *h, int i, const char *addr_ip, int port, unsigned flags)
{
    struct sockaddr_storage ss;

    got[i] = 0;
    h->data = (void *)(intptr_t)i;
    assert_int_equal(uv_udp_init(uv_default_loop(), h), 0);
    if (strchr(addr_ip, ':'))
        uv_ip6_addr(addr_ip, port, (struct sockaddr_in6 *)&ss);
    else
        uv_ip4_addr(addr_ip, port, (struct sockaddr_in *)&ss);
    assert_int_equal(uv_udp_bind(h, (const struct sockaddr *)&ss, flags), 0);
    assert_int_equal(uv_udp_recv_start(h, alloc_cb, count_recv), 0);
}

static void send_to(uv_udp_t *tx, const char *ip, int port, const void *data, size_t n)
{
    struct sockaddr_in a;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);

    uv_ip4_addr(ip, port, &a);
    assert_int_equal(uv_udp_try_send(tx, &b, 1, (const struct sockaddr *)&a), (int)n);
}

static void close_all(ah_sim *sim, uv_udp_t *hs, int n)
{
    int i;
    for (i = 0; i < n; i++)
        uv_close((uv_handle_t *)&hs[i], NULL);
    ah_run_until_idle(sim);
}

static void duplication_mtu_and_reordering(void **state)
{
    ah_sim *sim = *state;
    uv_udp_t h[2];
    char big[100];
    unsigned i, inversions = 0;
    char prev = 0;

    memset(big, 'x', sizeof(big));
    rx_start(&h[0], 0, "127.0.0.1", 7000, 0);
    assert_int_equal(uv_udp_init(uv_default_loop(), &h[1]), 0);

    ah_udp_duplicate(sim, "127.0.0.1:7000", 100);
    send_to(&h[1], "127.0.0.1", 7000, "dup", 3);
    ah_run_until_idle(sim);
    assert_int_equal(got[0], 2);
    ah_udp_clear(sim, "127.0.0.1:7000");

    ah_udp_mtu(sim, "127.0.0.1", 40);
    send_to(&h[1], "127.0.0.1", 7000, big, sizeof(big));
    ah_run_until_idle(sim);
    assert_int_equal(got[0], 3);
    assert_int_equal(last_n[0], 40);
    assert_int_equal(last_flags[0], 0); /* cut on the path: the receiver cannot tell */
    ah_udp_clear(sim, "127.0.0.1");

    /* With a reorder window, a later datagram may overtake an earlier one. */
    ah_udp_reorder(sim, "*", 50);
    got[0] = 0;
    for (i = 0; i < 20; i++) {
        char c = (char)('a' + i);
        send_to(&h[1], "127.0.0.1", 7000, &c, 1);
    }
    {
        /* read them one by one as they arrive */
        unsigned seen = 0;
        while (seen < 20) {
            ah_advance(sim, 1);
            while (seen < got[0]) {
                if (prev != 0 && last[0][0] < prev)
                    inversions++;
                prev = last[0][0];
                seen++;
            }
        }
    }
    assert_true(ah_now_ms(sim) <= 50);
    assert_true(inversions > 0);
    close_all(sim, h, 2);
}

static void receive_queue_overflows_while_not_reading(void **state)
{
    ah_sim *sim = *state;
    uv_udp_t rx, tx;
    struct sockaddr_in a;
    static char chunk[60000];
    uv_buf_t b = uv_buf_init(chunk, sizeof(chunk));
    int i;

    uv_ip4_addr("127.0.0.1", 7100, &a);
    uv_udp_init(uv_default_loop(), &rx);
    uv_udp_init(uv_default_loop(), &tx);
    assert_int_equal(uv_udp_bind(&rx, (const struct sockaddr *)&a, 0), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(uv_udp_try_send(&tx, &b, 1, (const struct sockaddr *)&a), 60000);
    got[0] = 0;
    rx.data = (void *)(intptr_t)0;
    /* They reach the receive queue when the loop polls next, before the read. */
    assert_int_equal(uv_udp_recv_start(&rx, alloc_cb, count_recv), 0);
    ah_run_until_idle(sim);
    assert_int_equal(ah_udp_get_stats(sim).overflowed, 2); /* 3 x 60000 fit in 208 KiB */
    assert_int_equal(got[0], 3);
    uv_close((uv_handle_t *)&rx, NULL);
    uv_close((uv_handle_t *)&tx, NULL);
    ah_run_until_idle(sim);
}

static void broadcast_and_multicast_stay_inside_the_sim(void **state)
{
    ah_sim *sim = *state;
    uv_udp_t h[3];
    struct sockaddr_in g;
    uv_buf_t b = uv_buf_init("hi", 2);

    rx_start(&h[0], 0, "0.0.0.0", 7200, UV_UDP_REUSEADDR);
    rx_start(&h[1], 1, "0.0.0.0", 7200, UV_UDP_REUSEADDR);
    assert_int_equal(uv_udp_init(uv_default_loop(), &h[2]), 0);
    /* broadcast: both wildcard sockets on the port */
    assert_int_equal(
        uv_udp_bind(&h[2], (const struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET},
                    0),
        0);
    uv_ip4_addr("255.255.255.255", 7200, &g);
    assert_int_equal(uv_udp_try_send(&h[2], &b, 1, (const struct sockaddr *)&g), UV_EACCES);
    assert_int_equal(uv_udp_set_broadcast(&h[2], 1), 0);
    assert_int_equal(uv_udp_try_send(&h[2], &b, 1, (const struct sockaddr *)&g), 2);
    ah_run_until_idle(sim);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 1);
    /* unicast to a shared port: the socket bound last */
    send_to(&h[2], "127.0.0.1", 7200, "u", 1);
    ah_run_until_idle(sim);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 2);
    /* multicast: members only; with IP_MULTICAST_LOOP off, nobody on this host */
    assert_int_equal(uv_udp_set_membership(&h[0], "239.1.2.3", NULL, UV_JOIN_GROUP), 0);
    uv_ip4_addr("239.1.2.3", 7200, &g);
    assert_int_equal(uv_udp_try_send(&h[2], &b, 1, (const struct sockaddr *)&g), 2);
    ah_run_until_idle(sim);
    assert_int_equal(got[0], 2);
    assert_int_equal(got[1], 2);
    assert_int_equal(uv_udp_set_multicast_loop(&h[2], 0), 0);
    assert_int_equal(uv_udp_try_send(&h[2], &b, 1, (const struct sockaddr *)&g), 2);
    ah_run_until_idle(sim);
    assert_int_equal(got[0], 2);
    /* source-specific membership: only from the given source */
    assert_int_equal(uv_udp_set_multicast_loop(&h[2], 1), 0);
    assert_int_equal(
        uv_udp_set_source_membership(&h[1], "239.1.2.4", NULL, "10.9.9.9", UV_JOIN_GROUP), 0);
    uv_ip4_addr("239.1.2.4", 7200, &g);
    assert_int_equal(uv_udp_try_send(&h[2], &b, 1, (const struct sockaddr *)&g), 2);
    ah_run_until_idle(sim);
    assert_int_equal(got[1], 2);
    close_all(sim, h, 3);
}

static void ipv6_socket_sees_ipv4_senders_as_mapped(void **state)
{
    ah_sim *sim = *state;
    uv_udp_t h[2];
    struct sockaddr_in6 me;
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    rx_start(&h[0], 0, "::", 7300, 0);
    assert_int_equal(uv_udp_init(uv_default_loop(), &h[1]), 0);
    send_to(&h[1], "127.0.0.1", 7300, "v4", 2);
    ah_run_until_idle(sim);
    assert_int_equal(got[0], 1);
    assert_int_equal(uv_udp_getsockname(&h[0], (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(me));
    close_all(sim, h, 2);
}

static void recvmmsg_with_a_small_buffer_body(ah_sim *sim, void *ctx)
{
    uv_udp_t rx, tx;
    struct sockaddr_in a;

    (void)ctx;
    uv_ip4_addr("127.0.0.1", 7400, &a);
    uv_udp_init_ex(uv_default_loop(), &rx, AF_INET | UV_UDP_RECVMMSG);
    uv_udp_init(uv_default_loop(), &tx);
    uv_udp_bind(&rx, (const struct sockaddr *)&a, 0);
    rx.data = (void *)(intptr_t)0;
    uv_udp_recv_start(&rx, alloc_cb, count_recv); /* 65536 bytes: one chunk, fine */
    send_to(&tx, "127.0.0.1", 7400, "x", 1);
    ah_run_until_idle(sim);
    uv_close((uv_handle_t *)&rx, NULL);
    uv_close((uv_handle_t *)&tx, NULL);
    ah_run_until_idle(sim);
}

static char tiny[100];
static void tiny_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init(tiny, sizeof(tiny));
}

static void recvmmsg_with_a_tiny_buffer_body(ah_sim *sim, void *ctx)
{
    uv_udp_t rx, tx;
    struct sockaddr_in a;

    (void)ctx;
    uv_ip4_addr("127.0.0.1", 7400, &a);
    uv_udp_init_ex(uv_default_loop(), &rx, AF_INET | UV_UDP_RECVMMSG);
    uv_udp_init(uv_default_loop(), &tx);
    uv_udp_bind(&rx, (const struct sockaddr *)&a, 0);
    rx.data = (void *)(intptr_t)0;
    uv_udp_recv_start(&rx, tiny_alloc, count_recv);
    send_to(&tx, "127.0.0.1", 7400, "x", 1);
    ah_run_until_idle(sim);
}

static void misuse_is_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, recvmmsg_with_a_tiny_buffer_body, NULL,
                         "its alloc_cb gave a buffer of 100 bytes");
    ah_assert_fails_with(NULL, recvmmsg_with_a_tiny_buffer_body, NULL,
                         "uv_udp_t #1 [udp 127.0.0.1:7400]");
    ah_assert_passes(NULL, recvmmsg_with_a_small_buffer_body, NULL);
}

static void close_cancels_queued_sends(void **state)
{
    ah_sim *sim = *state;
    uv_udp_t tx;
    uv_udp_send_t r[2];
    struct sockaddr_in a;
    uv_buf_t b = uv_buf_init("x", 1);

    got[0] = got[1] = 0;
    uv_ip4_addr("127.0.0.1", 7500, &a);
    uv_udp_init(uv_default_loop(), &tx);
    assert_int_equal(uv_udp_send(&r[0], &tx, &b, 1, (const struct sockaddr *)&a, echo_sent), 0);
    assert_int_equal(uv_udp_send(&r[1], &tx, &b, 1, (const struct sockaddr *)&a, NULL), 0);
    assert_int_equal(uv_udp_get_send_queue_count(&tx), 2);
    uv_close((uv_handle_t *)&tx, NULL);
    ah_run_until_idle(sim);
    assert_int_equal(tx.send_queue_count, 0);
    assert_int_equal(ah_udp_get_stats(sim).sent, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(request_reply_at_zero_latency),
        ah_unit_test(latency_delays_each_way),
        ah_unit_test(retrying_client_survives_a_lost_request),
        ah_unit_test(retrying_client_gives_up_under_total_loss),
        ah_unit_test(loss_fault_finds_a_client_that_never_retries),
        ah_unit_test(duplication_mtu_and_reordering),
        ah_unit_test(receive_queue_overflows_while_not_reading),
        ah_unit_test(broadcast_and_multicast_stay_inside_the_sim),
        ah_unit_test(ipv6_socket_sees_ipv4_senders_as_mapped),
        ah_unit_test(misuse_is_reported),
        ah_unit_test(close_cancels_queued_sends),
    };
    return ah_run_tests(tests);
}
