/* Every fault of the fake network, one test each: latency and jitter drawn from the oracle,
 * refused and timed-out connects, resets, EOF, chunked reads (fixed and drawn), short
 * uv_try_write, write errors, hold and release, partitions. */
#include "netkit.h"

#include <stdlib.h>

static tclient cl;
static ah_peer *peer;

/* A peer at `addr` that expects `req`, replies `resp` and closes. */
static ah_peer *serve(ah_sim *sim, const char *addr, const char *req, const char *resp)
{
    ah_peer *p = ah_net_listen(sim, addr);
    ah_peer_expect(p, req);
    ah_peer_reply(p, resp);
    ah_peer_close(p);
    netlog[0] = '\0';
    return p;
}

static void latency_delays_the_connect_and_every_segment(void **state)
{
    ah_sim *sim = *state;

    serve(sim, "127.0.0.1:6379", "a", "b");
    ah_net_latency(sim, "127.0.0.1:6379", 10, 10);
    tc_connect(&cl, "127.0.0.1", 6379, "a");
    ah_run_until_idle(sim);
    /* connect: a round trip (20); "a" reaches the peer at 30, "b" and the FIN come back at 40 */
    assert_log("20 connect 0|20 write 0|40 read 1|40 read EOF|40 close");
}

static uint64_t reply_ms;

static void on_jittered(ah_sim *sim, void *ctx)
{
    (void)ctx;
    serve(sim, "127.0.0.1:6379", "a", "b");
    ah_net_latency(sim, "127.0.0.1:6379", 5, 50);
    tc_connect(&cl, "127.0.0.1", 6379, "a");
    ah_run_until_idle(sim);
    reply_ms = ah_now_ms(sim);
}

static void jitter_is_drawn_from_the_seeded_oracle_within_its_range(void **state)
{
    ah_sim_opts opts = {0};
    uint64_t first[8], seen_min = UINT64_MAX, seen_max = 0;
    int i;

    (void)state;
    for (i = 0; i < 8; i++) {
        opts.seed = (uint64_t)i + 1;
        ah_assert_passes(&opts, on_jittered, NULL);
        first[i] = reply_ms;
        /* four one-way trips, each in [5, 50] */
        assert_in_range(reply_ms, 20, 200);
        seen_min = reply_ms < seen_min ? reply_ms : seen_min;
        seen_max = reply_ms > seen_max ? reply_ms : seen_max;
    }
    assert_true(seen_min < seen_max); /* the seed matters */
    for (i = 0; i < 8; i++) {
        opts.seed = (uint64_t)i + 1;
        ah_assert_passes(&opts, on_jittered, NULL);
        assert_int_equal(reply_ms, first[i]); /* and replays */
    }
}

static void stream_latency_overrides_the_address(void **state)
{
    ah_sim *sim = *state;

    serve(sim, "127.0.0.1:6379", "a", "b");
    ah_net_latency(sim, "127.0.0.1:6379", 100, 100);
    cl.send_on_connect = NULL;
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim); /* connected at 200 */
    ah_net_stream_latency((uv_stream_t *)&cl.tcp, 1, 1);
    assert_int_equal(tc_write(&cl, "a"), 0);
    ah_run_until_idle(sim);
    assert_log("200 connect 0|200 write 0|202 read 1|202 read EOF|202 close");
}

static void refuse_fails_the_connect_even_with_a_listener(void **state)
{
    ah_sim *sim = *state;

    ah_net_listen(sim, "127.0.0.1:6379");
    ah_net_refuse(sim, "127.0.0.1:6379");
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    assert_log("0 connect ECONNREFUSED|0 close");
}

static void refused_connect_takes_a_round_trip_with_latency(void **state)
{
    ah_sim *sim = *state;

    ah_net_latency(sim, "10.0.0.5:80", 15, 15);
    netlog[0] = '\0';
    tc_connect(&cl, "10.0.0.5", 80, NULL);
    ah_run_until_idle(sim);
    assert_log("30 connect ECONNREFUSED|30 close");
}

static uv_timer_t give_up;

static void on_give_up(uv_timer_t *t)
{
    netlog_add("timeout");
    tc_close(&cl);
    uv_close((uv_handle_t *)t, NULL);
}

static void connect_timeout_leaves_the_client_to_its_own_timer(void **state)
{
    ah_sim *sim = *state;

    ah_net_listen(sim, "127.0.0.1:6379");
    ah_net_connect_timeout(sim, "127.0.0.1:6379");
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    uv_timer_init(uv_default_loop(), &give_up);
    uv_timer_start(&give_up, on_give_up, 5000, 0);
    ah_run_until_idle(sim);
    assert_log("5000 timeout|5000 connect ECANCELED|5000 close");
}

static void clearing_a_connect_timeout_lets_the_connect_proceed(void **state)
{
    ah_sim *sim = *state;

    serve(sim, "127.0.0.1:6379", "a", "b");
    ah_net_connect_timeout(sim, "127.0.0.1:6379");
    tc_connect(&cl, "127.0.0.1", 6379, "a");
    ah_advance(sim, 700);
    assert_log("");
    ah_net_clear(sim, "127.0.0.1:6379");
    ah_run_until_idle(sim);
    assert_log("700 connect 0|700 write 0|700 read 1|700 read EOF|700 close");
}

static void reset_gives_the_reader_econnreset(void **state)
{
    ah_sim *sim = *state;

    peer = ah_net_listen(sim, "127.0.0.1:6379");
    ah_peer_expect(peer, "never sent");
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_advance(sim, 10);
    ah_net_reset(sim, "127.0.0.1:6379"); /* the script cut short is not reported */
    ah_run_until_idle(sim);
    assert_log("0 connect 0|10 read ECONNRESET|10 close");
}

static void reset_all_resets_every_connection(void **state)
{
    ah_sim *sim = *state;
    static tclient c2;

    ah_peer_stall(ah_net_listen(sim, "127.0.0.1:1"));
    ah_net_listen(sim, "127.0.0.1:2");
    tc_connect(&cl, "127.0.0.1", 1, NULL);
    tc_connect(&c2, "127.0.0.1", 2, NULL);
    ah_run_until_idle(sim);
    ah_net_reset_all(sim);
    ah_run_until_idle(sim);
    assert_int_equal(cl.read_error, UV_ECONNRESET);
    assert_int_equal(c2.read_error, UV_ECONNRESET);
}

static void peer_close_gives_the_reader_eof(void **state)
{
    ah_sim *sim = *state;

    peer = ah_net_listen(sim, "127.0.0.1:6379");
    ah_peer_reply_after(peer, 30, "last");
    ah_peer_close(peer);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    assert_log("0 connect 0|30 read 4|30 read EOF|30 close");
}

static void peer_reset_gives_the_reader_econnreset(void **state)
{
    ah_sim *sim = *state;

    peer = ah_net_listen(sim, "127.0.0.1:6379");
    ah_peer_delay(peer, 5);
    ah_peer_reset(peer);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    assert_log("0 connect 0|5 read ECONNRESET|5 close");
}

static void chunking_splits_reads_into_fixed_sizes(void **state)
{
    ah_sim *sim = *state;

    serve(sim, "127.0.0.1:6379", "go", "abcdefgh");
    ah_net_chunking(sim, "127.0.0.1:6379", 3);
    tc_connect(&cl, "127.0.0.1", 6379, "go");
    ah_run_until_idle(sim);
    assert_log("0 connect 0|0 write 0|0 read 3|0 read 3|0 read 2|0 read EOF|0 close");
    assert_memory_equal(cl.in, "abcdefgh", 8);
}

static char chunk_log[4][256];

static void on_random_chunks(ah_sim *sim, void *ctx)
{
    char *out = ctx;

    serve(sim, "127.0.0.1:6379", "go", "0123456789abcdefghij");
    ah_net_chunking_random(sim, "127.0.0.1:6379", 6);
    tc_connect(&cl, "127.0.0.1", 6379, "go");
    ah_run_until_idle(sim);
    assert_int_equal(cl.got, 20);
    assert_memory_equal(cl.in, "0123456789abcdefghij", 20);
    memcpy(out, netlog, 255);
    out[255] = '\0';
}

static void random_chunking_draws_sizes_from_the_oracle(void **state)
{
    ah_sim_opts opts = {0};
    const char *p;
    int i, distinct = 0;

    (void)state;
    for (i = 0; i < 4; i++) {
        opts.seed = (uint64_t)i + 11;
        ah_assert_passes(&opts, on_random_chunks, chunk_log[i]);
        for (p = chunk_log[i]; (p = strstr(p, "read ")) != NULL; p += 5)
            if (p[5] >= '0' && p[5] <= '9')
                assert_in_range(atoi(p + 5), 1, 6);
        if (i > 0 && strcmp(chunk_log[i], chunk_log[0]) != 0)
            distinct = 1;
    }
    assert_true(distinct);
    opts.seed = 11;
    {
        char again[256];
        ah_assert_passes(&opts, on_random_chunks, again);
        assert_string_equal(again, chunk_log[0]);
    }
}

static void short_write_limits_try_write(void **state)
{
    ah_sim *sim = *state;
    uv_buf_t b = uv_buf_init("hello", 5);

    ah_peer_stall(ah_net_listen(sim, "127.0.0.1:6379"));
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    ah_net_short_write(sim, "127.0.0.1:6379", 2);
    assert_int_equal(uv_try_write((uv_stream_t *)&cl.tcp, &b, 1), 2);
    ah_net_short_write(sim, "127.0.0.1:6379", 0);
    assert_int_equal(uv_try_write((uv_stream_t *)&cl.tcp, &b, 1), UV_EAGAIN);
    ah_net_clear(sim, "127.0.0.1:6379");
    assert_int_equal(uv_try_write((uv_stream_t *)&cl.tcp, &b, 1), 5);
    tc_close(&cl);
    ah_run_until_idle(sim);
}

static void write_error_fails_the_next_write_then_epipe(void **state)
{
    ah_sim *sim = *state;
    uv_buf_t b = uv_buf_init("x", 1);

    ah_peer_stall(ah_net_listen(sim, "127.0.0.1:6379"));
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    ah_net_write_error(sim, "127.0.0.1:6379", UV_ECONNRESET);
    assert_int_equal(tc_write(&cl, "a"), 0);
    assert_int_equal(tc_write(&cl, "b"), 0);
    ah_run_ready(sim);
    assert_int_equal(uv_try_write((uv_stream_t *)&cl.tcp, &b, 1), UV_EPIPE);
    tc_close(&cl);
    ah_run_until_idle(sim);
    assert_log("0 connect 0|0 write ECONNRESET|0 write EPIPE|0 close");
}

static void write_error_epipe_on_try_write(void **state)
{
    ah_sim *sim = *state;
    uv_buf_t b = uv_buf_init("x", 1);

    ah_peer_stall(ah_net_listen(sim, "127.0.0.1:6379"));
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    ah_net_write_error(sim, "127.0.0.1:6379", UV_EPIPE);
    assert_int_equal(uv_try_write((uv_stream_t *)&cl.tcp, &b, 1), UV_EPIPE);
    tc_close(&cl);
    ah_run_until_idle(sim);
}

static void hold_keeps_bytes_in_flight_until_release(void **state)
{
    ah_sim *sim = *state;

    serve(sim, "127.0.0.1:6379", "a", "b");
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    ah_net_hold(sim, "127.0.0.1:6379");
    assert_int_equal(tc_write(&cl, "a"), 0);
    ah_advance(sim, 1000);
    assert_log("0 connect 0|0 write 0");
    ah_net_release(sim, "127.0.0.1:6379");
    ah_run_until_idle(sim);
    assert_log("0 connect 0|0 write 0|1000 read 1|1000 read EOF|1000 close");
}

static void partition_stalls_connects_and_bytes_until_healed(void **state)
{
    ah_sim *sim = *state;

    serve(sim, "10.0.0.5:6379", "a", "b");
    ah_net_partition(sim, "10.0.0.1", "10.0.0.5");
    tc_connect(&cl, "10.0.0.5", 6379, NULL);
    ah_advance(sim, 100);
    assert_log("");
    ah_net_heal(sim, "10.0.0.5", "10.0.0.1");
    ah_run_until_idle(sim);
    assert_log("100 connect 0");
    ah_net_partition(sim, "*", "10.0.0.5:6379");
    assert_int_equal(tc_write(&cl, "a"), 0);
    ah_advance(sim, 100);
    assert_log("100 connect 0|100 write 0");
    ah_net_heal(sim, NULL, NULL);
    ah_run_until_idle(sim);
    assert_log("100 connect 0|100 write 0|200 read 1|200 read EOF|200 close");
}

static void partition_leaves_other_addresses_alone(void **state)
{
    ah_sim *sim = *state;

    serve(sim, "10.0.0.6:1", "a", "b");
    ah_net_partition(sim, "10.0.0.1", "10.0.0.5");
    tc_connect(&cl, "10.0.0.6", 1, "a");
    ah_run_until_idle(sim);
    assert_log("0 connect 0|0 write 0|0 read 1|0 read EOF|0 close");
}

static int got_reply(void *ctx)
{
    (void)ctx;
    return cl.got > 0;
}

static void wait_for_a_reply(ah_sim *sim, void *ctx)
{
    serve(sim, "127.0.0.1:6379", "a", "b");
    if (ctx == (void *)1)
        ah_net_connect_timeout(sim, "127.0.0.1:6379");
    tc_connect(&cl, "127.0.0.1", 6379, ctx == (void *)2 ? NULL : "a");
    if (ctx == (void *)2) {
        ah_run_until_idle(sim);
        ah_net_hold(sim, "127.0.0.1:6379");
        assert_int_equal(tc_write(&cl, "a"), 0);
    }
    ah_run_until(sim, got_reply, NULL);
    tc_close(&cl);
    ah_run_until_idle(sim);
}

static void deadlock_report_names_what_the_network_holds(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, wait_for_a_reply, (void *)1,
                         "a connect to 127.0.0.1:6379 never completes (ah_net_connect_timeout)");
    ah_assert_fails_with(NULL, wait_for_a_reply, (void *)2,
                         "1 bytes from the client held in flight (ah_net_hold)");
    ah_assert_fails_with(NULL, wait_for_a_reply, (void *)2, "waits for the client to send \"a\"");
    ah_assert_passes(NULL, wait_for_a_reply, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(latency_delays_the_connect_and_every_segment),
        ah_unit_test(jitter_is_drawn_from_the_seeded_oracle_within_its_range),
        ah_unit_test(stream_latency_overrides_the_address),
        ah_unit_test(refuse_fails_the_connect_even_with_a_listener),
        ah_unit_test(refused_connect_takes_a_round_trip_with_latency),
        ah_unit_test(connect_timeout_leaves_the_client_to_its_own_timer),
        ah_unit_test(clearing_a_connect_timeout_lets_the_connect_proceed),
        ah_unit_test(reset_gives_the_reader_econnreset),
        ah_unit_test(reset_all_resets_every_connection),
        ah_unit_test(peer_close_gives_the_reader_eof),
        ah_unit_test(peer_reset_gives_the_reader_econnreset),
        ah_unit_test(chunking_splits_reads_into_fixed_sizes),
        ah_unit_test(random_chunking_draws_sizes_from_the_oracle),
        ah_unit_test(short_write_limits_try_write),
        ah_unit_test(write_error_fails_the_next_write_then_epipe),
        ah_unit_test(write_error_epipe_on_try_write),
        ah_unit_test(hold_keeps_bytes_in_flight_until_release),
        ah_unit_test(partition_stalls_connects_and_bytes_until_healed),
        ah_unit_test(partition_leaves_other_addresses_alone),
        ah_unit_test(deadlock_report_names_what_the_network_holds),
    };
    return ah_run_tests(tests);
}
