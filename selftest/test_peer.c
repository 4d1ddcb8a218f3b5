/* Scripted peers: a listener owned by the sim that expects bytes (in any chunking), replies
 * after a delay, closes, resets or stalls, one script per connection. A wrong byte fails the test
 * showing expected and received bytes escaped; a script not used up fails it at teardown. */
#include "netkit.h"

static tclient cl;

static void peer_answers_an_expected_request(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "PING\r\n");
    ah_peer_reply(p, "+PONG\r\n");
    ah_peer_close(p);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, "PING\r\n");
    ah_run_until_idle(sim);
    assert_log("0 connect 0|0 write 0|0 read 7|0 read EOF|0 close");
    assert_memory_equal(cl.in, "+PONG\r\n", 7);
    assert_int_equal(ah_peer_accept_count(p), 1);
}

static void peer_reply_after_waits_its_delay(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "a");
    ah_peer_reply_after(p, 50, "b");
    ah_peer_delay(p, 25);
    ah_peer_reply_after_n(p, 0, "c\0d", 3);
    ah_peer_close(p);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, "a");
    ah_run_until_idle(sim);
    assert_log("0 connect 0|0 write 0|50 read 1|75 read 3|75 read EOF|75 close");
    assert_memory_equal(cl.in, "bc\0d", 4);
    ah_assert_now_ms(sim, 75);
}

static void peer_expect_matches_the_bytes_in_any_chunking(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "hello world");
    ah_peer_expect_eof(p);
    ah_peer_reply(p, "bye");
    ah_peer_close(p);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, "hel");
    ah_run_until_idle(sim); /* the peer has 3 of 11 bytes and waits */
    assert_int_equal(tc_write(&cl, "lo w"), 0);
    assert_int_equal(tc_write(&cl, "orld"), 0);
    assert_int_equal(uv_shutdown(&cl.sreq, (uv_stream_t *)&cl.tcp, NULL), 0);
    ah_run_until_idle(sim);
    assert_memory_equal(cl.in, "bye", 3);
    assert_int_equal(cl.read_error, UV_EOF);
}

static void peer_scripts_each_connection_in_turn(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");
    static tclient c2;

    ah_peer_expect(p, "one");
    ah_peer_reset(p);
    ah_peer_next_connection(p);
    ah_peer_expect(p, "two");
    ah_peer_reply(p, "2");
    ah_peer_close(p);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, "one");
    ah_run_until_idle(sim);
    assert_int_equal(cl.read_error, UV_ECONNRESET);
    tc_connect(&c2, "127.0.0.1", 6379, "two");
    ah_run_until_idle(sim);
    assert_int_equal(c2.read_error, UV_EOF);
    assert_memory_equal(c2.in, "2", 1);
    assert_int_equal(ah_peer_accept_count(p), 2);
}

static void peer_repeat_serves_every_further_connection(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");
    int i;

    ah_peer_expect(p, "q");
    ah_peer_reply(p, "r");
    ah_peer_close(p);
    ah_peer_repeat(p);
    for (i = 0; i < 3; i++) {
        tc_connect(&cl, "127.0.0.1", 6379, "q");
        ah_run_until_idle(sim);
        assert_int_equal(cl.got, 1);
        assert_int_equal(cl.read_error, UV_EOF);
    }
    assert_int_equal(ah_peer_accept_count(p), 3);
}

static void peer_stall_takes_bytes_and_never_answers(void **state)
{
    ah_sim *sim = *state;
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "x");
    ah_peer_stall(p);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, "xyz");
    ah_advance(sim, 60000);
    assert_log("0 connect 0|0 write 0");
    tc_close(&cl);
    ah_run_until_idle(sim);
}

static void unlisten_refuses_later_connects(void **state)
{
    ah_sim *sim = *state;
    ah_net_listen(sim, "127.0.0.1:6379");
    ah_net_unlisten(sim, "127.0.0.1:6379");
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, NULL);
    ah_run_until_idle(sim);
    assert_log("0 connect ECONNREFUSED|0 close");
}

static uv_timer_t give_up;

static void on_give_up(uv_timer_t *t)
{
    netlog_add("give up");
    tc_close(&cl);
    uv_close((uv_handle_t *)t, NULL);
}

static void late_reply_after_the_client_gave_up(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "GET\r\n");
    ah_peer_reply_after(p, 10000, "late");
    if (ctx == NULL)
        ah_peer_expect(p, "QUIT\r\n"); /* the client never sends it */
    ah_peer_close(p);
    netlog[0] = '\0';
    tc_connect(&cl, "127.0.0.1", 6379, "GET\r\n");
    uv_timer_init(uv_default_loop(), &give_up);
    uv_timer_start(&give_up, on_give_up, 5000, 0);
    ah_run_until_idle(sim);
    /* the peer's pending reply does not keep the clock running */
    ah_assert_now_ms(sim, 5000);
    assert_log("0 connect 0|0 write 0|5000 give up|5000 close");
}

static void a_late_reply_to_a_client_that_gave_up_is_not_waited_for(void **state)
{
    (void)state;
    ah_assert_passes(NULL, late_reply_after_the_client_gave_up, (void *)1);
    ah_assert_fails_with(NULL, late_reply_after_the_client_gave_up, NULL,
                         "did not finish its script; next step: ah_peer_reply after 10000 ms");
}

/* ---- planted bugs ---- */

static void client_sends(ah_sim *sim, const char *expect, const char *send)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");
    ah_peer_expect(p, expect);
    ah_peer_reply(p, "+OK\r\n");
    ah_peer_close(p);
    tc_connect(&cl, "127.0.0.1", 6379, send);
    ah_run_until_idle(sim);
}

static void wrong_request(ah_sim *sim, void *ctx)
{
    client_sends(sim, "SET k \"v\"\r\n", ctx != NULL ? "SET k \"v\"\r\n" : "SET k \"w\"\r\n");
}

static void unexpected_bytes_show_expected_and_received_escaped(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, wrong_request, NULL,
                         "scripted peer 127.0.0.1:6379: unexpected bytes on connection #1");
    ah_assert_fails_with(NULL, wrong_request, NULL, "expected: \"SET k \\\"v\\\"\\r\\n\"");
    ah_assert_fails_with(NULL, wrong_request, NULL, "received: \"SET k \\\"w\\\"\\r\\n\"");
    ah_assert_fails_with(NULL, wrong_request, NULL, "differ at byte 7");
    ah_assert_fails_with(NULL, wrong_request, NULL, "test_peer.c:");
    ah_assert_passes(NULL, wrong_request, (void *)1);
}

static void too_many_bytes(ah_sim *sim, void *ctx)
{
    client_sends(sim, "GET k\r\n", ctx != NULL ? "GET k\r\n" : "GET k\r\nGET j\r\n");
}

static void bytes_after_the_script_ended_are_reported(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, too_many_bytes, NULL, "received: \"GET j\\r\\n\"");
    ah_assert_fails_with(NULL, too_many_bytes, NULL, "the script's next step is ah_peer_close");
    ah_assert_passes(NULL, too_many_bytes, (void *)1);
}

static void second_connection_scripted(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");
    static tclient c2;

    ah_peer_expect(p, "one");
    ah_peer_close(p);
    ah_peer_next_connection(p);
    ah_peer_expect(p, "two");
    ah_peer_close(p);
    tc_connect(&cl, "127.0.0.1", 6379, "one");
    ah_run_until_idle(sim);
    if (ctx != NULL) {
        tc_connect(&c2, "127.0.0.1", 6379, "two");
        ah_run_until_idle(sim);
    }
}

static void unused_script_fails_at_teardown(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, second_connection_scripted, NULL,
                         "the script for connection #2 (declared in second_connection_scripted "
                         "(test_peer.c:");
    ah_assert_fails_with(NULL, second_connection_scripted, NULL,
                         "was never used: only 1 connection(s) were accepted; it starts with "
                         "ah_peer_expect \"two\"");
    ah_assert_passes(NULL, second_connection_scripted, (void *)1);
}

static void request_half_sent(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "PING\r\n");
    ah_peer_reply(p, "+PONG\r\n");
    ah_peer_close(p);
    tc_connect(&cl, "127.0.0.1", 6379, ctx != NULL ? "PING\r\n" : "PI");
    ah_advance(sim, 10);
    if (ctx == NULL)
        tc_close(&cl);
    ah_run_until_idle(sim);
}

static void unfinished_script_fails_at_teardown(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, request_half_sent, NULL,
                         "the client closed the connection (EOF) on connection #1");
    ah_assert_fails_with(NULL, request_half_sent, NULL, "received so far: \"PI\"");
    ah_assert_passes(NULL, request_half_sent, (void *)1);
}

static void never_connects(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    ah_peer_expect(p, "hi");
    ah_peer_close(p);
    if (ctx != NULL) {
        tc_connect(&cl, "127.0.0.1", 6379, "hi");
        ah_run_until_idle(sim);
    }
}

static void script_of_a_peer_never_reached_fails_at_teardown(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, never_connects, NULL,
                         "the script for connection #1 (declared in never_connects (test_peer.c:");
    ah_assert_passes(NULL, never_connects, (void *)1);
}

static void nested_script(ah_sim *sim, void *ctx)
{
    (void)ctx;
    ah_peer_expect(ah_net_listen(sim, "127.0.0.1:6379"), "hi");
}

static void a_nested_call_records_both_sites(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, nested_script, NULL,
                         "(declared in nested_script (test_peer.c:284)) was never used");
    ah_assert_fails_with(NULL, nested_script, NULL,
                         "ah_peer_expect \"hi\" (in nested_script (test_peer.c:284))");
}

static void step_after_close(ah_sim *sim, void *ctx)
{
    ah_peer *p = ah_net_listen(sim, "127.0.0.1:6379");

    (void)ctx;
    ah_peer_close(p);
    ah_peer_reply(p, "late");
}

static void steps_after_the_end_of_a_script_are_refused(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, step_after_close, NULL,
                         "ah_peer_reply in step_after_close (test_peer.c:");
    ah_assert_fails_with(NULL, step_after_close, NULL, "use ah_peer_next_connection");
}

static void listen_twice(ah_sim *sim, void *ctx)
{
    ah_net_listen(sim, "127.0.0.1:6379");
    if (ctx == NULL)
        ah_net_listen(sim, "127.0.0.1:6379");
}

static void listening_twice_on_an_address_fails(void **state)
{
    (void)state;
    ah_assert_fails_with(NULL, listen_twice, NULL, "something already listens on that address");
    ah_assert_passes(NULL, listen_twice, (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ah_unit_test(peer_answers_an_expected_request),
        ah_unit_test(peer_reply_after_waits_its_delay),
        ah_unit_test(peer_expect_matches_the_bytes_in_any_chunking),
        ah_unit_test(peer_scripts_each_connection_in_turn),
        ah_unit_test(peer_repeat_serves_every_further_connection),
        ah_unit_test(peer_stall_takes_bytes_and_never_answers),
        ah_unit_test(unlisten_refuses_later_connects),
        ah_unit_test(a_late_reply_to_a_client_that_gave_up_is_not_waited_for),
        ah_unit_test(unexpected_bytes_show_expected_and_received_escaped),
        ah_unit_test(bytes_after_the_script_ended_are_reported),
        ah_unit_test(unused_script_fails_at_teardown),
        ah_unit_test(unfinished_script_fails_at_teardown),
        ah_unit_test(script_of_a_peer_never_reached_fails_at_teardown),
        ah_unit_test(steps_after_the_end_of_a_script_are_refused),
        ah_unit_test(a_nested_call_records_both_sites),
        ah_unit_test(listening_twice_on_an_address_fails),
    };
    return ah_run_tests(tests);
}
