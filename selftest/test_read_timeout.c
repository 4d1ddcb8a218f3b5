/* A client's read-timeout path, written in plain libuv (a timer started with the request,
 * stopped by the reply), fires at the exact virtual instant when the server stalls: the 5 s
 * timeout costs no wall time, and ah_assert_now_ms pins the instant. */
#include "netkit.h"

typedef struct rt_client {
    tclient c;
    uv_timer_t timer;
    int timed_out, replied;
} rt_client;

static rt_client rc;

static void rt_timer_closed(uv_handle_t *h) { (void)h; }

static void rt_timeout(uv_timer_t *t)
{
    (void)t;
    rc.timed_out = 1;
    netlog_add("read timeout");
    tc_close(&rc.c);
    uv_close((uv_handle_t *)&rc.timer, rt_timer_closed);
}

static void rt_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread > 0) {
        rc.replied = 1;
        netlog_add("reply %d", (int)nread);
        uv_timer_stop(&rc.timer);
        uv_close((uv_handle_t *)&rc.timer, rt_timer_closed);
        uv_close((uv_handle_t *)s, tc_on_close);
    }
}

static void rt_connected(uv_connect_t *req, int status)
{
    assert_int_equal(status, 0);
    netlog_add("connected");
    assert_int_equal(tc_write(&rc.c, "GET\r\n"), 0);
    assert_int_equal(uv_read_start(req->handle, tc_alloc, rt_read), 0);
    uv_timer_start(&rc.timer, rt_timeout, 5000, 0);
}

/* The client under test: connect, send a request, wait 5000 ms for a reply. */
static void rt_start(void)
{
    struct sockaddr_in a;

    memset(&rc, 0, sizeof(rc));
    netlog[0] = '\0';
    uv_tcp_init(uv_default_loop(), &rc.c.tcp);
    rc.c.tcp.data = &rc.c;
    uv_timer_init(uv_default_loop(), &rc.timer);
    uv_ip4_addr("127.0.0.1", 6379, &a);
    assert_int_equal(
        uv_tcp_connect(&rc.c.creq, &rc.c.tcp, (const struct sockaddr *)&a, rt_connected), 0);
}

static int timed_out(void *ctx)
{
    (void)ctx;
    return rc.timed_out;
}

static void read_timeout_fires_at_the_exact_instant_under_a_stall(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "GET\r\n");
    ah_peer_stall(p);
    ah_net_latency(sim, "127.0.0.1:6379", 10, 10);
    rt_start();
    ah_run_until(sim, timed_out, NULL);
    ah_assert_now_ms(sim, 20 + 5000); /* connected after a round trip, then exactly 5 s */
    ah_run_until_idle(sim);           /* the client's FIN reaches the stalled peer 10 ms later */
    ah_assert_now_ms(sim, 5030);
    assert_log("20 connected|20 write 0|5020 read timeout|5020 close");
}

static void stalled_then_timed_out(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "GET\r\n");
    ah_peer_stall(p);
    rt_start();
    ah_run_until_idle(sim);
    ah_assert_now_ms(sim, ctx != NULL ? 5000 : 4999);
}

static void the_instant_is_checked_to_the_millisecond(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, stalled_then_timed_out, NULL, "4999");
    ah_assert_passes(NULL, stalled_then_timed_out, (void *)1);
}

static void a_reply_in_time_stops_the_timeout(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "GET\r\n");
    ah_peer_reply_after(p, 4999, "+OK\r\n");
    ah_peer_stall(p);
    rt_start();
    ah_run_until_idle(sim);
    assert_false(rc.timed_out);
    assert_log("0 connected|0 write 0|4999 reply 5|4999 close");
    ah_assert_now_ms(sim, 4999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(read_timeout_fires_at_the_exact_instant_under_a_stall),
        ah_unit_test(the_instant_is_checked_to_the_millisecond),
        ah_unit_test(a_reply_in_time_stops_the_timeout),
    };
    return ah_run_tests(tests);
}
