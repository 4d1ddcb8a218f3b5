/* A sim freed in the middle of things: a failed test leaves network events and mock completions
 * queued on its loop. Freeing it must not touch memory it already released (found by
 * fuzz/fuzz_ops: the fake network freed its sockets with their events still in the loop's heap,
 * and the mocks' teardown then walked the heap through them). Valgrind and ASan judge. */
#include <ah/ah.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static uv_tcp_t client;
static uv_connect_t creq;

static void on_connect(uv_connect_t *req, int status)
{
    (void)req;
    (void)status;
}

static void db_query(ah_future **out) { *out = ah_mock_async(); }

static void fail_with_everything_queued(ah_sim *sim, void *ctx)
{
    struct sockaddr_in sa;
    ah_future *f;
    ah_peer *p;

    (void)ctx;
    /* The mocks first: the sim frees its extensions in reverse order, the network first. */
    ah_will_resolve(db_query, 1, 10);
    db_query(&f);
    p = ah_net_listen(sim, "127.0.0.1:7000");
    ah_peer_expect(p, "x");
    ah_net_latency(sim, "127.0.0.1:7000", 5, 5);
    uv_tcp_init(uv_default_loop(), &client);
    uv_ip4_addr("127.0.0.1", 7000, &sa);
    uv_tcp_connect(&creq, &client, (const struct sockaddr *)&sa, on_connect);
    ah_run_ready(sim);
    ah_fail(sim, "planted: the test fails with a connection and a mock completion queued");
}

/* The same with a future's timeout registered first and a scripted peer's reply delay pending. */
static void fail_with_peer_delay_queued(ah_sim *sim, void *ctx)
{
    struct sockaddr_in sa;
    ah_future *f = ah_with_timeout(sim, ah_future_new(sim), 100);
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:7000");

    (void)ctx;
    ah_future_detach(f);
    ah_peer_reply_after(p, 50, "late");
    uv_tcp_init(uv_default_loop(), &client);
    uv_ip4_addr("127.0.0.1", 7000, &sa);
    uv_tcp_connect(&creq, &client, (const struct sockaddr *)&sa, on_connect);
    ah_advance(sim, 10);
    ah_fail(sim, "planted: the test fails with a peer's delay queued");
}

static void sim_freed_with_events_queued_is_clean(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, fail_with_everything_queued, NULL, "planted: the test fails");
    ah_assert_fails_with(NULL, fail_with_peer_delay_queued, NULL, "planted: the test fails");
}

int main(void)
{
    const struct CMUnitTest tests[] = {ah_unit_test(sim_freed_with_events_queued_is_clean)};
    return ah_run_tests(tests);
}
