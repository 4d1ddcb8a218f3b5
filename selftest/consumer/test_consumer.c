/* The consumer project's tests: ping.c (plain libuv) on the harness, as an outside project writes
 * them. make check builds this project from an installed prefix (find_package and pkg-config) and
 * through FetchContent (selftest/consumer/run.sh). */
#include <ah/ah.h>
#include <cmocka.h>

#include "ping.h"

static int status_of_ping = 1;

static void done(ping_t *p, int status)
{
    (void)p;
    status_of_ping = status;
}

static void pong_comes_back(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, "127.0.0.1:7000"); /* mocks/: the fake network */
    ping_t p;

    ah_peer_expect(srv, "ping\n");
    ah_peer_reply(srv, "pong\n");
    ah_net_latency(sim, "127.0.0.1:7000", 10, 10);
    assert_int_equal(ping(uv_default_loop(), &p, "127.0.0.1", 7000, 2000, done), 0);
    ah_run_until_idle(sim);
    assert_int_equal(status_of_ping, 0);
}

static void silent_server_times_out(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, "127.0.0.1:7000");
    ping_t p;

    ah_peer_expect(srv, "ping\n"); /* ...and never answers */
    assert_int_equal(ping(uv_default_loop(), &p, "127.0.0.1", 7000, 2000, done), 0);
    ah_run_until_idle(sim);
    assert_int_equal(status_of_ping, UV_ETIMEDOUT);
    ah_assert_now_ms(sim, 2000);
}

/* The force-included ah/sites.h reached this file: the report names this file and line. */
static uv_timer_t forgotten;
static void forget_a_timer(ah_sim *sim, void *ctx)
{
    (void)sim;
    (void)ctx;
    uv_timer_init(uv_default_loop(), &forgotten);
}

static void leak_report_names_the_call_site(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, forget_a_timer, NULL, "test_consumer.c:");
}

/* Explored: every schedule of the jittered latency must still get its pong. */
static void pong_under_jitter(void **state)
{
    ah_sim *sim = *state;
    ah_peer *srv = ah_net_listen(sim, "127.0.0.1:7000");
    ping_t p;

    ah_peer_expect(srv, "ping\n");
    ah_peer_reply(srv, "pong\n");
    ah_net_latency(sim, "127.0.0.1:7000", 1, 50);
    status_of_ping = 1;
    assert_int_equal(ping(uv_default_loop(), &p, "127.0.0.1", 7000, 2000, done), 0);
    ah_run_until_idle(sim);
    assert_int_equal(status_of_ping, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(pong_comes_back),
        ah_unit_test(silent_server_times_out),
        ah_unit_test(leak_report_names_the_call_site),
        ah_explore_test(pong_under_jitter),
    };
    return ah_run_tests(tests);
}
